// The live collection is reached through the alias `chunks`; the physical collection behind it is named by
// embedding model and creation time, so vectors of different models never share a collection and a rebuild
// can be swapped in atomically (VectorStore.setAlias).
import type { VectorStore } from '@llmtwin/ports';

export const LIVE_ALIAS = 'chunks';

export function physicalCollectionName(model: string, at: Date): string {
  const slug = model
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 32);
  const stamp = at
    .toISOString()
    .replace(/[^0-9]/g, '')
    .slice(0, 17); // yyyymmddhhmmssSSS
  return `chunks_${slug || 'model'}_${stamp}`;
}

/** Makes sure the alias points at a collection; creates the first one for this model if none. */
export async function ensureLiveCollection(
  store: VectorStore,
  embedder: { model: string; dimensions: number },
  now: () => Date = () => new Date(),
): Promise<string> {
  const current = await store.resolveAlias(LIVE_ALIAS);
  if (current) return current;
  const name = physicalCollectionName(embedder.model, now());
  await store.ensureCollection(name, { dimensions: embedder.dimensions });
  await store.setAlias(LIVE_ALIAS, name);
  return name;
}
