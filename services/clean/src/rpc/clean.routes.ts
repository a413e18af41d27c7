// CleanService handlers: thin translation between protobuf messages and the cleaned snapshot.
import type { ConnectRouter } from '@connectrpc/connect';
import { cleanv1 } from '@llmtwin/contracts';
import { nextPageToken, readPage } from '@llmtwin/host';
import { invalidArgument } from '@llmtwin/runtime';
import type { CleanRawFn } from '../domain/clean-raw.js';
import { categoryName, toProtoCleaned, type CleanedDocumentStore } from '../domain/cleaned-documents.js';
import type { Reprocessor } from '../domain/reprocess.js';

export interface CleanHandlers {
  store: CleanedDocumentStore;
  reprocessor: Reprocessor;
  cleanRaw: CleanRawFn;
}

export function registerCleanRoutes(router: ConnectRouter, h: CleanHandlers): void {
  router.service(cleanv1.CleanService, {
    async getCleanedDocument(req, ctx) {
      return { document: toProtoCleaned(await h.store.get(req.documentId, ctx.signal)) };
    },
    async listCleanedDocuments(req, ctx) {
      const page = readPage(req.page);
      const filter: Record<string, unknown> = {};
      if (req.authorId) filter['authorId'] = req.authorId;
      if (req.category) {
        const name = categoryName(req.category);
        if (!name) {
          throw invalidArgument('unknown category', [
            { field: 'category', message: 'article, post or code' },
          ]);
        }
        filter['category'] = name;
      }
      if (page.after) filter['_id'] = { $gt: page.after };
      const items = await h.store.documents.find(
        filter as never,
        { sort: [{ field: '_id', direction: 'asc' }], limit: page.size, exclude: ['outbox'] },
        ctx.signal,
      );
      return {
        documents: items.map(toProtoCleaned),
        page: { nextPageToken: nextPageToken(items, page.size) },
      };
    },
    async reprocess(req) {
      const run = await h.reprocessor.start({ authorId: req.authorId, documentIds: req.documentIds });
      return { documentsQueued: BigInt(run.queued) };
    },
    cleanText(req) {
      const category = categoryName(req.category);
      if (!category) {
        throw invalidArgument('category is required', [
          { field: 'category', message: 'article, post or code' },
        ]);
      }
      const out = h.cleanRaw({
        category,
        raw: req.raw,
        rawContentType: req.rawContentType,
        url: req.url,
        title: '',
      });
      return { title: out.title, text: out.text };
    },
  });
}
