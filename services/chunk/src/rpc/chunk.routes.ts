// ChunkService handlers: previews with the live policy, and the policy itself.
import type { ConnectRouter } from '@connectrpc/connect';
import { chunkv1, commonv1 } from '@llmtwin/contracts';
import { invalidArgument } from '@llmtwin/runtime';
import type { CategoryName, Chunker } from '@llmtwin/chunking';

const categoryEnum: Record<CategoryName, commonv1.Category> = {
  article: commonv1.Category.ARTICLE,
  post: commonv1.Category.POST,
  code: commonv1.Category.CODE,
};
const categoryName = (c: commonv1.Category) =>
  (Object.keys(categoryEnum) as CategoryName[]).find((k) => categoryEnum[k] === c);

export function registerChunkRoutes(router: ConnectRouter, h: { chunker: Chunker }): void {
  router.service(chunkv1.ChunkService, {
    async previewChunks(req) {
      const category = categoryName(req.category);
      if (!category) {
        throw invalidArgument('category is required', [
          { field: 'category', message: 'article, post or code' },
        ]);
      }
      const pieces = await h.chunker.chunk({
        documentId: 'preview',
        version: 0,
        authorId: '',
        category,
        text: req.text,
        language: req.language,
        title: '',
      });
      return { chunks: pieces };
    },
    getChunkingPolicy() {
      return {
        policies: h.chunker.policies().map((p) => ({ ...p, category: categoryEnum[p.category] })),
      };
    },
  });
}
