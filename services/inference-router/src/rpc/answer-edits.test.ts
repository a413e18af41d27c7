// EditAnswer and ListAnswerEdits through the router's handlers (in-memory Connect transport), over real
// generation records: extractive answers of the RAG service (no LLM) stored in an embedded warehouse.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Code, ConnectError, createClient, createRouterTransport, type Client } from '@connectrpc/connect';
import { inferencev1 } from '@llmtwin/contracts';
import { type Warehouse } from '@llmtwin/ports';
import { createWarehouse } from '@llmtwin/ports/adapters';
import { errorInterceptor } from '@llmtwin/runtime';
import { pino } from 'pino';
import { GenerationStore } from '../domain/generations.js';
import { RagService } from '../domain/rag.js';
import { MAX_EDIT_CHARS } from '../domain/answer-edits.js';
import { registerInferenceRoutes } from './inference.routes.js';

const passage = {
  chunkId: 'chk_1',
  documentId: 'doc_1',
  text: 'Sourdough needs a starter that you feed with flour and water. It rises overnight in the fridge.',
  score: 0.8,
  title: 'Bread',
  url: 'https://example.com/bread',
  category: 1,
  platform: 1,
};

async function code(p: Promise<unknown>): Promise<Code | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e).code,
  );
}

describe('answer edits', () => {
  let dir: string;
  let warehouse: Warehouse;
  let client: Client<typeof inferencev1.InferenceService>;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'llmtwin-edits-'));
    warehouse = await createWarehouse(`sqlite:${path.join(dir, 'w.db')}`);
    const store = new GenerationStore(warehouse);
    await store.init();
    const rag = new RagService({ search: async () => [passage], store, logger: pino({ level: 'silent' }) });
    client = createClient(
      inferencev1.InferenceService,
      createRouterTransport((router) => registerInferenceRoutes(router, { rag, store }), {
        router: { interceptors: [errorInterceptor(pino({ level: 'silent' }))] },
      }),
    );
  });
  afterEach(async () => {
    await warehouse.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ask = async (authorId: string, query: string) =>
    client.generate({ query, authorId, retrieval: { topK: 1 } });

  it('stores an edit against its generation and lists the author’s edits oldest first, paged', async () => {
    const first = await ask('jane', 'How do I feed a starter?');
    const second = await ask('jane', 'When does the dough rise?');
    const other = await ask('bob', 'How do I feed a starter?');
    const res = await client.editAnswer({
      generationId: first.generationId,
      editedAnswer: '  Feed it every morning with equal weights of flour and water.  ',
      comment: 'my routine',
      editor: 'jane',
    });
    expect(res.edit).toMatchObject({
      generationId: first.generationId,
      authorId: 'jane',
      query: 'How do I feed a starter?',
      originalAnswer: first.answer,
      editedAnswer: 'Feed it every morning with equal weights of flour and water.',
      comment: 'my routine',
      editor: 'jane',
    });
    await client.editAnswer({ generationId: second.generationId, editedAnswer: 'Overnight, in the fridge.' });
    await client.editAnswer({ generationId: other.generationId, editedAnswer: 'Bob would say so.' });
    // A second edit of the same answer replaces the first.
    await client.editAnswer({ generationId: first.generationId, editedAnswer: 'Every morning, 1:1:1.' });

    const page1 = await client.listAnswerEdits({ authorId: 'jane', page: { pageSize: 1 } });
    expect(page1.edits.map((e) => e.editedAnswer)).toEqual(['Every morning, 1:1:1.']);
    const page2 = await client.listAnswerEdits({
      authorId: 'jane',
      page: { pageSize: 1, pageToken: page1.page!.nextPageToken },
    });
    expect(page2.edits.map((e) => e.generationId)).toEqual([second.generationId]);
    const all = await client.listAnswerEdits({ authorId: 'jane' });
    expect(all.edits).toHaveLength(2);
    expect(all.page?.nextPageToken).toBe('');
  });

  it('refuses an unknown generation, an empty or oversized edit, and an unchanged answer', async () => {
    const g = await ask('jane', 'How do I feed a starter?');
    expect(await code(client.editAnswer({ generationId: 'gen_missing', editedAnswer: 'x' }))).toBe(
      Code.NotFound,
    );
    expect(await code(client.editAnswer({ generationId: g.generationId, editedAnswer: '   ' }))).toBe(
      Code.InvalidArgument,
    );
    expect(
      await code(
        client.editAnswer({ generationId: g.generationId, editedAnswer: 'x'.repeat(MAX_EDIT_CHARS + 1) }),
      ),
    ).toBe(Code.InvalidArgument);
    expect(
      await code(client.editAnswer({ generationId: g.generationId, editedAnswer: ` ${g.answer} ` })),
    ).toBe(Code.InvalidArgument);
    expect((await client.listAnswerEdits({ authorId: 'jane' })).edits).toEqual([]);
  });

  it("hides another author's generation from an author-scoped caller", async () => {
    const g = await ask('bob', 'How do I feed a starter?');
    const asJane = { headers: { 'x-llmtwin-author': 'jane' } };
    expect(
      await code(client.editAnswer({ generationId: g.generationId, editedAnswer: 'Mine now.' }, asJane)),
    ).toBe(Code.NotFound);
    const asBob = { headers: { 'x-llmtwin-author': 'bob' } };
    await client.editAnswer({ generationId: g.generationId, editedAnswer: 'Bob edits.' }, asBob);
  });
});
