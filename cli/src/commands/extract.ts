// `llmtwin extract <saved-page.html> --url <url>`: run a saved page through the crawlers' parsing, with no
// network, and show the document it would store — the way anyone can check what a page gives.
import { readFile } from 'node:fs/promises';
// The ingest package's entry point does not re-export the extractors yet; this reaches the module directly.
import { ExtractError, extractPage } from '@llmtwin/ingest';
import { bad, bold, dim, printJson } from '../output.js';

export async function extractCommand(opts: { file: string; url: string; json: boolean }): Promise<number> {
  const fail = (message: string): number => {
    if (opts.json) printJson({ error: message, file: opts.file, url: opts.url });
    else console.error(bad(message));
    return 2;
  };
  let url: URL;
  try {
    url = new URL(opts.url);
  } catch {
    return fail(`--url "${opts.url}" is not an absolute URL: give the address the page was saved from`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return fail(`--url must be an http(s) address, not ${url.protocol}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(opts.file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : String(err);
    return fail(`cannot read the saved page ${opts.file}: ${why}`);
  }
  let doc;
  try {
    doc = extractPage(bytes, url.href);
  } catch (err) {
    if (err instanceof ExtractError) return fail(err.message);
    throw err;
  }
  const publishedAt = doc.publishedAt === null ? null : new Date(doc.publishedAt).toISOString();
  const updatedAt = typeof doc.updatedAt === 'number' ? new Date(doc.updatedAt).toISOString() : null;
  const out = {
    title: doc.title,
    subtitle: doc.subtitle ?? null,
    author: doc.author,
    publishedAt,
    updatedAt,
    url: doc.canonicalUrl,
    platform: doc.platform,
    category: doc.category,
    draft: doc.draft,
    tags: doc.tags ?? [],
    externalId: doc.externalId ?? null,
    contentType: doc.rawContentType,
    bytes: doc.raw.byteLength,
  };
  if (opts.json) {
    printJson(out);
    return 0;
  }
  console.log(bold(out.title));
  if (out.subtitle) console.log(dim(out.subtitle));
  console.log(`${'author'.padEnd(10)} ${out.author || dim('(unknown)')}`);
  console.log(`${'published'.padEnd(10)} ${publishedAt ?? dim('(no date)')}${out.draft ? ' (draft)' : ''}`);
  if (updatedAt) console.log(`${'updated'.padEnd(10)} ${updatedAt}`);
  console.log(`${'url'.padEnd(10)} ${out.url}`);
  console.log(`${'platform'.padEnd(10)} ${out.platform} ${dim(out.category)}`);
  if (out.tags.length > 0) console.log(`${'tags'.padEnd(10)} ${out.tags.join(', ')}`);
  console.log(dim(`${out.bytes} bytes, ${out.contentType}`));
  return 0;
}
