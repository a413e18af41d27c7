// Helpers for the adapter tests (openai-backend, tgi-backend, local-backend .test.ts): reading a chat
// stream to its end or to its failure. Not itself a test file (jest.config.js matches *.test.ts only).
import { LlmError, type ChatEvent, type ChatRequest } from '../llm.port.js';

/** A system prompt and one question. */
export const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  messages: [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content },
  ],
  maxTokens: 64,
  ...extra,
});

/** Reads a stream to its end; fails if anything follows the `end` event. */
export async function collect(events: AsyncIterable<ChatEvent>) {
  const deltas: string[] = [];
  let end: Extract<ChatEvent, { type: 'end' }> | undefined;
  for await (const ev of events) {
    if (end) throw new Error('an event came after end');
    if (ev.type === 'delta') deltas.push(ev.text);
    else end = ev;
  }
  return { deltas, text: deltas.join(''), end };
}

/** Collects until the stream throws; returns the error and the deltas that came first. */
export async function failure(events: AsyncIterable<ChatEvent>) {
  const deltas: string[] = [];
  try {
    for await (const ev of events) if (ev.type === 'delta') deltas.push(ev.text);
  } catch (err) {
    return { err, deltas };
  }
  throw new Error(`expected the stream to fail, it gave "${deltas.join('')}"`);
}

export const kindOf = (err: unknown) =>
  err instanceof LlmError ? err.kind : `not an LlmError: ${String(err)}`;
