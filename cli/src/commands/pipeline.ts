// Feature-pipeline commands: dead letters (list, replay), rebuilding the cleaned snapshot and re-embedding.
import { cleanv1, embedv1 } from '@llmtwin/contracts';
import { deadLetterTopic, type EventBus } from '@llmtwin/ports';
import { createEventBus } from '@llmtwin/ports/adapters';
import path from 'node:path';
import { gatewayClient } from '../client.js';
import { bad, dim, messageJson, ok, printJson } from '../output.js';
import { remote, type RemoteOptions } from './ingest.js';

/** The bus the twin uses: LLMTWIN_EVENT_BUS_URL, or the embedded log in the data folder. */
export function eventBusUrl(options: { bus?: string; dataDir: string }): string {
  return (
    options.bus ?? process.env['LLMTWIN_EVENT_BUS_URL'] ?? `log:${path.resolve(options.dataDir, 'events.db')}`
  );
}

async function withBus<T>(url: string, fn: (bus: EventBus) => Promise<T>): Promise<T> {
  const bus = createEventBus(url);
  try {
    return await fn(bus);
  } finally {
    await bus.close();
  }
}

export async function dlqList(o: {
  topic: string;
  bus?: string;
  dataDir: string;
  json: boolean;
}): Promise<number> {
  const letters = await withBus(eventBusUrl(o), (bus) => bus.deadLetters(o.topic, { limit: 1000 }));
  if (o.json) {
    printJson(
      letters.map((l) => ({
        topic: l.originalTopic,
        partition: l.originalPartition,
        offset: l.originalOffset,
        key: l.message.key,
        group: l.group,
        error: l.error,
      })),
    );
    return 0;
  }
  if (letters.length === 0) console.log(ok(`no dead letters in ${deadLetterTopic(o.topic)}`));
  for (const l of letters) {
    console.log(
      `${l.originalTopic}[${l.originalPartition}]@${l.originalOffset}  ${l.message.key}  ${dim(l.group)}`,
    );
    console.log(dim(`  ${l.error}`));
  }
  return 0;
}

export async function dlqReplay(o: {
  topic: string;
  bus?: string;
  dataDir: string;
  group?: string;
  json: boolean;
}): Promise<number> {
  const n = await withBus(eventBusUrl(o), (bus) =>
    bus.replayDeadLetters(o.topic, o.group ? { group: o.group } : {}),
  );
  if (o.json) printJson({ topic: o.topic, replayed: n });
  else console.log(ok(`${n} dead letters put back on ${o.topic}`));
  return 0;
}

export const reprocess = (o: RemoteOptions & { author?: string }) =>
  remote(o, async () => {
    const res = await gatewayClient(cleanv1.CleanService, o.url, o.apiKey).reprocess({
      authorId: o.author ?? '',
    });
    if (o.json) printJson(messageJson(cleanv1.ReprocessResponseSchema, res));
    else console.log(ok(`${res.documentsQueued} documents queued for cleaning again`));
    return 0;
  });

export const reindex = (o: RemoteOptions & { wait: boolean }) =>
  remote(o, async () => {
    const client = gatewayClient(embedv1.EmbedService, o.url, o.apiKey);
    let current = (await client.startReindex({})).reindex!;
    const tty = process.stderr.isTTY && !o.json;
    while (o.wait && current.state === embedv1.ReindexState.RUNNING) {
      await new Promise((r) => setTimeout(r, 500));
      current = (await client.getReindex({ id: current.id })).reindex!;
      if (tty) process.stderr.write(`\r${current.documentsDone}/${current.documentsTotal} documents`);
    }
    if (tty) process.stderr.write('\n');
    if (o.json) printJson(messageJson(embedv1.ReindexSchema, current));
    else if (current.state === embedv1.ReindexState.FAILED)
      console.log(bad(`re-embedding failed: ${current.error}`));
    else
      console.log(
        ok(`re-embedding ${current.id}: ${current.chunksEmbedded} chunks into ${current.targetCollection}`),
      );
    return current.state === embedv1.ReindexState.FAILED ? 1 : 0;
  });
