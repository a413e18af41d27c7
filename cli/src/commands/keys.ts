// `llmtwin keys create|list|revoke`: API keys of the gateway (an admin key is needed for all three).
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { gatewayv1 } from '@llmtwin/contracts';
import { gatewayClient } from '../client.js';
import { bold, dim, messageJson, ok, printJson } from '../output.js';
import { remote, type RemoteOptions } from './ingest.js';

const client = (o: RemoteOptions) => gatewayClient(gatewayv1.AdminService, o.url, o.apiKey);

function describe(k: gatewayv1.ApiKey): string {
  const who = k.admin ? 'admin' : `author ${k.authorId}`;
  const limit = k.rateLimitPerMinute > 0 ? `${k.rateLimitPerMinute}/min` : 'default limit';
  const created = k.createTime ? timestampDate(k.createTime).toISOString() : '';
  const revoked = k.revokeTime ? ` revoked ${timestampDate(k.revokeTime).toISOString()}` : '';
  return `${k.id}  ${k.prefix}…  ${who.padEnd(20)} ${dim(`${limit}, ${created}${revoked}`)}${k.name ? `  ${k.name}` : ''}`;
}

export const keysCreate = (
  o: RemoteOptions & { author?: string; admin: boolean; name?: string; rateLimit?: number },
) =>
  remote(o, async () => {
    if (!o.admin && !o.author) throw new Error('say whose key it is: --author <id>, or --admin');
    if (o.admin && o.author) throw new Error('an admin key belongs to no author: give --author or --admin');
    const res = await client(o).createApiKey({
      authorId: o.author ?? '',
      admin: o.admin,
      name: o.name ?? '',
      rateLimitPerMinute: o.rateLimit ?? 0,
    });
    const info = messageJson(gatewayv1.ApiKeySchema, res.apiKey!) as Record<string, unknown>;
    if (o.json) {
      printJson({ key: res.key, ...info });
      return 0;
    }
    console.log(
      ok(`API key ${bold(res.apiKey!.id)} created for ${o.admin ? 'admin use' : `author ${o.author}`}`),
    );
    console.log(res.key);
    console.log(
      dim('  shown once: store it now. Send it as `Authorization: Bearer <key>` (or LLMTWIN_API_KEY).'),
    );
    return 0;
  });

export const keysList = (o: RemoteOptions) =>
  remote(o, async () => {
    const res = await client(o).listApiKeys({});
    if (o.json) {
      printJson(messageJson(gatewayv1.ListApiKeysResponseSchema, res));
      return 0;
    }
    if (res.apiKeys.length === 0) console.log(dim('no API keys'));
    for (const k of res.apiKeys) console.log(describe(k));
    return 0;
  });

export const keysRevoke = (o: RemoteOptions & { id: string }) =>
  remote(o, async () => {
    const res = await client(o).revokeApiKey({ id: o.id });
    if (o.json) printJson(messageJson(gatewayv1.ApiKeySchema, res.apiKey!));
    else console.log(ok(`API key ${bold(o.id)} revoked`));
    return 0;
  });
