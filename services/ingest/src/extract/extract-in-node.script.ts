// Runs extractPage outside Jest for the tests: jsdom 27 require()s ES modules, which Node 20 loads but
// Jest's module registry cannot. Reads [{ file, url }] as JSON on stdin, writes the documents' metadata.
import { readFileSync } from 'node:fs';
import { extractPage } from './extract-page.js';

const requests = JSON.parse(readFileSync(0, 'utf8')) as { file: string; url: string }[];
const results = requests.map(({ file, url }) => {
  try {
    const doc = extractPage(new Uint8Array(readFileSync(file)), url);
    const { raw, ...rest } = doc;
    return { ok: true as const, doc: { ...rest, rawBytes: raw.byteLength } };
  } catch (err) {
    return { ok: false as const, error: err instanceof Error ? err.message : String(err) };
  }
});
process.stdout.write(JSON.stringify(results));
