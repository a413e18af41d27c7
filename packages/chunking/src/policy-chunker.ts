// The live Chunker: the domain chunker with the default policy per category, counting tokens with the
// embedder's own tokenizer (any TokenCounter; the Embedder satisfies it).
import type { Chunker } from './chunker.port.js';
import { chunkDocument, defaultPolicies, type ChunkingPolicy } from './chunker.js';
import type { TokenCounter } from './tokenizer.js';

export function policyChunker(
  counter: TokenCounter,
  policies: readonly ChunkingPolicy[] = defaultPolicies(counter),
): Chunker {
  const byCategory = new Map(policies.map((p) => [p.category, p]));
  return {
    chunk(input) {
      const policy = byCategory.get(input.category);
      if (!policy) throw new Error(`no chunking policy for ${input.category}`);
      return chunkDocument(
        { ...input, ...(input.language ? { language: input.language } : {}) },
        policy,
        counter,
      ).map(({ ref: _ref, ...piece }) => piece);
    },
    policies: () => policies,
  };
}
