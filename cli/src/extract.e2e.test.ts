// `llmtwin extract` end to end: the real command, spawned, on committed saved pages, checked against the
// values each fixture set's expected data gives; and the two mistakes a user makes (a wrong path, a URL
// that is not one) end with exit code 2 and a message that says what to fix.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repoRoot, 'cli/bin/llmtwin.js');
const fixtures = path.join(repoRoot, 'services/ingest/test/fixtures');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function llmtwin(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function json(run: Run): Record<string, unknown> {
  if (run.code !== 0) throw new Error(`llmtwin exited with ${run.code}: ${run.stderr}${run.stdout}`);
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

// Postlight Parser's asserted values for its saved Medium page.
const MEDIUM = 'medium/postlight-parser/fixtures/medium.com.html';
const postlight = (
  JSON.parse(readFileSync(path.join(fixtures, 'medium/postlight-parser/expected.json'), 'utf8')) as Record<
    string,
    { url: string; title: string; author: string; date_published: string }
  >
)['fixtures/medium.com.html']!;

// defuddle's expected output for a Substack post on a custom domain opens with a JSON block.
const SUBSTACK_DIR = 'substack/kepano-defuddle/tests/';
const SUBSTACK = `${SUBSTACK_DIR}fixtures/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.html`;
const defuddle = JSON.parse(
  /```json\n([\s\S]*?)\n```/.exec(
    readFileSync(
      path.join(
        fixtures,
        `${SUBSTACK_DIR}expected/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.md`,
      ),
      'utf8',
    ),
  )![1]!,
) as { title: string; author: string; published: string };
const SUBSTACK_URL = 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes';

describe('llmtwin extract', () => {
  it('shows the document a saved Medium page gives', async () => {
    const out = json(
      await llmtwin(['extract', path.join(fixtures, MEDIUM), '--url', postlight.url, '--json']),
    );
    expect(out).toMatchObject({
      title: postlight.title,
      author: postlight.author,
      publishedAt: new Date(postlight.date_published).toISOString(),
      // The page's rel=canonical: the publication's custom domain, without the "#.ilwrgwsks" of the URL.
      url: 'https://wtfeconomy.com/wtf-whats-the-future-e52ab9515573',
      platform: 'medium',
      category: 'article',
      draft: false,
    });
    expect(out['publishedAt']).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(out['bytes']).toBe(readFileSync(path.join(fixtures, MEDIUM)).byteLength);
  });

  it('shows the document a saved Substack page gives', async () => {
    const out = json(
      await llmtwin([
        'extract',
        path.join(fixtures, SUBSTACK),
        '--url',
        `${SUBSTACK_URL}?utm_source=x`,
        '--json',
      ]),
    );
    expect(out).toMatchObject({
      title: defuddle.title,
      author: defuddle.author,
      publishedAt: new Date(defuddle.published).toISOString(),
      url: SUBSTACK_URL,
      platform: 'substack',
      category: 'article',
    });
  });

  it('exits 2 naming the file when the saved page does not exist', async () => {
    const missing = path.join(fixtures, 'medium/no-such-page.html');
    const run = await llmtwin(['extract', missing, '--url', 'https://medium.com/@a/b', '--json']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toEqual({
      error: `cannot read the saved page ${missing}: no such file`,
      file: missing,
      url: 'https://medium.com/@a/b',
    });
  });

  it('exits 2 when --url is not an absolute http(s) address', async () => {
    const page = path.join(fixtures, MEDIUM);
    const relative = await llmtwin(['extract', page, '--url', 'medium.com/@a/b']);
    expect(relative.code).toBe(2);
    expect(relative.stderr).toContain('--url "medium.com/@a/b" is not an absolute URL');
    expect(relative.stdout).toBe('');
    const file = await llmtwin(['extract', page, '--url', 'file:///etc/passwd', '--json']);
    expect(file.code).toBe(2);
    expect(JSON.parse(file.stdout)).toMatchObject({ error: '--url must be an http(s) address, not file:' });
  });
});
