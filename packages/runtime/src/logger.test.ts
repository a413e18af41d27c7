import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  it('writes one JSON object per line with service, level name, time and message', () => {
    const { lines, destination } = capture();
    createLogger('ingest', { destination }).info({ documentId: 'd1' }, 'stored');
    expect(lines).toEqual([
      expect.objectContaining({ service: 'ingest', level: 'info', documentId: 'd1', msg: 'stored' }),
    ]);
    expect(typeof lines[0]?.time).toBe('string');
  });

  it('redacts credentials wherever they usually hide', () => {
    const { lines, destination } = capture();
    createLogger('gateway', { destination }).info(
      {
        headers: { authorization: 'Bearer abc', 'x-api-key': 'k1', accept: 'json' },
        options: { apiKey: 'k2', password: 'p' },
        token: 't',
      },
      'request',
    );
    const line = lines[0] ?? {};
    expect(line.headers).toEqual({ authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', accept: 'json' });
    expect(line.options).toEqual({ apiKey: '[REDACTED]', password: '[REDACTED]' });
    expect(line.token).toBe('[REDACTED]');
  });

  it('honours the level', () => {
    const { lines, destination } = capture();
    const logger = createLogger('x', { destination, level: 'warn' });
    logger.info('hidden');
    logger.warn('shown');
    expect(lines.map((l) => l.msg)).toEqual(['shown']);
  });
});
