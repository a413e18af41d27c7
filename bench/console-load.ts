// The web console's weight and first-load time on the embedded default: the built bundle's sizes (raw and
// gzipped, from gateway/console/dist/build.json), and in Debian's Chromium (playwright-core) how long a cold
// load of `/` takes to show the sign-in form, and a signed-in load to show the chat page, each over fresh
// browser contexts (empty cache) against a real `llmtwin up --no-demo`.
//   npm run bench -- console-load [--runs N] [--out file.json]
import { chromium } from 'playwright-core';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { findChromium, HOW_TO_GET_CHROMIUM } from '@llmtwin/testkit/chromium';
import { disposeTwin, readAdminKey, startTwin, twinUrl } from '../cli/src/test/twin-process.fixture.js';
import { percentile } from './percentiles.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '15' }, out: { type: 'string' } },
});
const runs = Number(values.runs);

const build = JSON.parse(
  await readFile(new URL('../gateway/console/dist/build.json', import.meta.url), 'utf8'),
) as {
  sizes: Record<string, { bytes: number; gzipBytes: number }>;
};
const executablePath = findChromium();
if (!executablePath) throw new Error(`no Chromium: ${HOW_TO_GET_CHROMIUM}`);

const twin = await startTwin('bench-console-', { args: ['--no-demo'], env: { LLMTWIN_LLM_BACKENDS: '' } });
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-sync',
  ],
});
try {
  const url = await twinUrl(twin, 180_000);
  const key = await readAdminKey(twin.dataDir);
  const signInForm: number[] = [];
  const chatPage: number[] = [];
  const transferred: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    // A fresh context: empty cache and session storage, as a first visit.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(url);
    await page.getByLabel('API key').waitFor();
    const form = await page.evaluate(() => performance.now());
    const bytes = await page.evaluate(() =>
      performance
        .getEntriesByType('resource')
        .concat(performance.getEntriesByType('navigation'))
        .reduce((n, e) => n + (e as PerformanceResourceTiming).transferSize, 0),
    );
    // Signed in (key already in the session): a load that checks the key and renders the chat page.
    await page.evaluate((k) => sessionStorage.setItem('llmtwin.apiKey', k), key);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Chat' }).waitFor();
    const chat = await page.evaluate(() => performance.now());
    await context.close();
    if (i === 0) continue; // warm-up: the first load also starts the browser's own services
    signInForm.push(form);
    chatPage.push(chat);
    transferred.push(bytes);
  }
  const ms = (xs: number[]) => ({
    p50: Math.round(percentile(xs, 50)),
    p95: Math.round(percentile(xs, 95)),
    max: Math.round(Math.max(...xs)),
  });
  const result = {
    benchmark: 'console-load',
    runs,
    bundle: build.sizes,
    bundleGzipBytes: Object.values(build.sizes).reduce((n, s) => n + s.gzipBytes, 0),
    transferredBytesFirstLoad: Math.round(percentile(transferred, 50)),
    coldLoadToSignInFormMs: ms(signInForm),
    signedInLoadToChatPageMs: ms(chatPage),
    chromium: browser.version(),
  };
  console.log(JSON.stringify(result, null, 2));
  if (values.out) await writeFile(values.out, JSON.stringify(result, null, 2) + '\n');
} finally {
  await browser.close();
  await disposeTwin(twin);
}
