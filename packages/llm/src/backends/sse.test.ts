import { describe, expect, it } from '@jest/globals';
import { errorMessage, parseSse, statusKind, type SseEvent } from './sse.js';

const enc = new TextEncoder();

async function* chunks(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield p;
}

async function parse(parts: Uint8Array[]): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const ev of parseSse(chunks(parts))) out.push(ev);
  return out;
}

/** The same bytes cut into pieces of `size` bytes. */
const cut = (bytes: Uint8Array, size: number): Uint8Array[] => {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(bytes.slice(i, i + size));
  return parts;
};

describe('parseSse', () => {
  const stream =
    '\uFEFF: a comment, then an OpenAI-style chunk\r\n' +
    'data: {"a":1}\r\n\r\n' +
    'event: update\nid: 7\ndata:first line\ndata: second line\n\n' +
    ':\n\n' +
    'data: café ✓ 𝄞\r\r' +
    'data\n\n' +
    'data: [DONE]\n\n';
  const expected: SseEvent[] = [
    { event: 'message', data: '{"a":1}' },
    { event: 'update', data: 'first line\nsecond line', id: '7' },
    { event: 'message', data: 'café ✓ 𝄞', id: '7' },
    { event: 'message', data: '', id: '7' },
    { event: 'message', data: '[DONE]', id: '7' },
  ];

  it('parses events with LF, CRLF and CR endings, comments, multi-line data, a BOM and ids', async () => {
    expect(await parse([enc.encode(stream)])).toEqual(expected);
  });

  it('gives the same events whatever the chunk boundaries, even inside CRLF and multi-byte characters', async () => {
    const bytes = enc.encode(stream);
    for (const size of [1, 2, 3, 5, 7, 16]) {
      expect(await parse(cut(bytes, size))).toEqual(expected);
    }
    for (let at = 1; at < bytes.length; at++) {
      expect(await parse([bytes.slice(0, at), bytes.slice(at)])).toEqual(expected);
    }
  });

  it('keeps a last event whose blank line never came, and drops a cut-off line', async () => {
    expect(await parse([enc.encode('data: one\n\ndata: two\n')])).toEqual([
      { event: 'message', data: 'one' },
      { event: 'message', data: 'two' },
    ]);
    expect(await parse([enc.encode('data: one\n\ndata: {"partial')])).toEqual([
      { event: 'message', data: 'one' },
    ]);
    // A CR as the very last byte ends the line (it is not waiting for an LF that will never come).
    expect(await parse([enc.encode('data: one\r\rdata: two\r')])).toEqual([
      { event: 'message', data: 'one' },
      { event: 'message', data: 'two' },
    ]);
    expect(await parse([enc.encode('event: x\nid: 1\ndata: a\ndata: {"partial')])).toEqual([]);
    // The blank line is a CR that ends one chunk: only the next byte tells it from half a CRLF.
    expect(await parse([enc.encode('data: one\n\r'), enc.encode('data: {"partial')])).toEqual([
      { event: 'message', data: 'one' },
    ]);
  });

  it('reads TGI-style events without a space after the colon', async () => {
    expect(await parse([enc.encode('data:{"token":{"id":1}}\n\n')])).toEqual([
      { event: 'message', data: '{"token":{"id":1}}' },
    ]);
  });
});

describe('statusKind', () => {
  it('tells retryable statuses from refusals', () => {
    expect([429, 500, 502, 503, 504].map(statusKind)).toEqual(Array(5).fill('unavailable'));
    expect([400, 401, 403, 404, 413, 422, 501].map(statusKind)).toEqual(Array(7).fill('rejected'));
    expect(statusKind(408)).toBe('timeout');
  });
});

describe('errorMessage', () => {
  it('finds the message in the error bodies of OpenAI, TGI, vLLM and proxies', () => {
    expect(errorMessage('{"error":{"message":"bad","type":"invalid_request_error"}}')).toBe('bad');
    expect(errorMessage('{"error":"Input validation error","error_type":"validation"}')).toBe(
      'Input validation error',
    );
    expect(errorMessage('{"object":"error","message":"too long","code":400}')).toBe('too long');
    expect(errorMessage('{"detail":"Not Found"}')).toBe('Not Found');
    expect(errorMessage('<html><h1>503 Service Unavailable</h1></html>')).toBe('503 Service Unavailable');
  });
});
