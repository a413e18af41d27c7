// The web console in headless Chromium against the real embedded twin: served from the gateway at `/` with
// its security headers, signing in (a wrong key gets the API's error next to the field), admin pages only for
// admin keys, and every page passing axe's WCAG A/AA checks in light and dark and fitting a phone's width.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  axeViolations,
  describeViolations,
  goTo,
  screenshot,
  signIn,
  startConsoleTwin,
  type ConsoleTwin,
} from './console.fixture.js';

const pages = [
  ['Chat', 'Chat'],
  ['Sources & documents', 'Sources & documents'],
  ['Generations', 'Generations'],
  ['Pipeline', 'Pipeline'],
  ['Training', 'Training'],
] as const;

describe('web console', () => {
  let ct: ConsoleTwin;
  beforeAll(async () => {
    ct = await startConsoleTwin('console-shell-', { args: ['--no-demo'], env: { LLMTWIN_LLM_BACKENDS: '' } });
  }, 240_000);
  afterAll(() => ct?.dispose());

  it('is served at / with a content security policy, and its assets are cached by content hash', async () => {
    const res = await fetch(`${ct.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    const script = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${ct.url}${script}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    // The API still owns every other path.
    const api = await fetch(`${ct.url}/llmtwin.gateway.v1.StatusService/GetStatus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(api.status).toBe(401);
  });

  it('shows the API error next to the key field for a wrong key, and signs in with a right one', async () => {
    const page = await ct.open();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.locator('#api-key-error').textContent()).resolves.toContain('Enter an API key');
    await page.getByLabel('API key').fill('lt_not_a_real_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The second error replaces the first: wait for the API's own answer.
    const error = page.locator('#api-key-error', { hasText: 'Unauthenticated' });
    await error.waitFor();
    expect(await error.textContent()).toMatch(/unknown|revoked|API key/i);
    expect(await page.getByLabel('API key').getAttribute('aria-invalid')).toBe('true');
    await screenshot(page, 'sign-in-error');
    await signIn(page, ct.adminKey);
    expect(await page.getByText('admin', { exact: true }).count()).toBe(1);
    // The key is in session storage, never in the address.
    expect(page.url()).not.toContain(ct.adminKey);
    expect(await page.evaluate(() => sessionStorage.getItem('llmtwin.apiKey'))).toBe(ct.adminKey);
    // A reload keeps the session.
    await page.reload();
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
  });

  it.each(['light', 'dark'] as const)('every page passes axe WCAG A/AA checks (%s)', async (colorScheme) => {
    const page = await ct.open({ colorScheme });
    await signIn(page, ct.adminKey);
    for (const [link, heading] of pages) {
      await goTo(page, link, heading);
      await page.waitForLoadState('networkidle');
      const violations = await axeViolations(page);
      expect(describeViolations(violations)).toBe('');
    }
  });

  it('fits a phone: no page scrolls sideways at 375 px', async () => {
    const page = await ct.open({ viewport: { width: 375, height: 740 } });
    await signIn(page, ct.adminKey);
    for (const [link, heading] of pages) {
      await goTo(page, link, heading);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect({ page: link, overflow }).toEqual({ page: link, overflow: 0 });
    }
  });
});
