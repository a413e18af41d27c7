// The source-schedule RPCs through an in-memory Connect transport over the module's own registration, on
// the embedded warehouse and event log; no crawl runs (the scheduler's tick is an hour away and nothing is
// crawled on demand). AddSource with a cron schedule answers its next run and coverage; PauseSource clears
// the next run, ResumeSource restores it; bad schedules are refused with the field to fix.
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Code, type Client } from '@connectrpc/connect';
import { ingestv1 } from '@llmtwin/contracts';
import { createLogger } from '@llmtwin/runtime';
import { openEmbeddedStorage, rejection, routesClient, type EmbeddedStorage } from '@llmtwin/testkit/routes';
import path from 'node:path';
import { createIngestModule } from '../module.js';

const logger = createLogger('source-schedule-routes-test', { level: 'silent' });

describe('IngestService source schedules', () => {
  let storage: EmbeddedStorage | undefined;
  let client: Client<typeof ingestv1.IngestService>;

  beforeAll(async () => {
    storage = await openEmbeddedStorage('source-schedule-routes-');
    const module = await createIngestModule({
      warehouse: storage.warehouse,
      eventBus: storage.bus,
      logger,
      dataDir: path.join(storage.root, 'data'),
      schedulerTickMs: 3_600_000,
      outboxSweepMs: 3_600_000,
    });
    client = routesClient(ingestv1.IngestService, module, logger);
    await client.createAuthor({ id: 'ada', displayName: 'Ada' });
  });

  afterAll(async () => {
    await storage?.close();
  });

  it('adds a cron source with its next run and coverage, pauses and resumes it', async () => {
    const { source } = await client.addSource({
      authorId: 'ada',
      url: 'https://medium.com/@ada',
      cron: '15 6 * * 1',
      timeZone: 'America/New_York',
      jitterSeconds: 600n,
    });
    expect(source).toMatchObject({
      cron: '15 6 * * 1',
      timeZone: 'America/New_York',
      jitterSeconds: 600n,
      paused: false,
      fullCrawlIntervalSeconds: 604_800n,
      coverage: { partial: true, note: expect.stringContaining("Medium's feed") },
    });
    expect(source!.coverage!.importHint).toContain('llmtwin import --author <id> medium-export.zip');
    // Monday 06:15 in New York plus at most ten minutes of jitter.
    const next = new Date(timestampMs(source!.nextCrawlTime!));
    const local = new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/New_York',
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(next);
    expect(local).toMatch(/^Mon 06:(1[5-9]|2[0-4])$/);

    const paused = await client.pauseSource({ id: source!.id });
    expect(paused.source!.paused).toBe(true);
    expect(paused.source!.nextCrawlTime).toBeUndefined();
    const resumed = await client.resumeSource({ id: source!.id });
    expect(resumed.source!.paused).toBe(false);
    expect(timestampMs(resumed.source!.nextCrawlTime!)).toBe(timestampMs(source!.nextCrawlTime!));
    const { sources } = await client.listSources({ authorId: 'ada' });
    expect(sources.find((s) => s.id === source!.id)).toMatchObject({ paused: false, documentCount: 0n });
  });

  it('refuses schedules it cannot follow, naming the field', async () => {
    type Fields = {
      cron?: string;
      timeZone?: string;
      scheduleIntervalSeconds?: bigint;
      jitterSeconds?: bigint;
      fullCrawlIntervalSeconds?: bigint;
    };
    const cases: [Fields, string, RegExp][] = [
      [{ cron: '0 3 * * *', timeZone: 'Mars/Olympus' }, 'time_zone', /not an IANA time zone/],
      [{ cron: 'every day' }, 'cron', /not a cron expression/],
      [{ cron: '0 3 * * *', scheduleIntervalSeconds: 3600n }, 'cron', /cannot both be set/],
      [
        { scheduleIntervalSeconds: 3600n, jitterSeconds: 7200n },
        'jitter_seconds',
        /shorter than the interval/,
      ],
      [
        { scheduleIntervalSeconds: 3600n, fullCrawlIntervalSeconds: 60n },
        'full_crawl_interval_seconds',
        /3600/,
      ],
    ];
    for (const [fields, field, message] of cases) {
      const err = await rejection(
        client.addSource({ authorId: 'ada', url: 'https://ada.substack.com', ...fields }),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(message);
      expect(err.rawMessage.startsWith(field)).toBe(true);
    }
    expect((await rejection(client.pauseSource({ id: 'src_missing' }))).code).toBe(Code.NotFound);
  });
});
