// What the console's browser tests share: the real `llmtwin up` (embedded default) on a fresh data folder, and
// Debian's Chromium driven by playwright-core. Each test file starts its own twin and browser.
//
// Screenshots: with LLMTWIN_CONSOLE_SCREENSHOTS=<dir> (e.g. docs/console), `screenshot()` writes PNGs there;
// otherwise it only checks that the page renders to an image.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { findChromium, HOW_TO_GET_CHROMIUM } from '@llmtwin/testkit/chromium';
import {
  disposeTwin,
  readAdminKey,
  startTwin,
  twinUrl,
  type TwinOptions,
  type TwinProcess,
} from '../../../cli/src/test/twin-process.fixture.js';

export interface ConsoleTwin {
  twin: TwinProcess;
  url: string;
  adminKey: string;
  browser: Browser;
  /** A new browser context (own session storage) with a page on the console; closed by dispose(). */
  open(options?: {
    viewport?: { width: number; height: number };
    colorScheme?: 'light' | 'dark';
  }): Promise<Page>;
  dispose(): Promise<void>;
}

/** Flags for Chromium as root on a machine without internet (background fetches are refused, many at a time). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error(`no Chromium for the console's browser tests: ${HOW_TO_GET_CHROMIUM}`);
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
}

/** Starts the twin (demo data unless `args` says otherwise) and a browser. */
export async function startConsoleTwin(prefix: string, options: TwinOptions = {}): Promise<ConsoleTwin> {
  const twin = await startTwin(prefix, options);
  const contexts: BrowserContext[] = [];
  let browser: Browser | undefined;
  try {
    const url = await twinUrl(twin, 180_000);
    const adminKey = await readAdminKey(twin.dataDir);
    browser = await launchChromium();
    const b = browser;
    return {
      twin,
      url,
      adminKey,
      browser: b,
      async open(o = {}) {
        const context = await b.newContext({
          viewport: o.viewport ?? { width: 1280, height: 800 },
          colorScheme: o.colorScheme ?? 'light',
        });
        contexts.push(context);
        const page = await context.newPage();
        await page.goto(url);
        return page;
      },
      async dispose() {
        for (const c of contexts) await c.close().catch(() => undefined);
        await b.close().catch(() => undefined);
        await disposeTwin(twin);
      },
    };
  } catch (err) {
    await browser?.close().catch(() => undefined);
    await disposeTwin(twin);
    throw err;
  }
}

/** Signs in on the sign-in form and waits for the console's navigation. */
export async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Console' }).waitFor();
}

/** Goes to a page of the console by its navigation link and waits for its heading. */
export async function goTo(page: Page, link: string, heading = link): Promise<void> {
  await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: link }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

/** Writes a screenshot to $LLMTWIN_CONSOLE_SCREENSHOTS/<name>.png when set; returns the PNG either way. */
export async function screenshot(page: Page, name: string): Promise<Buffer> {
  const dir = process.env.LLMTWIN_CONSOLE_SCREENSHOTS?.trim();
  if (!dir) return page.screenshot({ fullPage: true });
  await mkdir(dir, { recursive: true });
  return page.screenshot({ fullPage: true, path: path.join(dir, `${name}.png`) });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

let axeSource: string | undefined;
/** Runs axe-core (WCAG 2 A/AA rules) on the page as it is now; returns the violations. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not restrict.
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
}

/** Fails with a readable list when axe finds anything. */
export function describeViolations(violations: AxeViolation[]): string {
  return violations
    .map(
      (v) => `${v.id} (${v.impact ?? '?'}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`,
    )
    .join('\n');
}
