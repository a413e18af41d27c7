// A newcomer's first run, end to end in embedded mode with the real small model: `llmtwin up` on an empty
// data folder loads the demo author (bundled sample pages with their credits), the pages go through clean →
// chunk → embed with the real embedder, and a question whose answer is in one page streams an answer from
// SmolLM2-135M-Instruct (in process, prepared by scripts/prepare-models.mjs) whose citations include that
// page's URL — through the gateway with the admin key the first start wrote, as the README shows.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inferencev1 } from '@llmtwin/contracts';
import { defaultLocalModelPath } from '@llmtwin/inference-router';
import { poll } from '@llmtwin/testkit/poll';
import { gatewayClient } from './client.js';
import { DEMO_QUESTION } from './demo.js';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../bin/llmtwin.js');
const VLAE_URL = 'https://12gramsofcarbon.com/p/ilyas-30-papers-to-carmack-vlaes';

/** Collects the JSON lines `llmtwin up --json` prints, and resolves when one matches. */
function jsonLines(child: ChildProcessWithoutNullStreams) {
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  let stderr = '';
  const waiters: {
    match: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // printJson writes indented JSON: a top-level object ends with a line that is just "}".
  let block = '';
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      // Log lines (one JSON object per line) share stdout with the command's own output.
      if (block === '' && text !== '{') continue;
      block += text + '\n';
      if (text !== '}') continue;
      const line = JSON.parse(block) as Record<string, unknown>;
      block = '';
      lines.push(line);
      for (const w of waiters.filter((w) => w.match(line))) w.resolve(line);
    }
  });
  return (match: (l: Record<string, unknown>) => boolean, timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const found = lines.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(
        () => reject(new Error(`no such output line; stderr: ${stderr.slice(-2000)}`)),
        timeoutMs,
      );
      waiters.push({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      child.on('exit', (code) => reject(new Error(`llmtwin exited with ${code}: ${stderr.slice(-2000)}`)));
    });
}

describe('first run: the demo twin answers with the small real model', () => {
  let dataDir: string;
  let twin: ChildProcessWithoutNullStreams;
  let url: string;
  let key: string;

  beforeAll(async () => {
    if (!existsSync(defaultLocalModelPath())) {
      throw new Error(
        `the language model is not prepared at ${defaultLocalModelPath()}: run npm run models:prepare`,
      );
    }
    dataDir = await mkdtemp(path.join(tmpdir(), 'llmtwin-first-run-'));
    twin = spawn(process.execPath, [bin, 'up', '--port', '0', '--data-dir', dataDir, '--json'], {
      // The README's command, on an empty data folder; one thread keeps the tiny model steady beside the tests.
      env: { ...process.env, LLMTWIN_API_KEY: '', LLMTWIN_LLM_BACKENDS: undefined, LLMTWIN_LLM_THREADS: '1' },
      stdio: 'pipe',
    });
    const next = jsonLines(twin);
    const up = await next((l) => l['status'] === 'up', 90_000);
    url = String(up['url']);
    const demo = await next((l) => l['status'] === 'demo-loaded', 120_000);
    expect(demo['demo']).toMatchObject({ authorId: 'demo', job: { state: 'succeeded' } });
    expect((demo['demo'] as { attribution: string[] }).attribution.join('\n')).toContain(
      '12gramsofcarbon.com',
    );
    key = (await readFile(path.join(dataDir, 'admin.key'), 'utf8')).trim();
  }, 240_000);

  afterAll(async () => {
    if (twin && twin.exitCode === null) {
      const exited = new Promise((resolve) => twin.on('exit', resolve));
      twin.kill('SIGTERM');
      await exited;
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('streams an answer from the model whose citations include the page that holds it', async () => {
    const client = gatewayClient(inferencev1.InferenceService, url, key);
    // The pages are indexed in the background after the import: wait until the answer's page is searchable.
    await poll(
      async () => {
        const { chunks } = await client.retrieve({ query: DEMO_QUESTION, authorId: 'demo' });
        return chunks.some((c) => c.url === VLAE_URL);
      },
      { what: 'the demo pages to be indexed', timeoutMs: 180_000, intervalMs: 1_000 },
    );
    const deltas: string[] = [];
    let done: inferencev1.GenerateResponse | undefined;
    for await (const event of client.generateStream({
      query: DEMO_QUESTION,
      authorId: 'demo',
      generation: { maxTokens: 48 },
    })) {
      if (event.event.case === 'delta') deltas.push(event.event.value);
      else if (event.event.case === 'done') done = event.event.value;
    }
    expect(done).toBeDefined();
    // Generated by the model, token by token: several pieces, not one quoted block.
    expect(done!.extractive).toBe(false);
    expect(done!.model).toBe('twin');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(done!.answer);
    expect(done!.answer.trim().length).toBeGreaterThan(0);
    expect(done!.citations.map((c) => c.url)).toContain(VLAE_URL);
    expect(done!.promptTemplateVersion).toBe('twin-answer/v1');
    expect(done!.usage?.completionTokens).toBeGreaterThan(0);
    // The monitoring record holds the same answer and what was retrieved.
    const record = await client.getGeneration({ id: done!.generationId });
    expect(record.generation).toMatchObject({
      answer: done!.answer,
      model: 'twin',
      finishReason: done!.finishReason,
    });
    expect(record.generation!.retrieved.map((r) => r.url)).toContain(VLAE_URL);
  }, 240_000);

  it('answers the README line: llmtwin ask streams the answer and lists the page as a source', async () => {
    const child = spawn(process.execPath, [bin, 'ask', DEMO_QUESTION, '--url', url, '--max-tokens', '32'], {
      env: { ...process.env, LLMTWIN_API_KEY: key, NO_COLOR: '1' },
      stdio: 'pipe',
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(out).toContain(VLAE_URL);
    expect(out).toContain('model twin');
  }, 120_000);
});
