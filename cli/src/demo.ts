// The demo author a newcomer can load on a first run: real articles that ship with the repository as test
// fixtures (each set with a SOURCE.md naming where it came from and under which licence), zipped as a
// saved-pages archive and imported through IngestService.ImportArchive like any export, so the demo's
// documents take the normal warehouse → events → pipeline path and can be asked about straight away.
import { Code, ConnectError, type Client } from '@connectrpc/connect';
import { ingestv1 } from '@llmtwin/contracts';
import { SAVED_PAGES_MANIFEST, writeZip, type SavedPagesManifest } from '@llmtwin/ingest';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

export const DEMO_AUTHOR_ID = 'demo';
export const DEMO_AUTHOR_NAME = 'Demo author (bundled sample pages)';
export const DEMO_ARCHIVE_NAME = 'llmtwin-demo-pages.zip';

/** A question one demo page answers (the VLAE review explains why a badly formed embedding space does this). */
export const DEMO_QUESTION = 'Why would a car classifier put school buses next to Ferraris?';

interface DemoPageSpec {
  /** The fixture set: a folder under services/ingest/test/fixtures holding a SOURCE.md. */
  set: string;
  /** The saved page, relative to the set. */
  file: string;
  /** The page's canonical address (what extraction finds in it, and what citations show). */
  url: string;
  title: string;
  author: string;
}

// Substantive articles on varied subjects, from every platform the extractors know; the VLAE review holds
// the answer to DEMO_QUESTION.
const PAGES: readonly DemoPageSpec[] = [
  {
    set: 'substack/kepano-defuddle',
    file: 'tests/fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html',
    url: 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes',
    title: "Ilya's Papers to Carmack: VLAEs",
    author: 'theahura',
  },
  {
    set: 'substack/jocmp-mercury-parser',
    file: 'fixtures/substack.com/1777688784578.html',
    url: 'https://garymarcus.substack.com/p/a-model-that-produces-code-which',
    title:
      '“A model that produces code which compiles and passes the tests it was given is not the same as a ' +
      'model that produces correct, secure, maintainable, well-architected software”',
    author: 'Gary Marcus',
  },
  {
    set: 'medium/postlight-parser',
    file: 'fixtures/medium.com.html',
    url: 'https://wtfeconomy.com/wtf-whats-the-future-e52ab9515573',
    title: 'WTF? What’s The Future?',
    author: "Tim O'Reilly",
  },
  {
    set: 'medium/postlight-parser',
    file: 'fixtures/medium.com--mtg.html',
    url: 'https://humanparts.medium.com/the-mtg-color-wheel-c9700a7cf36d',
    title: 'How the ‘Magic: The Gathering’ Color Wheel Explains Humanity',
    author: 'Duncan A Sabien',
  },
  {
    set: 'medium/postlight-parser',
    file: 'fixtures/medium.com--another.html',
    url: 'https://medium.com/@JakobUlbrich/flag-attributes-in-android-how-to-use-them-ac4ec8aee7d1',
    title: 'Flag Attributes in Android — How to Use Them',
    author: 'Jakob Ulbrich',
  },
  {
    set: 'medium/mozilla-readability',
    file: 'test/test-pages/medium-1/source.html',
    url: 'https://medium.com/@pippinlee/the-open-journalism-project-better-student-journalism-fb39f4f701bb',
    title: 'The Open Journalism Project: Better Student Journalism',
    author: 'Pippin Lee',
  },
  {
    set: 'medium/mozilla-readability',
    file: 'test/test-pages/medium-2/source.html',
    url: 'https://medium.com/@ckirchoff/on-behalf-of-literally-429fab868ca8',
    title: 'On Behalf of “Literally”',
    author: 'Courtney Kirchoff',
  },
  {
    set: 'linkedin/postlight-parser',
    file: 'fixtures/www.linkedin.com.html',
    url: 'https://www.linkedin.com/pulse/what-set-your-soul-fire-2017-ellyn-shook',
    title: 'What will set your soul on fire in 2017',
    author: 'Ellyn Shook',
  },
];

export interface DemoPageSource {
  /** The repository the saved page was taken from. */
  repository: string;
  /** Its licence, as SOURCE.md gives it. */
  licence: string;
}

export interface DemoPage {
  /** Where the saved page is on disk. */
  path: string;
  /** Its path inside the demo archive. */
  archivePath: string;
  url: string;
  title: string;
  author: string;
  source: DemoPageSource;
  /** One line crediting the article and where the saved copy comes from. */
  attribution: string;
}

/** The committed fixtures live beside the ingest service's sources, wherever the workspace put it. */
export function bundledFixturesDir(): string {
  const entry = createRequire(import.meta.url).resolve('@llmtwin/ingest');
  return path.resolve(path.dirname(entry), '../test/fixtures');
}

/** Reads a fixture set's SOURCE.md: "**Source repo:** <url>" and "**Licence:** <spdx> (notes…)". */
export function readFixtureSource(setDir: string): DemoPageSource {
  const text = readFileSync(path.join(setDir, 'SOURCE.md'), 'utf8');
  const field = (name: string) => {
    const value = new RegExp(`^\\*\\*${name}:\\*\\*\\s*(.+?)\\s*$`, 'm').exec(text)?.[1];
    if (!value) throw new Error(`${path.join(setDir, 'SOURCE.md')} names no ${name}`);
    return value;
  };
  // "MIT OR Apache-2.0 (dual; LICENSE-MIT, LICENSE-APACHE). Article text is…" → "MIT OR Apache-2.0".
  const licence = field('Licence')
    .split(/\s+\(|\.\s/)[0]!
    .trim();
  return { repository: field('Source repo'), licence };
}

const slug = (url: string) =>
  (new URL(url).pathname.split('/').filter(Boolean).pop() ?? 'page')
    .replace(/[^A-Za-z0-9-]/g, '')
    .slice(0, 60);

/** The bundled pages the demo author is made of, with where each comes from. */
export function demoPages(fixturesDir = bundledFixturesDir()): DemoPage[] {
  const sources = new Map<string, DemoPageSource>();
  return PAGES.map((spec, index) => {
    const setDir = path.join(fixturesDir, spec.set);
    let source = sources.get(spec.set);
    if (!source) {
      source = readFixtureSource(setDir);
      sources.set(spec.set, source);
    }
    return {
      path: path.join(setDir, spec.file),
      archivePath: `pages/${String(index + 1).padStart(2, '0')}-${slug(spec.url)}.html`,
      url: spec.url,
      title: spec.title,
      author: spec.author,
      source,
      attribution:
        `${spec.title} — ${spec.author}, ${spec.url} (saved copy from ${source.repository}, ` +
        `${source.licence}; article © its author)`,
    };
  });
}

/** The demo pages as a saved-pages zip, in memory, with an ATTRIBUTION.md inside that the importer skips. */
export async function buildDemoArchive(
  fixturesDir = bundledFixturesDir(),
): Promise<{ fileName: string; content: Uint8Array; attribution: string[] }> {
  const pages = demoPages(fixturesDir);
  const manifest: SavedPagesManifest = {
    pages: pages.map((p) => ({ file: p.archivePath, url: p.url })),
  };
  const attribution = pages.map((p) => p.attribution);
  const notice = [
    '# Sample pages of the LLM Twin demo author',
    '',
    'Saved copies of public articles, bundled with LLM Twin as test fixtures. Each article is the work',
    'and copyright of its author; the saved copies come from the repositories named, under their licences.',
    '',
    ...attribution.map((line) => `- ${line}`),
    '',
  ].join('\n');
  const content = await writeZip([
    { name: SAVED_PAGES_MANIFEST, data: JSON.stringify(manifest, null, 2) },
    { name: 'ATTRIBUTION.md', data: notice },
    ...(await Promise.all(pages.map(async (p) => ({ name: p.archivePath, data: await readFile(p.path) })))),
  ]);
  return { fileName: DEMO_ARCHIVE_NAME, content, attribution };
}

type IngestClient = Client<typeof ingestv1.IngestService>;

export type DemoIngestClient = Pick<
  IngestClient,
  'getAuthor' | 'createAuthor' | 'importArchive' | 'getCrawlJob'
>;

export interface LoadDemoOptions {
  /** How often the import job is polled. Default 250 ms. */
  pollIntervalMs?: number;
  /** How long to wait for the import before giving up. Default 5 minutes. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called with the job each time it is polled (for a progress bar). */
  onProgress?: (job: ingestv1.CrawlJob) => void;
  /** Where the bundled fixtures are; default: beside the ingest service. */
  fixturesDir?: string;
}

export type DemoJobState = 'succeeded' | 'partial' | 'failed' | 'cancelled';

export interface DemoJobSummary {
  id: string;
  state: DemoJobState;
  created: number;
  updated: number;
  unchanged: number;
  errors: { url: string; message: string }[];
}

export interface DemoLoadResult {
  authorId: string;
  /** False when the demo author already existed (a second load only refreshes its documents). */
  authorCreated: boolean;
  job: DemoJobSummary;
  attribution: string[];
  question: string;
  /** The page whose text answers the question. */
  answerIn: { title: string; url: string };
}

const FINISHED: Partial<Record<ingestv1.CrawlJobState, DemoJobState>> = {
  [ingestv1.CrawlJobState.SUCCEEDED]: 'succeeded',
  [ingestv1.CrawlJobState.PARTIAL]: 'partial',
  [ingestv1.CrawlJobState.FAILED]: 'failed',
  [ingestv1.CrawlJobState.CANCELLED]: 'cancelled',
};

/**
 * Creates the demo author when absent and imports the bundled pages for it, waiting for the import to end.
 * Safe to repeat: documents have deterministic ids, so a second load stores and emits nothing new.
 */
export async function loadDemoAuthor(
  client: DemoIngestClient,
  options: LoadDemoOptions = {},
): Promise<DemoLoadResult> {
  const signal = options.signal;
  const authorCreated = await ensureDemoAuthor(client, signal);
  const archive = await buildDemoArchive(options.fixturesDir);
  const { job: started } = await client.importArchive(
    { authorId: DEMO_AUTHOR_ID, fileName: archive.fileName, content: archive.content },
    { signal },
  );
  if (!started) throw new Error('the import was not started: ImportArchive returned no job');
  const job = await waitForJob(client, started, options);
  const answer = PAGES[0]!;
  return {
    authorId: DEMO_AUTHOR_ID,
    authorCreated,
    job,
    attribution: archive.attribution,
    question: DEMO_QUESTION,
    answerIn: { title: answer.title, url: answer.url },
  };
}

async function ensureDemoAuthor(client: DemoIngestClient, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await client.getAuthor({ id: DEMO_AUTHOR_ID }, { signal });
    return false;
  } catch (err) {
    if (ConnectError.from(err).code !== Code.NotFound) throw err;
  }
  try {
    await client.createAuthor({ id: DEMO_AUTHOR_ID, displayName: DEMO_AUTHOR_NAME }, { signal });
    return true;
  } catch (err) {
    // Another client created it in between: the author is there, which is all that matters.
    if (ConnectError.from(err).code === Code.AlreadyExists) return false;
    throw err;
  }
}

async function waitForJob(
  client: DemoIngestClient,
  started: ingestv1.CrawlJob,
  options: LoadDemoOptions,
): Promise<DemoJobSummary> {
  const interval = options.pollIntervalMs ?? 250;
  const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  let job = started;
  for (;;) {
    options.onProgress?.(job);
    const state = FINISHED[job.state];
    if (state) {
      return {
        id: job.id,
        state,
        created: Number(job.documentsCreated),
        updated: Number(job.documentsUpdated),
        unchanged: Number(job.documentsUnchanged),
        errors: job.errors.map((e) => ({ url: e.url, message: e.message })),
      };
    }
    if (Date.now() > deadline) {
      throw new Error(`the demo import (job ${job.id}) did not finish in time; see llmtwin status`);
    }
    await sleep(interval, options.signal);
    const { job: current } = await client.getCrawlJob({ id: started.id }, { signal: options.signal });
    if (!current) throw new Error(`crawl job ${started.id} disappeared`);
    job = current;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * True on a fresh installation: no sources but the demo's own pages, and no author but the demo one. Then the twin has
 * nothing of its own to talk about, and the demo author gives it something.
 */
export async function shouldOfferDemo(
  client: Pick<IngestClient, 'listAuthors' | 'listSources'>,
  options: { signal?: AbortSignal } = {},
): Promise<boolean> {
  // The demo's own pages arrive as an archive source of the demo author: that one does not count.
  const { sources } = await client.listSources({ authorId: '', page: { pageSize: 2 } }, options);
  const demoPages = `archive:${DEMO_ARCHIVE_NAME}`;
  if (sources.some((s) => !(s.authorId === DEMO_AUTHOR_ID && s.url === demoPages))) return false;
  // Ids are unique, so among any two authors at least one is not the demo author.
  const { authors } = await client.listAuthors({ page: { pageSize: 2 } }, options);
  return authors.every((a) => a.id === DEMO_AUTHOR_ID);
}
