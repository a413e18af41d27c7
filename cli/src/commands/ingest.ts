// Data-collection commands: authors, sources, crawl, import — through the gateway, with progress bars.
import { timestampMs, type Timestamp } from '@bufbuild/protobuf/wkt';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { codeFromHttpStatus } from '@connectrpc/connect/protocol-connect';
import { ingestv1 } from '@llmtwin/contracts';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { KEY_SOURCES } from '../api-key.js';
import { gatewayClient } from '../client.js';
import { bad, bold, dim, messageJson, ok, printJson } from '../output.js';

export interface RemoteOptions {
  url: string;
  json: boolean;
  apiKey?: string;
}

const client = (o: RemoteOptions) => gatewayClient(ingestv1.IngestService, o.url, o.apiKey);

/** Runs a command, turning RPC errors into one clear line (or JSON) and an exit code. */
export async function remote(o: RemoteOptions, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    let message =
      err instanceof ConnectError ? err.rawMessage : err instanceof Error ? err.message : String(err);
    if (err instanceof ConnectError && err.code === Code.Unauthenticated) {
      message += o.apiKey ? '' : ` (the CLI sends the key from ${KEY_SOURCES}: none was found)`;
    }
    if (o.json) printJson({ error: message });
    else console.error(bad(message));
    return err instanceof ConnectError ? 1 : 2;
  }
}

export const authorCreate = (o: RemoteOptions & { name: string; id?: string }) =>
  remote(o, async () => {
    const res = await client(o).createAuthor({ displayName: o.name, id: o.id ?? '' });
    if (o.json) printJson(messageJson(ingestv1.CreateAuthorResponseSchema, res));
    else console.log(ok(`author ${bold(res.author!.id)} created`));
    return 0;
  });

export interface ScheduleOptions {
  every?: number;
  cron?: string;
  tz?: string;
  jitter?: number;
  /** Seconds between scheduled full crawls (0: only on demand); unset: the service's default (weekly). */
  fullEvery?: number;
}

export const sourceAdd = (
  o: RemoteOptions & ScheduleOptions & { author: string; sourceUrl: string; ref?: string },
) =>
  remote(o, async () => {
    const res = await client(o).addSource({
      authorId: o.author,
      url: o.sourceUrl,
      scheduleIntervalSeconds: BigInt(o.every ?? 0),
      cron: o.cron ?? '',
      timeZone: o.tz ?? '',
      jitterSeconds: BigInt(o.jitter ?? 0),
      ...(o.fullEvery !== undefined ? { fullCrawlIntervalSeconds: BigInt(o.fullEvery) } : {}),
      gitRef: o.ref ?? '',
    });
    if (o.json) {
      printJson(messageJson(ingestv1.AddSourceResponseSchema, res));
      return 0;
    }
    const s = res.source!;
    console.log(ok(`source ${bold(s.id)} added: ${s.url}`));
    console.log(dim(`  ${scheduleText(s)}`));
    // Said at once, so nobody waits for a crawl to find out that it cannot bring everything.
    if (s.coverage?.partial) console.log(`  coverage: partial: ${s.coverage.note}`);
    else if (s.coverage?.note) console.log(dim(`  coverage: ${s.coverage.note}`));
    if (s.coverage?.importHint) console.log(`  ${s.coverage.importHint.replace('<id>', s.authorId)}`);
    return 0;
  });

const when = (t: Timestamp | undefined) => (t ? new Date(timestampMs(t)).toISOString() : '—');

function scheduleText(s: ingestv1.Source): string {
  const jitter = s.jitterSeconds > 0n ? ` (+ up to ${s.jitterSeconds}s jitter)` : '';
  const base = s.cron
    ? `cron "${s.cron}" ${s.timeZone || 'UTC'}${jitter}`
    : s.scheduleIntervalSeconds > 0n
      ? `every ${s.scheduleIntervalSeconds}s${jitter}`
      : 'on demand';
  if (s.paused) return `${base}, paused`;
  if (!s.cron && s.scheduleIntervalSeconds === 0n) return base;
  const full =
    s.fullCrawlIntervalSeconds > 0n
      ? `full crawl every ${s.fullCrawlIntervalSeconds}s`
      : 'full crawls on demand';
  return `${base}, next ${when(s.nextCrawlTime)}; ${full}`;
}

export const sourceList = (o: RemoteOptions & { author?: string }) =>
  remote(o, async () => {
    const res = await client(o).listSources({ authorId: o.author ?? '', page: { pageSize: 500 } });
    if (o.json) {
      printJson(messageJson(ingestv1.ListSourcesResponseSchema, res));
      return 0;
    }
    if (res.sources.length === 0) console.log(dim('no sources yet: llmtwin source add --author <id> <url>'));
    for (const s of res.sources) {
      console.log(`${bold(s.id)}  ${s.authorId}  ${s.url}`);
      console.log(`  schedule      ${scheduleText(s)}`);
      console.log(`  last success  ${when(s.lastSuccessTime)}`);
      if (s.consecutiveFailures > 0n)
        console.log(
          bad(`  failing since ${when(s.failingSince)} (${s.consecutiveFailures} in a row): ${s.lastError}`),
        );
      else if (s.lastError) console.log(dim(`  last error    ${when(s.lastFailureTime)}: ${s.lastError}`));
      console.log(`  documents     ${s.documentCount}`);
      const coverage = s.coverage?.partial ? `partial: ${s.coverage.note}` : (s.coverage?.note ?? '');
      console.log(`  coverage      ${coverage}`);
      if (s.coverage?.partial && s.coverage.importHint)
        console.log(dim(`                ${s.coverage.importHint.replace('<id>', s.authorId)}`));
    }
    return 0;
  });

export const sourcePause = (o: RemoteOptions & { id: string; paused: boolean }) =>
  remote(o, async () => {
    const c = client(o);
    const res = o.paused ? await c.pauseSource({ id: o.id }) : await c.resumeSource({ id: o.id });
    if (o.json) printJson(messageJson(ingestv1.SourceSchema, res.source!));
    else console.log(ok(`source ${o.id} ${o.paused ? 'paused' : 'resumed'}: ${scheduleText(res.source!)}`));
    return 0;
  });

export const sourceRemove = (o: RemoteOptions & { id: string; purge: boolean }) =>
  remote(o, async () => {
    await client(o).removeSource({ id: o.id, purgeDocuments: o.purge });
    if (o.json) printJson({ removed: o.id });
    else console.log(ok(`source ${o.id} removed${o.purge ? ' and its documents deleted' : ''}`));
    return 0;
  });

function bar(done: bigint, total: bigint, width = 28): string {
  const t = total > 0n ? Number(total) : 0;
  const d = Number(done);
  const frac = t > 0 ? Math.min(1, d / t) : 0;
  const filled = Math.round(frac * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${d}/${t || '?'}`;
}

/** Polls a crawl job until it ends, drawing a progress bar on a terminal. */
async function follow(o: RemoteOptions, job: ingestv1.CrawlJob): Promise<number> {
  const c = client(o);
  const finished = new Set([
    ingestv1.CrawlJobState.SUCCEEDED,
    ingestv1.CrawlJobState.PARTIAL,
    ingestv1.CrawlJobState.FAILED,
    ingestv1.CrawlJobState.CANCELLED,
  ]);
  const tty = process.stderr.isTTY && !o.json;
  let current = job;
  while (!finished.has(current.state)) {
    await new Promise((r) => setTimeout(r, 300));
    current = (await c.getCrawlJob({ id: job.id })).job!;
    if (tty) process.stderr.write(`\r${bar(current.itemsDone, current.itemsTotal)} ${dim(current.url)}`);
  }
  if (tty) process.stderr.write('\n');
  if (o.json) {
    printJson(messageJson(ingestv1.CrawlJobSchema, current));
  } else {
    const line =
      `${current.documentsCreated} new, ${current.documentsUpdated} updated, ` +
      `${current.documentsUnchanged} unchanged, ${current.documentsTombstoned} deleted`;
    console.log(current.state === ingestv1.CrawlJobState.SUCCEEDED ? ok(line) : bad(line));
    for (const e of current.errors.slice(0, 20)) console.log(dim(`  ${e.url}: ${e.message}`));
  }
  return current.state === ingestv1.CrawlJobState.SUCCEEDED ? 0 : 1;
}

export const crawl = (
  o: RemoteOptions & { target: string; author?: string; wait: boolean; full?: boolean },
) =>
  remote(o, async () => {
    const isSource = o.target.startsWith('src_');
    if (!isSource && !o.author) {
      throw new Error('crawling a URL needs --author <id> (or give a source id, src_…)');
    }
    const res = await client(o).crawlNow({
      target: isSource ? { case: 'sourceId', value: o.target } : { case: 'url', value: o.target },
      authorId: o.author ?? '',
      full: o.full ?? false,
    });
    if (!o.wait) {
      if (o.json) printJson(messageJson(ingestv1.CrawlNowResponseSchema, res));
      else console.log(ok(`crawl job ${res.job!.id} started`));
      return 0;
    }
    return follow(o, res.job!);
  });

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;

/**
 * Streams a file to the gateway's POST /v1/archives and returns the import job. The file goes out as it is
 * read, in 256 KiB pieces that wait for the socket (pipe's backpressure), so memory stays flat whatever the
 * archive's size; `progress` hears the bytes sent so far.
 */
function uploadArchive(
  o: RemoteOptions & { author: string },
  file: string,
  size: number,
  progress: (sent: number) => void,
): Promise<ingestv1.UploadArchiveResponse> {
  const url = new URL('v1/archives', o.url.endsWith('/') ? o.url : `${o.url}/`);
  url.searchParams.set('author_id', o.author);
  url.searchParams.set('file_name', path.basename(file));
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const body = createReadStream(file, { highWaterMark: 256 * 1024 });
    const req = transport.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/zip',
        'content-length': size,
        ...(o.apiKey ? { authorization: `Bearer ${o.apiKey}` } : {}),
      },
    });
    let sent = 0;
    body.on('data', (chunk) => {
      sent += chunk.length;
      progress(sent);
    });
    body.on('error', (err) => {
      req.destroy(err);
      reject(err);
    });
    req.on('error', reject);
    req.on('response', (res) => {
      // The answer may come before the whole file went out (a refusal): stop sending.
      body.destroy();
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('error', reject);
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          reject(new ConnectError(`the gateway answered ${res.statusCode} without JSON`, Code.Unknown));
          return;
        }
        if (res.statusCode === 200) {
          resolve(
            fromJson(ingestv1.UploadArchiveResponseSchema, json as JsonValue, { ignoreUnknownFields: true }),
          );
        } else {
          const message = (json as { error?: { message?: string } }).error?.message ?? text;
          reject(new ConnectError(message, codeFromHttpStatus(res.statusCode ?? 500)));
        }
      });
    });
    body.pipe(req);
  });
}

export const importArchive = (o: RemoteOptions & { file: string; author: string; wait: boolean }) =>
  remote(o, async () => {
    const info = await stat(o.file).catch(() => undefined);
    if (!info?.isFile()) throw new Error(`${o.file} is not a file: give the export archive (.zip)`);
    const tty = process.stderr.isTTY && !o.json;
    let shown = -1;
    const res = await uploadArchive(o, o.file, info.size, (sent) => {
      // Redrawn once per whole percent: a terminal needs no more.
      const percent = info.size > 0 ? Math.floor((sent / info.size) * 100) : 100;
      if (!tty || percent === shown) return;
      shown = percent;
      const bar = `[${'█'.repeat(Math.round(percent / 4))}${'░'.repeat(25 - Math.round(percent / 4))}]`;
      process.stderr.write(
        `\r${bar} ${mib(sent)}/${mib(info.size)} ${dim(`uploading ${path.basename(o.file)}`)}`,
      );
    });
    if (tty) process.stderr.write('\n');
    if (!o.wait) {
      if (o.json) printJson(messageJson(ingestv1.UploadArchiveResponseSchema, res));
      else console.log(ok(`import job ${res.job!.id} started`));
      return 0;
    }
    return follow(o, res.job!);
  });
