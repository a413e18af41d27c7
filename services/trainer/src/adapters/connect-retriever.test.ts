// The retriever's request and mapping, against a stand-in InferenceService on an in-memory Connect transport.
import { create } from '@bufbuild/protobuf';
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { describe, expect, it } from '@jest/globals';
import { inferencev1 } from '@llmtwin/contracts';
import { ConnectRetriever } from './connect-retriever.js';

describe('ConnectRetriever', () => {
  it('asks Retrieve for the author’s top passages without LLM steps and maps the chunks', async () => {
    const seen: inferencev1.RetrieveRequest[] = [];
    const transport = createRouterTransport(({ service }) => {
      service(inferencev1.InferenceService, {
        retrieve(req) {
          seen.push(req);
          return create(inferencev1.RetrieveResponseSchema, {
            chunks: [
              {
                chunkId: 'c1',
                documentId: 'd1',
                title: 'On shipping',
                url: 'https://ex.com/a',
                text: 'Ship small.',
              },
            ],
          });
        },
      });
    });
    const client = createClient(inferencev1.InferenceService, transport);
    const passages = await new ConnectRetriever(() => client, 3).retrieve(
      'why ship small?',
      'jane',
      new AbortController().signal,
    );
    expect(passages).toEqual([{ title: 'On shipping', url: 'https://ex.com/a', text: 'Ship small.' }]);
    expect(seen[0]!.query).toBe('why ship small?');
    expect(seen[0]!.authorId).toBe('jane');
    expect(seen[0]!.retrieval).toMatchObject({ topK: 3, expandQueries: 0, selfQuery: false, rerank: false });
  });
});
