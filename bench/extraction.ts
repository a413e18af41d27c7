// Main-content extraction benchmark. `npm run bench -- extraction <data folder> --out <predictions file>`
// runs our extractor (services/clean) and, on the same pages in the same process, Mozilla Readability on
// jsdom as the baseline, then prints a JSON summary with pages/s for both. Two layouts are understood:
//   aeb:          pages/<id>.html.gz + truth.json {id: {articleBody, url}}  → predictions {id: {articleBody}}
//   trafilatura:  pages/<file>.gz + truth.json {key: {file, with, without}} → predictions {key: text}
// Score the predictions with the set's own scorer, e.g. `node ../shared/bench/score.mjs aeb <predictions>`.
// Options: --baseline-out <file> writes Readability's predictions; --no-baseline skips it (for quick tuning);
// --limit N reads only the first N pages; --repeat N times our extractor N times over all pages and reports
// the fastest pass (the dev machine is shared: the fastest pass is the one least disturbed by others).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { Readability } from '@mozilla/readability';
import { JSDOM, VirtualConsole } from 'jsdom';
import { decodeHtml } from '@llmtwin/html-encoding';
import { extractMainContent } from '../services/clean/src/domain/main-content.js';

const { values, positionals } = parseArgs({
  options: {
    out: { type: 'string' },
    'baseline-out': { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
    limit: { type: 'string' },
    repeat: { type: 'string', default: '1' },
  },
  allowPositionals: true,
});
const dataDir = positionals[0];
if (!dataDir) {
  console.error(
    'usage: npm run bench -- extraction <data folder> [--out file] [--baseline-out file] [--no-baseline]',
  );
  process.exit(2);
}

interface Page {
  key: string;
  url: string;
  bytes: Uint8Array;
}

type TruthEntry = { articleBody?: string; url?: string; file?: string };
const truth = JSON.parse(readFileSync(path.join(dataDir, 'truth.json'), 'utf8')) as Record<
  string,
  TruthEntry
>;
const layout = Object.values(truth).some((t) => typeof t.file === 'string') ? 'trafilatura' : 'aeb';
let keys = Object.keys(truth);
if (values.limit) keys = keys.slice(0, Number(values.limit));
const pages: Page[] = keys.map((key) => {
  const entry = truth[key]!;
  const file = layout === 'aeb' ? `${key}.html.gz` : `${entry.file}.gz`;
  const bytes = gunzipSync(readFileSync(path.join(dataDir, 'pages', file)));
  // The trafilatura set has no URLs; a placeholder keeps relative-link resolution well-defined.
  const url = entry.url ?? `https://example.org/${encodeURIComponent(entry.file ?? key)}`;
  return { key, url, bytes };
});

function toPredictions(texts: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, text] of texts) out[key] = layout === 'aeb' ? { articleBody: text } : text;
  return out;
}

function timed(
  name: string,
  run: (page: Page) => string,
): { texts: Map<string, string>; seconds: number; failures: number } {
  const texts = new Map<string, string>();
  let failures = 0;
  const start = performance.now();
  for (const page of pages) {
    try {
      texts.set(page.key, run(page));
    } catch (err) {
      failures++;
      texts.set(page.key, '');
      console.error(`${name}: ${page.key}: ${(err as Error).message}`);
    }
  }
  return { texts, seconds: (performance.now() - start) / 1000, failures };
}

let ours = timed('ours', (page) => extractMainContent(page.bytes, page.url).text);
for (let pass = 1; pass < Number(values.repeat); pass++) {
  const again = timed('ours', (page) => extractMainContent(page.bytes, page.url).text);
  if (again.seconds < ours.seconds) ours = again;
}
if (values.out) writeFileSync(values.out, JSON.stringify(toPredictions(ours.texts)));

const summary: Record<string, unknown> = {
  set: dataDir,
  layout,
  pages: pages.length,
  ours: {
    seconds: +ours.seconds.toFixed(2),
    pagesPerSecond: +(pages.length / ours.seconds).toFixed(1),
    failures: ours.failures,
    passes: Number(values.repeat),
  },
};

if (!values['no-baseline']) {
  // jsdom reports CSS it cannot parse through the console; that noise is not the benchmark's business.
  const virtualConsole = new VirtualConsole();
  const baseline = timed('readability', (page) => {
    const html = decodeHtml(page.bytes).text;
    const dom = new JSDOM(html, { url: page.url, virtualConsole });
    const article = new Readability(dom.window.document).parse();
    dom.window.close();
    return article?.textContent ?? '';
  });
  if (values['baseline-out'])
    writeFileSync(values['baseline-out'], JSON.stringify(toPredictions(baseline.texts)));
  const speedup = baseline.seconds / ours.seconds;
  summary['readability'] = {
    seconds: +baseline.seconds.toFixed(2),
    pagesPerSecond: +(pages.length / baseline.seconds).toFixed(1),
    failures: baseline.failures,
  };
  summary['speedup'] = +speedup.toFixed(2);
}
console.log(JSON.stringify(summary, null, 2));
