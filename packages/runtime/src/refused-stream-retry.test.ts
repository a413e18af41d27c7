// The retry decision on its own, with a scripted `next` (a fake transport that fails on cue); the real
// refusal by a server at its maximum connection age is in server.test.ts.
import { describe, expect, it } from '@jest/globals';
import { Code, ConnectError, type StreamRequest, type UnaryRequest } from '@connectrpc/connect';
import { createAsyncIterable } from '@connectrpc/connect/protocol';
import { healthv1 } from '@llmtwin/contracts';
import { refusedStreamRetry, wasRefusedStream } from './refused-stream-retry.js';

// What connect-node throws: its own error, wrapping Node's stream error.
const refused = () =>
  new ConnectError(
    'stream error',
    Code.Internal,
    undefined,
    undefined,
    new Error('Stream closed with error code NGHTTP2_REFUSED_STREAM'),
  );

function unary(): UnaryRequest {
  return {
    stream: false,
    method: healthv1.Health.method.check,
    service: healthv1.Health,
    requestMethod: 'POST',
    url: 'http://x/grpc.health.v1.Health/Check',
    signal: new AbortController().signal,
    header: new Headers(),
    contextValues: undefined as never,
    message: { service: 'x' },
  } as unknown as UnaryRequest;
}

describe('refusedStreamRetry', () => {
  it('recognises a refused stream in the error or what it wraps', () => {
    expect(wasRefusedStream(new Error('Stream closed with error code NGHTTP2_REFUSED_STREAM'))).toBe(true);
    expect(wasRefusedStream(new Error('outer', { cause: new Error('http/2 REFUSED_STREAM (0x7)') }))).toBe(
      true,
    );
    expect(wasRefusedStream(new Error('ECONNRESET'))).toBe(false);
    expect(wasRefusedStream('REFUSED_STREAM')).toBe(false);
  });

  it('sends a refused unary call again, and stops after the attempts it was given', async () => {
    let calls = 0;
    const failTwice = refusedStreamRetry(3)(async () => {
      calls++;
      if (calls <= 2) throw new Error('Stream closed with error code NGHTTP2_REFUSED_STREAM');
      return 'answered' as never;
    });
    await expect(failTwice(unary())).resolves.toBe('answered');
    expect(calls).toBe(3);

    calls = 0;
    const alwaysRefused = refusedStreamRetry(3)(async () => {
      calls++;
      throw refused();
    });
    await expect(alwaysRefused(unary())).rejects.toThrow();
    expect(calls).toBe(3);
  });

  it('never repeats a call that failed any other way', async () => {
    let calls = 0;
    const fails = refusedStreamRetry(3)(async () => {
      calls++;
      throw new ConnectError('backend down', Code.Unavailable);
    });
    await expect(fails(unary())).rejects.toThrow('backend down');
    expect(calls).toBe(1);
  });

  it('sends a server-streaming call again with the same request message', async () => {
    const seen: unknown[][] = [];
    const next = refusedStreamRetry(3)(async (req) => {
      const messages: unknown[] = [];
      for await (const m of (req as StreamRequest).message) messages.push(m);
      seen.push(messages);
      if (seen.length === 1) throw new Error('NGHTTP2_REFUSED_STREAM');
      return 'streaming' as never;
    });
    const req = {
      ...unary(),
      stream: true,
      method: healthv1.Health.method.watch,
      message: createAsyncIterable([{ service: 'x' }]),
    } as unknown as StreamRequest;
    await expect(next(req)).resolves.toBe('streaming');
    expect(seen).toEqual([[{ service: 'x' }], [{ service: 'x' }]]);
  });
});
