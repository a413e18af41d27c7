// Errors in the shape OpenAI clients understand: `{error: {message, type, param, code}}` with an HTTP status.
// Upstream failures arrive as ConnectErrors; their code decides the status (the Connect protocol's own
// HTTP mapping, so that a client retries exactly what it would retry on a Connect route), and their message,
// which already says what to fix, is passed on. Anything unexpected becomes a generic server error.
import { Code, ConnectError } from '@connectrpc/connect';
import { connectErrorCodeName, toConnectError } from '@llmtwin/runtime';
import { HttpError } from '../auth/http-body.js';

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An error the OpenAI routes answer themselves, before or instead of calling upstream. */
export class OpenAiHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'OpenAiHttpError';
  }
}

export const invalidRequest = (message: string, param: string | null = null, code = 'invalid_value') =>
  new OpenAiHttpError(400, message, 'invalid_request_error', param, code);

export const unsupported = (message: string, param: string) =>
  new OpenAiHttpError(400, message, 'invalid_request_error', param, 'unsupported_parameter');

export const modelNotFound = (model: string, known: readonly string[]) =>
  new OpenAiHttpError(
    404,
    `the model '${model}' does not exist here: GET /v1/models lists the models this twin serves` +
      (known.length > 0 ? ` (${known.join(', ')})` : ''),
    'invalid_request_error',
    'model',
    'model_not_found',
  );

// The Connect protocol's HTTP status for each code.
const statusByCode: Readonly<Record<Code, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

function typeForStatus(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

function codeName(code: Code): string {
  switch (code) {
    case Code.Unauthenticated:
      return 'invalid_api_key';
    case Code.ResourceExhausted:
      return 'rate_limit_exceeded';
    default:
      return connectErrorCodeName(code);
  }
}

/** Turns any thrown value into the status, headers and body to answer with. */
export function toOpenAiError(err: unknown): OpenAiHttpError {
  if (err instanceof OpenAiHttpError) return err;
  // From the gateway's body reader: an oversized (413) or unreadable (400) body.
  if (err instanceof HttpError) {
    const code = err.status === 413 ? 'request_too_large' : err.status === 400 ? 'invalid_json' : null;
    const message = err.status === 413 ? `${err.message}: send less per request` : err.message;
    return new OpenAiHttpError(err.status, message, typeForStatus(err.status), null, code, err.headers);
  }
  const connect = err instanceof ConnectError ? err : toConnectError(err);
  const status = statusByCode[connect.code] ?? 500;
  const headers: Record<string, string> = {};
  // A quota's wait, when the limiter said how long: OpenAI clients honour retry-after.
  const retryAfter = connect.metadata.get('retry-after');
  if (retryAfter && /^\d+$/.test(retryAfter)) headers['retry-after'] = retryAfter;
  return new OpenAiHttpError(
    status,
    connect.rawMessage,
    typeForStatus(status),
    null,
    codeName(connect.code),
    headers,
  );
}

export function errorBody(err: OpenAiHttpError): OpenAiErrorBody {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
}
