// The gateway's Connect interceptor: authenticates every RPC but health and reflection, charges the key's
// rate limit, and applies the access policy (admin-only methods, author scoping, ownership of records).
import { create, type DescMessage } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  type Client,
  type Interceptor,
  type StreamRequest,
  type UnaryRequest,
} from '@connectrpc/connect';
import type { ingestv1 } from '@llmtwin/contracts';
import { openServices, ruleFor, type MethodRule } from './access-policy.js';
import { principalKey, type ApiKeySecurity } from './api-key-security.js';
import type { Principal } from './principal.js';

/** The header upstream services read the caller's author from: set by the gateway, never by the caller. */
export const AUTHOR_HEADER = 'x-llmtwin-author';

type Message = Record<string, unknown>;

function fieldOf(desc: DescMessage, localName: string) {
  return desc.fields.find((f) => f.localName === localName);
}

/** The value at a dotted path of local names, or undefined where a message on the way is unset. */
export function valueAt(message: Message, path: string): unknown {
  let current: unknown = message;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Message)[segment];
  }
  return current;
}

/** Sets a string at a dotted path, creating the messages on the way (their types come from `desc`). */
export function setStringAt(desc: DescMessage, message: Message, path: string, value: string): void {
  const segments = path.split('.');
  let current = message;
  let currentDesc = desc;
  for (const segment of segments.slice(0, -1)) {
    const field = fieldOf(currentDesc, segment);
    if (field?.fieldKind !== 'message') throw new Error(`${currentDesc.typeName} has no message ${segment}`);
    current[segment] ??= create(field.message);
    current = current[segment] as Message;
    currentDesc = field.message;
  }
  current[segments[segments.length - 1]!] = value;
}

/** Another author's data: say whose key it is and what to do. */
function otherAuthor(principal: Principal, requested: string): ConnectError {
  return new ConnectError(
    `this API key belongs to author "${principal.authorId}" and cannot act on author "${requested}": ` +
      `leave the author empty, or use that author's key or an admin key`,
    Code.PermissionDenied,
  );
}

/**
 * The author a request acts for: the key's own author when `requested` is empty, the requested one for admin
 * keys. Throws PermissionDenied when an author key names another author. For plain HTTP routes too.
 */
export function scopedAuthor(principal: Principal, requested: string | undefined): string {
  const wanted = (requested ?? '').trim();
  if (principal.admin) return wanted;
  const own = principal.authorId ?? '';
  if (wanted !== '' && wanted !== own) throw otherAuthor(principal, wanted);
  return own;
}

function scopeRequest(rule: MethodRule, desc: DescMessage, message: Message, principal: Principal): void {
  if (!rule.requestAuthor) return;
  const requested = valueAt(message, rule.requestAuthor);
  const author = scopedAuthor(principal, typeof requested === 'string' ? requested : '');
  setStringAt(desc, message, rule.requestAuthor, author);
}

/** `key:<id>`, or `<name the caller gave> (key:<id>)`: the key is what the gateway can vouch for. */
function stampActor(field: string, desc: DescMessage, message: Message, principal: Principal): void {
  const given = valueAt(message, field);
  const name = typeof given === 'string' ? given.trim() : '';
  const key = `key:${principal.keyId}`;
  setStringAt(desc, message, field, name === '' || name === key ? key : `${name} (${key})`);
}

function checkResponse(rule: MethodRule, message: Message, principal: Principal, rpc: string): void {
  const own = principal.authorId ?? '';
  if (rule.responseOwner !== undefined && valueAt(message, rule.responseOwner) !== own) {
    // As if it did not exist: an author key learns nothing about other authors' records.
    throw new ConnectError(`${rpc}: not found`, Code.NotFound);
  }
  if (rule.responseItems) {
    const { list, owner } = rule.responseItems;
    const items = valueAt(message, list);
    if (Array.isArray(items)) {
      const kept = items.filter((item) => valueAt(item as Message, owner) === own);
      if (kept.length !== items.length) setList(message, list, kept);
    }
  }
}

function setList(message: Message, path: string, items: unknown[]): void {
  const segments = path.split('.');
  const parent =
    segments.length === 1 ? message : (valueAt(message, segments.slice(0, -1).join('.')) as Message);
  parent[segments[segments.length - 1]!] = items;
}

async function* mapStream<T>(source: AsyncIterable<T>, fn: (item: T) => void): AsyncIterable<T> {
  for await (const item of source) {
    fn(item);
    yield item;
  }
}

export interface AuthInterceptorOptions {
  security: ApiKeySecurity;
  /** Ingest, for ownership checks of records named by id (sources, documents). */
  ingest: () => Client<typeof ingestv1.IngestService>;
}

export function authInterceptor(options: AuthInterceptorOptions): Interceptor {
  return (next) => async (req) => {
    if (openServices.has(req.service.typeName)) return next(req);
    const principal = await options.security.authenticate(req.header, req.signal);
    req.contextValues.set(principalKey, principal);
    // Upstream services trust this header; only the key decides it.
    req.header.delete(AUTHOR_HEADER);
    if (principal.authorId) req.header.set(AUTHOR_HEADER, principal.authorId);

    const rpc = `${req.service.typeName}/${req.method.name}`;
    const rule = ruleFor(req.service.typeName, req.method.name);
    if (rule.requestActor && !req.stream)
      stampActor(rule.requestActor, req.method.input, req.message as Message, principal);
    if (principal.admin || rule.access === 'any') return next(req);
    if (rule.access === 'admin') {
      throw new ConnectError(`${rpc} needs an admin API key`, Code.PermissionDenied);
    }

    const input = req.method.input;
    let scoped: UnaryRequest | StreamRequest = req;
    if (req.stream) {
      scoped = {
        ...req,
        message: mapStream(req.message, (m) => scopeRequest(rule, input, m as Message, principal)),
      };
    } else {
      scopeRequest(rule, input, req.message as Message, principal);
      if (rule.precheck) {
        await rule.precheck(req.message as Message, {
          authorId: principal.authorId ?? '',
          ingest: options.ingest(),
          signal: req.signal,
        });
      }
    }
    const res = await next(scoped);
    if (!res.stream) checkResponse(rule, res.message as Message, principal, rpc);
    return res;
  };
}
