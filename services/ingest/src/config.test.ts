// The backoff and failing-source alert settings: defaults, values read from the environment, and bad values
// refused with a message that names the variable and says what is expected.
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@llmtwin/runtime';
import { loadIngestConfig, loadSourceHealthConfig, sourceHealthSettings } from './config.js';
import { backoffDelayMs } from './domain/schedule.js';

const base = { LLMTWIN_WAREHOUSE_URL: 'sqlite::memory:', LLMTWIN_EVENT_BUS_URL: 'log:/tmp/x' };

describe('source health settings', () => {
  it('default to a one-minute base, a one-day cap and a one-day alert', () => {
    expect(sourceHealthSettings(loadSourceHealthConfig({}))).toEqual({
      backoff: { baseMs: 60_000, capMs: 86_400_000 },
      alertAfterMs: 24 * 3600_000,
    });
  });

  it('are read from LLMTWIN_INGEST_* variables, by the service and by embedded mode alike', () => {
    const env = {
      LLMTWIN_INGEST_BACKOFF_BASE_SECONDS: '30',
      LLMTWIN_INGEST_BACKOFF_CAP_SECONDS: '600',
      LLMTWIN_INGEST_ALERT_AFTER_HOURS: '6',
    };
    const settings = sourceHealthSettings(loadSourceHealthConfig(env));
    expect(settings).toEqual({ backoff: { baseMs: 30_000, capMs: 600_000 }, alertAfterMs: 6 * 3600_000 });
    expect(sourceHealthSettings(loadIngestConfig({ ...base, ...env }))).toEqual(settings);
    // 30 s, 60 s, … doubling up to the ten-minute cap.
    expect([1, 2, 3, 5, 6, 20].map((n) => backoffDelayMs(n, settings.backoff) / 1000)).toEqual([
      30, 60, 120, 480, 600, 600,
    ]);
  });

  it('refuse values that are not whole numbers in range, naming the variable', () => {
    for (const [variable, value] of [
      ['LLMTWIN_INGEST_BACKOFF_BASE_SECONDS', '0'],
      ['LLMTWIN_INGEST_BACKOFF_CAP_SECONDS', '1.5'],
      ['LLMTWIN_INGEST_ALERT_AFTER_HOURS', 'a day'],
      ['LLMTWIN_INGEST_ALERT_AFTER_HOURS', '100000'],
    ] as const) {
      expect(() => loadSourceHealthConfig({ [variable]: value })).toThrow(
        new RegExp(`${variable}.*expected an integer`),
      );
    }
  });

  it('refuse a cap below the base', () => {
    const config = loadSourceHealthConfig({
      LLMTWIN_INGEST_BACKOFF_BASE_SECONDS: '3600',
      LLMTWIN_INGEST_BACKOFF_CAP_SECONDS: '60',
    });
    expect(() => sourceHealthSettings(config)).toThrow(ConfigError);
    expect(() => sourceHealthSettings(config)).toThrow(
      /LLMTWIN_INGEST_BACKOFF_CAP_SECONDS.*at least the base/,
    );
  });
});
