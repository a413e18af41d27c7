// CORS for browser clients (Connect-Web, gRPC-Web, the OpenAI routes) from the configured origins only. With
// no origins configured nothing is added, and browsers keep scripts of other sites away from the gateway.
// Keys travel in headers, never cookies, so credentials are never allowed.
import { cors as connectCors } from '@connectrpc/connect';
import type { NodeHandler } from '@llmtwin/runtime';

export const corsAllowedMethods = ['GET', 'POST', 'OPTIONS'];
export const corsAllowedHeaders = [
  ...new Set([
    ...connectCors.allowedHeaders,
    'connect-protocol-version',
    'connect-timeout-ms',
    'grpc-timeout',
    'x-grpc-web',
    'x-user-agent',
    'authorization',
    'x-api-key',
    'content-type',
    'traceparent',
    'tracestate',
  ]),
].map((h) => h.toLowerCase());
export const corsExposedHeaders = [
  ...new Set([...connectCors.exposedHeaders, 'grpc-status', 'grpc-message', 'retry-after']),
].map((h) => h.toLowerCase());

const PREFLIGHT_MAX_AGE_SECONDS = 7200;

/** `origins`: exact origins (scheme://host[:port]) or '*'. */
export function corsMiddleware(origins: readonly string[]): (next: NodeHandler) => NodeHandler {
  const anyOrigin = origins.includes('*');
  const allowed = new Set(origins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  return (next) => {
    if (origins.length === 0) return next;
    return (req, res) => {
      const origin = req.headers.origin;
      const isPreflight =
        req.method === 'OPTIONS' && typeof req.headers['access-control-request-method'] === 'string';
      if (typeof origin !== 'string' || origin === '') {
        next(req, res);
        return;
      }
      const ok = anyOrigin || allowed.has(origin.toLowerCase());
      res.setHeader('vary', 'Origin');
      if (!ok) {
        if (isPreflight) {
          res.writeHead(403);
          res.end();
        } else next(req, res);
        return;
      }
      res.setHeader('access-control-allow-origin', anyOrigin ? '*' : origin);
      if (isPreflight) {
        res.setHeader('access-control-allow-methods', corsAllowedMethods.join(', '));
        res.setHeader('access-control-allow-headers', corsAllowedHeaders.join(', '));
        res.setHeader('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
        res.writeHead(204);
        res.end();
        return;
      }
      res.setHeader('access-control-expose-headers', corsExposedHeaders.join(', '));
      next(req, res);
    };
  };
}
