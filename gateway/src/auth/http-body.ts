// Helpers for the gateway's plain HTTP routes (the OpenAI-compatible API): the same request-size bound as
// Connect's readMaxBytes, Node headers as Fetch Headers for GatewaySecurity.authenticate, and the HTTP
// status a ConnectError stands for.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { Code, ConnectError } from '@connectrpc/connect';

/** An error that already has its HTTP status (and headers, e.g. retry-after). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * Reads and parses a JSON body of at most `maxBytes`. Throws HttpError 413 when it is larger (checked against
 * content-length first, then while reading, so an oversized body is never buffered whole), 400 when it is
 * not JSON.
 */
export async function readJsonBody(
  req: IncomingMessage | Http2ServerRequest,
  maxBytes: number,
): Promise<unknown> {
  const tooLarge = () => new HttpError(413, `request body is larger than ${maxBytes} bytes`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.byteLength;
    if (size > maxBytes) {
      // Drain the rest so the connection can answer; nothing more is kept.
      req.resume();
      throw tooLarge();
    }
    chunks.push(buf);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new HttpError(400, 'request body is empty: send a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

/** Node's incoming headers as Fetch Headers (HTTP/2 pseudo-headers left out). */
export function headersFromNode(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.append(name, v);
    else out.set(name, value);
  }
  return out;
}

const statusByCode: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.FailedPrecondition]: 400,
  [Code.OutOfRange]: 400,
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.Aborted]: 409,
  [Code.ResourceExhausted]: 429,
  [Code.Canceled]: 499,
  [Code.Unimplemented]: 501,
  [Code.Unavailable]: 503,
  [Code.DeadlineExceeded]: 504,
};

/** The HTTP status and headers for an error thrown by GatewaySecurity.authenticate or an upstream call. */
export function httpErrorOf(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const connect = ConnectError.from(err);
  const headers: Record<string, string> = {};
  const retryAfter = connect.metadata.get('retry-after');
  if (retryAfter) headers['retry-after'] = retryAfter;
  const status = statusByCode[connect.code];
  // Anything unexpected keeps its details in the logs, as toConnectError does for RPCs.
  if (status === undefined) return new HttpError(500, 'internal error');
  return new HttpError(status, connect.rawMessage, headers);
}
