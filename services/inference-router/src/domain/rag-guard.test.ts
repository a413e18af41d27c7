// The repetition guard and the extractive fallback, through RagService. The models here are scripted
// in-memory backends (fakes): one that loops forever, as small models do, and one that answers without a
// citation; a real model's answers are checked in rag-pipeline.e2e.test.ts and measured by bench/qa.ts.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { pino } from 'pino';
import type { ChatEvent, ChatRequest, LlmBackend } from '@llmtwin/llm';
import { GenerationStore } from './generations.js';
import { RagService, type GenerationResult, type RagDeps } from './rag.js';
import { citedSources, RepetitionDetector, repeatsSpan } from './repetition.js';
import type { Passage } from './retrieve.js';

const passages: Passage[] = [
  {
    chunkId: 'c1',
    documentId: 'd1',
    text: 'Sourdough needs a starter that is fed with flour and water every day. A lively starter doubles in six hours.',
    score: 0.9,
    title: 'Baking bread',
    url: 'https://example.com/bread',
    category: 1,
    platform: 1,
  },
];

/** A fake backend that loops: the same sentence, forever, until its consumer stops reading. */
class LoopingFakeBackend implements LlmBackend {
  readonly kind = 'openai' as const;
  readonly endpoint = 'looping-fake';
  readonly model = 'looper';
  readonly requests: ChatRequest[] = [];
  /** Set when the stream was closed from outside (the guard), as a server's generation would be cancelled. */
  stopped = false;
  emitted = 0;
  async *chat(request: ChatRequest): AsyncIterable<ChatEvent> {
    this.requests.push(request);
    try {
      yield { type: 'delta', text: 'I feed my starter every day [1]. ' };
      for (;;) {
        for (const word of 'It is the best way to bake bread at home. '.split(/(?<= )/)) {
          this.emitted++;
          yield { type: 'delta', text: word };
        }
        // A broken guard would spin forever here: fail loudly instead.
        if (this.emitted > 10_000) throw new Error('the guard did not stop the loop');
      }
    } finally {
      this.stopped = true;
    }
  }
  health = async () => {};
  close = async () => {};
}

/** A fake backend that answers once with a fixed text. */
class FixedFakeBackend implements LlmBackend {
  readonly kind = 'openai' as const;
  readonly endpoint = 'fixed-fake';
  readonly model = 'fixed';
  constructor(private readonly text: string) {}
  async *chat(): AsyncIterable<ChatEvent> {
    for (const piece of this.text.split(/(?<= )/)) yield { type: 'delta', text: piece };
    yield { type: 'end', finishReason: 'stop' };
  }
  health = async () => {};
  close = async () => {};
}

describe('the repetition guard and the extractive fallback', () => {
  let dir: string;
  let warehouse: Warehouse;
  let store: GenerationStore;
  const make = (backend: LlmBackend, extra: Partial<RagDeps> = {}) =>
    new RagService({
      search: async () => passages,
      store,
      logger: pino({ level: 'silent' }),
      llm: {
        resolve: () => backend,
        models: () => [{ id: backend.model, backend: 'openai', endpoints: [], healthy: true }],
        hasModels: () => true,
      },
      ...extra,
    });
  const ask = async (rag: RagService) => {
    const deltas: string[] = [];
    let done: GenerationResult | undefined;
    for await (const e of rag.generate({ query: 'How often do you feed the starter?', authorId: 'a1' })) {
      if ('delta' in e) deltas.push(e.delta);
      if ('done' in e) done = e.done;
    }
    return { deltas, done: done! };
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-guard-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    store = new GenerationStore(warehouse);
    await store.init();
  });
  afterEach(async () => {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('stops a looping stream, says so in the finish reason, and answers with quotes instead', async () => {
    const backend = new LoopingFakeBackend();
    const { deltas, done } = await ask(make(backend));
    expect(backend.stopped).toBe(true);
    expect(done.finishReason).toBe('repetition');
    expect(done.fallback).toBe('repetition');
    expect(done.extractive).toBe(true);
    // The withdrawn answer ends where the loop was caught: its sentence twice, not hundreds of times.
    expect(done.modelAnswer!.match(/best way to bake bread/g)!.length).toBe(2);
    expect(done.answer).toMatch(/^The model's answer began to repeat itself, so it is not shown/);
    expect(done.answer).toContain(
      '“Sourdough needs a starter that is fed with flour and water every day.” [1]',
    );
    // A streaming client saw the model's text, then a blank line and the same quotes.
    expect(deltas.join('')).toBe(`${done.modelAnswer}\n\n${done.answer}`);
    const record = await store.get(done.generationId);
    expect(record).toMatchObject({
      finishReason: 'repetition',
      fallback: 'repetition',
      answer: done.answer,
      modelAnswer: done.modelAnswer,
    });
  });

  it('lets the loop run to max_tokens when the guard is off', async () => {
    const backend = new LoopingFakeBackend();
    const rag = make(backend, { answers: { repeatSpanWords: 0, fallback: false } });
    // Without the guard only the consumer can stop it: read a bounded number of deltas.
    let n = 0;
    for await (const e of rag.generate({ query: 'starter?', authorId: 'a1' })) {
      if ('delta' in e && ++n === 500) break;
    }
    expect(n).toBe(500);
  });

  it('replaces an answer that cites no source, and keeps one that does', async () => {
    const uncited = await ask(make(new FixedFakeBackend('School buses are a type of transportation.')));
    expect(uncited.done).toMatchObject({ finishReason: 'stop', fallback: 'no_citations', extractive: true });
    expect(uncited.done.answer).toMatch(/^The model's answer cited none of the sources/);
    expect(uncited.done.modelAnswer).toBe('School buses are a type of transportation.');

    const cited = await ask(make(new FixedFakeBackend('Every day, with flour and water [1].')));
    expect(cited.done).toMatchObject({ finishReason: 'stop', extractive: false });
    expect(cited.done.fallback).toBeUndefined();
    expect(cited.done.answer).toBe('Every day, with flour and water [1].');
  });

  it('names the sources of an uncited answer made of their words, instead of replacing it', async () => {
    const text =
      'My sourdough starter is fed with flour and water every day. A lively starter doubles in six hours.';
    const { deltas, done } = await ask(make(new FixedFakeBackend(text)));
    expect(done).toMatchObject({ finishReason: 'stop', extractive: false, citationsAttributed: true });
    expect(done.fallback).toBeUndefined();
    expect(done.answer).toBe(`${text} [1]`);
    // Streamed like the rest: what a streaming client saw is the answer.
    expect(deltas.join('')).toBe(done.answer);
    expect(await store.get(done.generationId)).toMatchObject({
      answer: done.answer,
      citationsAttributed: true,
    });

    // Off: the same answer gives way to quotes, as one that cites nothing.
    const off = await ask(make(new FixedFakeBackend(text), { answers: { attribution: false } }));
    expect(off.done).toMatchObject({ fallback: 'no_citations', extractive: true });
    expect(off.done.citationsAttributed).toBeUndefined();
  });

  it('attaches no sources to an answer mostly made up', async () => {
    // One sentence of two is found in the source: credited. One of three: withdrawn.
    const half =
      'A starter is fed with flour and water every day. Rye bakers swear by cold proofing overnight.';
    expect((await ask(make(new FixedFakeBackend(half)))).done.answer).toBe(`${half} [1]`);
    const third = `${half} Croissants need laminated butter folded many times.`;
    const made = await ask(make(new FixedFakeBackend(third)));
    expect(made.done).toMatchObject({ fallback: 'no_citations', modelAnswer: third });
  });

  it('sends the configured decoding penalties with the answer request', async () => {
    const backend = new LoopingFakeBackend();
    await ask(make(backend, { answers: { penalties: { repeat: 1.15, dry: 0.8 } } }));
    expect(backend.requests[0]!.penalties).toEqual({ repeat: 1.15, dry: 0.8 });
  });
});

describe('RepetitionDetector', () => {
  it('finds a span repeated across delta boundaries, words split in half included', () => {
    const d = new RepetitionDetector(4);
    expect(d.push('one two thr')).toBe(false);
    expect(d.push('ee four five. One Two ')).toBe(false);
    expect(d.push('three fo')).toBe(false);
    expect(d.push('ur')).toBe(false);
    // "four" is complete only once something follows it (or the text ends).
    expect(d.end()).toBe(true);
    expect(d.repeatedSpan).toBe('one two three four');
  });

  it('ignores citation numbers and case, and passes prose that never repeats 12 words', () => {
    expect(repeatsSpan('a b c d e [1] A B C D E [2]', 5)).toBe(true);
    const prose =
      'I feed the starter every day. When it doubles, I bake; when it does not, I wait. ' +
      'Flour and water are all it needs, and the loaf is better for the wait.';
    expect(repeatsSpan(prose)).toBe(false);
    expect(repeatsSpan(`${prose} ${prose}`)).toBe(true);
  });

  it('reads citation markers, grouped ones included, within the sources', () => {
    expect(citedSources('as I wrote [2], and [1, 3][9]', 3)).toEqual([1, 2, 3]);
    expect(citedSources('no markers here', 3)).toEqual([]);
  });
});
