// Data-collection commands: authors, sources, crawl, import — through the gateway, with progress bars.
import { Code, ConnectError } from '@connectrpc/connect';
import { ingestv1 } from '@llmtwin/contracts';
import { readFile, stat } from 'node:fs/promises';
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

export const sourceAdd = (
  o: RemoteOptions & { author: string; sourceUrl: string; every?: number; ref?: string },
) =>
  remote(o, async () => {
    const res = await client(o).addSource({
      authorId: o.author,
      url: o.sourceUrl,
      scheduleIntervalSeconds: BigInt(o.every ?? 0),
      gitRef: o.ref ?? '',
    });
    if (o.json) printJson(messageJson(ingestv1.AddSourceResponseSchema, res));
    else console.log(ok(`source ${bold(res.source!.id)} added: ${res.source!.url}`));
    return 0;
  });

export const sourceList = (o: RemoteOptions & { author?: string }) =>
  remote(o, async () => {
    const res = await client(o).listSources({ authorId: o.author ?? '', page: { pageSize: 500 } });
    if (o.json) {
      printJson(messageJson(ingestv1.ListSourcesResponseSchema, res));
      return 0;
    }
    if (res.sources.length === 0) console.log(dim('no sources yet: llmtwin source add --author <id> <url>'));
    for (const s of res.sources) {
      const every = s.scheduleIntervalSeconds > 0n ? `every ${s.scheduleIntervalSeconds}s` : 'on demand';
      console.log(`${s.id}  ${s.authorId.padEnd(16)} ${s.url}  ${dim(every)}`);
    }
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

export const crawl = (o: RemoteOptions & { target: string; author?: string; wait: boolean }) =>
  remote(o, async () => {
    const isSource = o.target.startsWith('src_');
    if (!isSource && !o.author) {
      throw new Error('crawling a URL needs --author <id> (or give a source id, src_…)');
    }
    const res = await client(o).crawlNow({
      target: isSource ? { case: 'sourceId', value: o.target } : { case: 'url', value: o.target },
      authorId: o.author ?? '',
    });
    if (!o.wait) {
      if (o.json) printJson(messageJson(ingestv1.CrawlNowResponseSchema, res));
      else console.log(ok(`crawl job ${res.job!.id} started`));
      return 0;
    }
    return follow(o, res.job!);
  });

export const importArchive = (o: RemoteOptions & { file: string; author: string; wait: boolean }) =>
  remote(o, async () => {
    const info = await stat(o.file).catch(() => undefined);
    if (!info?.isFile()) throw new Error(`${o.file} is not a file: give the export archive (.zip)`);
    const content = await readFile(o.file);
    const res = await client(o).importArchive({
      authorId: o.author,
      fileName: path.basename(o.file),
      content,
    });
    if (!o.wait) {
      if (o.json) printJson(messageJson(ingestv1.ImportArchiveResponseSchema, res));
      else console.log(ok(`import job ${res.job!.id} started`));
      return 0;
    }
    return follow(o, res.job!);
  });
