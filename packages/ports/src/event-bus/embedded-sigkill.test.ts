import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from '@jest/globals';
import { EmbeddedEventBus } from './embedded-event-bus.js';
import { runSigkillScenario } from './sigkill-scenario.js';

describe('embedded event bus: a consumer process killed with SIGKILL', () => {
  it('loses nothing, and the next consumer of the group gets again what was not committed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'llmtwin-event-bus-'));
    const file = path.join(dir, 'events.db');
    const bus = new EmbeddedEventBus({ path: file, pollIntervalMs: 50 });
    try {
      // The killed process's partition claims are taken over at once: its pid is gone.
      await runSigkillScenario({ url: `log:${file}`, bus, takeoverTimeoutMs: 20_000 });
    } finally {
      await bus.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});
