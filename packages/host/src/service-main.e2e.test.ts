// A service started alone without its configuration fails fast, naming every variable to fix, instead of
// starting half-configured.
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function runMain(
  service: string,
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  const main = path.join(repoRoot, 'services', service, 'src/main.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', OTEL_SDK_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

describe('a service started alone', () => {
  it('lists every missing or invalid variable and exits 1', async () => {
    const { code, output } = await runMain('embed', { PORT: 'eighty' });
    expect(code).toBe(1);
    expect(output).toContain('LLMTWIN_EVENT_BUS_URL');
    expect(output).toContain('LLMTWIN_VECTOR_STORE_URL');
    expect(output).toContain('PORT');
  }, 30_000);

  it('refuses an adapter URL it does not know, saying which forms it accepts', async () => {
    const { code, output } = await runMain('chunk', {
      LLMTWIN_WAREHOUSE_URL: 'sqlite::memory:',
      LLMTWIN_EVENT_BUS_URL: 'rabbitmq://localhost',
      PORT: '0',
    });
    expect(code).toBe(1);
    expect(output).toMatch(/kafka:\/\//);
    expect(output).toMatch(/log:/);
  }, 30_000);
});
