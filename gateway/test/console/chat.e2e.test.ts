// The console's Chat page in headless Chromium against the real embedded twin with its demo author and the small
// real model (SmolLM2-135M-Instruct, in process): the answer streams into the page token by token, cites its
// sources with numbered links, links to its generation record, copies to the clipboard, survives a reload, and
// stops on Stop; an empty question gets the API's error next to the field; axe passes light and dark.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { gatewayv1, inferencev1 } from '@llmtwin/contracts';
import { tinyLocalModelPath } from '@llmtwin/inference-router';
import { poll } from '@llmtwin/testkit/poll';
import { gatewayClient } from '../../../cli/src/client.js';
import { DEMO_AUTHOR_ID, DEMO_QUESTION } from '../../../cli/src/demo.js';
import {
  axeViolations,
  describeViolations,
  goTo,
  screenshot,
  signIn,
  startConsoleTwin,
  type ConsoleTwin,
} from './console.fixture.js';

/** The demo page that answers DEMO_QUESTION (as in cli/src/first-run.e2e.test.ts). */
const VLAE_URL = 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes';

/** Signs in with the admin key and opens the chat with the demo author picked. */
async function openDemoChat(ct: ConsoleTwin, page: Page): Promise<void> {
  await signIn(page, ct.adminKey);
  await goTo(page, 'Chat');
  await page.getByLabel('Author').selectOption(DEMO_AUTHOR_ID);
}

/** Short answers keep the test short: the page's "Longest answer" option sets generation.max_tokens. */
async function setMaxTokens(page: Page, tokens: string): Promise<void> {
  const field = page.getByLabel('Longest answer (tokens)');
  if (!(await field.isVisible())) await page.getByText('Options', { exact: true }).click();
  await field.fill(tokens);
}

describe('console: Chat', () => {
  let ct: ConsoleTwin;

  beforeAll(async () => {
    if (!existsSync(tinyLocalModelPath())) {
      throw new Error(
        `the language model is not prepared at ${tinyLocalModelPath()}: run npm run models:prepare`,
      );
    }
    // The demo author and the real tiny model (the default one is tested by cli/src/first-run.e2e.test.ts);
    // one thread keeps it steady beside other tests.
    ct = await startConsoleTwin('console-chat-', {
      env: {
        LLMTWIN_API_KEY: '',
        LLMTWIN_LLM_BACKENDS: 'twin=local:SmolLM2-135M-Instruct',
        LLMTWIN_LLM_THREADS: '1',
      },
    });
    await ct.twin.next((l) => l['status'] === 'demo-loaded', 240_000);
    // The pages are indexed in the background after the import: wait until the answer's page is searchable.
    const client = gatewayClient(inferencev1.InferenceService, ct.url, ct.adminKey);
    await poll(
      async () => {
        const { chunks } = await client.retrieve({ query: DEMO_QUESTION, authorId: DEMO_AUTHOR_ID });
        return chunks.some((c) => c.url === VLAE_URL);
      },
      { what: 'the demo pages to be indexed', timeoutMs: 240_000, intervalMs: 1_000 },
    );
  }, 600_000);

  afterAll(() => ct?.dispose());

  it('streams a cited answer, links its record, copies it, keeps it over a reload, and passes axe', async () => {
    const page = await ct.open();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: ct.url });
    await openDemoChat(ct, page);
    await setMaxTokens(page, '48');
    const question = page.getByLabel('Your question');
    await question.fill(DEMO_QUESTION);
    await question.press('Enter');

    // While the answer is written, Stop is offered and the text grows piece by piece.
    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor({ timeout: 30_000 });
    const answerText = page.locator('.chat-turn').last().locator('.chat-answer-text');
    const partials = new Set<string>();
    while (await stop.isVisible()) {
      const text = ((await answerText.textContent().catch(() => null)) ?? '').trim();
      if (text && (await stop.isVisible())) partials.add(text);
      await page.waitForTimeout(25);
    }
    expect(partials.size).toBeGreaterThanOrEqual(2);

    // The record's link comes with the finished answer.
    const built = page.getByRole('link', { name: 'What was this built from?' });
    await built.waitFor({ timeout: 180_000 });
    expect(await built.getAttribute('href')).toMatch(/^#\/generations\/[^/]+$/);
    const turn = page.locator('.chat-turn').last();
    expect(await turn.locator('.error').count()).toBe(0);
    expect(await turn.getByRole('heading', { level: 3 }).textContent()).toContain(DEMO_QUESTION);

    // At least one numbered citation in the answer links to a listed source that has a title.
    const cites = turn.locator('.chat-answer-text a.chat-cite');
    expect(await cites.count()).toBeGreaterThan(0);
    expect(await cites.first().textContent()).toMatch(/^\[\d+\]$/);
    const href = await cites.first().getAttribute('href');
    expect(href).toMatch(/^https?:\/\//);
    const source = turn.getByRole('list', { name: 'Sources' }).locator(`a[href="${href}"]`);
    expect(((await source.textContent()) ?? '').trim().length).toBeGreaterThan(0);
    const sourceUrls = await turn
      .getByRole('list', { name: 'Sources' })
      .getByRole('link')
      .evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    expect(sourceUrls).toContain(VLAE_URL);

    // Copy puts the answer on the clipboard and says so.
    await turn.getByRole('button', { name: 'Copy the answer' }).click();
    await turn.getByRole('status').getByText('Copied').waitFor();
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    const final = ((await answerText.textContent()) ?? '').trim();
    expect(final.length).toBeGreaterThan(0);
    expect(copied.startsWith(final)).toBe(true);

    await screenshot(page, 'chat');
    expect(describeViolations(await axeViolations(page))).toBe('');
    await page.getByLabel('Colour theme').selectOption('dark');
    expect(describeViolations(await axeViolations(page))).toBe('');
    await page.getByLabel('Colour theme').selectOption('light');
    // An answer with its sources fits a phone's width.
    await page.setViewportSize({ width: 375, height: 740 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBe(0);
    await page.setViewportSize({ width: 1280, height: 800 });

    // A reload keeps the conversation (session storage, per author).
    await page.reload();
    await page.getByRole('heading', { level: 3, name: DEMO_QUESTION }).waitFor();
    expect(await page.getByRole('link', { name: 'What was this built from?' }).getAttribute('href')).toBe(
      await built.getAttribute('href'),
    );
  }, 400_000);

  it('shows the API error next to an empty question, and Stop ends an answer with the input usable', async () => {
    const page = await ct.open();
    await openDemoChat(ct, page);
    const question = page.getByLabel('Your question');
    const ask = page.getByRole('button', { name: 'Ask', exact: true });

    await ask.click();
    const error = page.locator('#chat-question-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/query is empty.*InvalidArgument/);
    expect(await question.getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('.chat-turn').count()).toBe(0);

    // A long answer (the default length), stopped once its first words are on the page.
    await question.fill(DEMO_QUESTION);
    await ask.click();
    const stop = page.getByRole('button', { name: 'Stop' });
    await stop.waitFor({ timeout: 30_000 });
    expect(await error.count()).toBe(0);
    await page
      .locator('.chat-turn .chat-answer-text')
      .filter({ hasText: /\S/ })
      .waitFor({ timeout: 180_000 });
    await stop.click();
    await page.getByText('Stopped before the end.').waitFor({ timeout: 30_000 });
    expect(await stop.count()).toBe(0);
    expect(await error.count()).toBe(0);
    expect(await page.locator('[role="alert"]').count()).toBe(0);
    expect(await ask.isEnabled()).toBe(true);

    // A follow-up: Shift+Enter makes a new line, Enter asks, and the earlier turn goes with it as history.
    await setMaxTokens(page, '8');
    await question.fill('And what is a VLAE?');
    await question.press('Shift+Enter');
    await question.pressSequentially('In one line.');
    expect(await question.inputValue()).toBe('And what is a VLAE?\nIn one line.');
    expect(await page.locator('.chat-turn').count()).toBe(1);
    const sent = page.waitForRequest((r) => r.url().endsWith('/GenerateStream'));
    await question.press('Enter');
    const body = (await sent).postDataBuffer()?.toString('utf8') ?? '';
    expect(body).toContain('And what is a VLAE?\\nIn one line.');
    expect(body).toMatch(/"history":\[\{"role":"user","content":"Why would a car classifier/);
    await page.locator('.chat-turn').nth(1).getByRole('link', { name: 'What was this built from?' }).waitFor({
      timeout: 180_000,
    });
    expect(await page.locator('.chat-turn').count()).toBe(2);
    expect(await question.inputValue()).toBe('');
  }, 300_000);

  it("answers as the key's own author for an author key, with no author to pick", async () => {
    const admin = gatewayClient(gatewayv1.AdminService, ct.url, ct.adminKey);
    const { key } = await admin.createApiKey({ authorId: DEMO_AUTHOR_ID, name: 'chat test' });
    const page = await ct.open();
    await signIn(page, key);
    await goTo(page, 'Chat');
    expect(await page.locator('.chat-author-fixed').textContent()).toBe(`Answering as ${DEMO_AUTHOR_ID}`);
    expect(await page.getByLabel('Author').count()).toBe(0);
    await setMaxTokens(page, '16');
    await page.getByLabel('Your question').fill(DEMO_QUESTION);
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
    await page.getByRole('link', { name: 'What was this built from?' }).waitFor({ timeout: 180_000 });
    expect(await page.locator('#chat-question-error').count()).toBe(0);
    expect(((await page.locator('.chat-answer-text').textContent()) ?? '').trim()).not.toBe('');
  }, 300_000);
});
