// AdminService: API keys. Admin keys only (the access policy); the secret is in CreateApiKey's answer once,
// and no answer ever carries a key's hash.
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type ConnectRouter, type Transport } from '@connectrpc/connect';
import { gatewayv1, ingestv1 } from '@llmtwin/contracts';
import { invalidArgument, unavailable } from '@llmtwin/runtime';
import type { ApiKeyInfo, ApiKeyStore } from '../auth/api-keys.js';

export function toApiKey(info: ApiKeyInfo): gatewayv1.ApiKey {
  return create(gatewayv1.ApiKeySchema, {
    id: info._id,
    authorId: info.authorId,
    admin: info.admin,
    name: info.name,
    rateLimitPerMinute: info.rateLimitPerMinute,
    createTime: timestampFromMs(info.createdAt),
    ...(info.revokedAt !== null ? { revokeTime: timestampFromMs(info.revokedAt) } : {}),
    prefix: info.prefix,
  });
}

/** An author key is only made for an author ingest knows. */
async function checkAuthorExists(ingest: Transport, authorId: string, signal: AbortSignal): Promise<void> {
  try {
    await createClient(ingestv1.IngestService, ingest).getAuthor(
      { id: authorId },
      { signal, timeoutMs: 5000 },
    );
  } catch (err) {
    const code = err instanceof ConnectError ? err.code : Code.Unknown;
    if (code === Code.NotFound) {
      throw invalidArgument(
        `author "${authorId}" does not exist: create it first (llmtwin author create, or CreateAuthor)`,
        [{ field: 'author_id', message: 'no such author' }],
      );
    }
    throw unavailable('cannot check that the author exists: the ingest service did not answer', err);
  }
}

export function registerAdminRoutes(
  router: ConnectRouter,
  options: { keys: ApiKeyStore; ingest: () => Transport },
): void {
  const { keys } = options;
  router.service(gatewayv1.AdminService, {
    async createApiKey(req, ctx) {
      const authorId = req.authorId.trim();
      if (!req.admin && authorId) await checkAuthorExists(options.ingest(), authorId, ctx.signal);
      const { key, info } = await keys.create(
        { authorId, admin: req.admin, name: req.name, rateLimitPerMinute: req.rateLimitPerMinute },
        ctx.signal,
      );
      return { apiKey: toApiKey(info), key };
    },
    async listApiKeys(_req, ctx) {
      return { apiKeys: (await keys.list(ctx.signal)).map(toApiKey) };
    },
    async revokeApiKey(req, ctx) {
      return { apiKey: toApiKey(await keys.revoke(req.id.trim(), ctx.signal)) };
    },
  });
}
