import { describe, expect, it, jest } from '@jest/globals';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { cleanv1 } from '@llmtwin/contracts';
import { codeByKind, errorInterceptor, toConnectError } from './connect-errors.js';
import { DomainError, invalidArgument, notFound, type DomainErrorKind } from './errors.js';
import type { Logger } from './logger.js';

describe('toConnectError', () => {
  it.each<[DomainErrorKind, Code]>([
    ['invalid-argument', Code.InvalidArgument],
    ['not-found', Code.NotFound],
    ['already-exists', Code.AlreadyExists],
    ['conflict', Code.Aborted],
    ['failed-precondition', Code.FailedPrecondition],
    ['unauthenticated', Code.Unauthenticated],
    ['permission-denied', Code.PermissionDenied],
    ['resource-exhausted', Code.ResourceExhausted],
    ['unavailable', Code.Unavailable],
    ['deadline-exceeded', Code.DeadlineExceeded],
    ['cancelled', Code.Canceled],
  ])('maps %s to %s with its message and the original as cause', (kind, code) => {
    const original = new DomainError(kind, `a ${kind} happened`);
    const mapped = toConnectError(original);
    expect(mapped.code).toBe(code);
    expect(mapped.rawMessage).toBe(`a ${kind} happened`);
    expect(mapped.cause).toBe(original);
    expect(codeByKind[kind]).toBe(code);
  });

  it('hides the message of internal domain errors', () => {
    const mapped = toConnectError(new DomainError('internal', 'index corrupt at /var/lib/x'));
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.rawMessage).toBe('internal error');
  });

  it('spells out violations in the message', () => {
    const mapped = toConnectError(
      invalidArgument('the source is invalid', [
        { field: 'url', message: 'must be http(s)' },
        { field: 'author_id', message: 'is required' },
      ]),
    );
    expect(mapped.code).toBe(Code.InvalidArgument);
    expect(mapped.rawMessage).toBe('the source is invalid (url: must be http(s); author_id: is required)');
  });

  it('turns unknown errors into a generic Internal that keeps the original as cause', () => {
    const original = new Error('password=hunter2 rejected by db');
    const mapped = toConnectError(original);
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.rawMessage).toBe('internal error');
    expect(mapped.cause).toBe(original);
    expect(toConnectError('a string').code).toBe(Code.Internal);
  });

  it('maps aborts and timeouts', () => {
    expect(toConnectError(new DOMException('aborted', 'AbortError')).code).toBe(Code.Canceled);
    expect(toConnectError(new DOMException('timed out', 'TimeoutError')).code).toBe(Code.DeadlineExceeded);
  });

  it('passes ConnectErrors through', () => {
    const err = new ConnectError('slow down', Code.ResourceExhausted);
    expect(toConnectError(err)).toBe(err);
  });
});

async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    return ConnectError.from(e);
  }
  throw new Error('expected the call to fail');
}

describe('errorInterceptor', () => {
  function setup(fail: unknown) {
    const logger = {
      error: jest.fn(),
      warn: jest.fn(),
      debug: jest.fn(),
    };
    const transport = createRouterTransport(
      (router) =>
        router.service(cleanv1.CleanService, {
          getCleanedDocument() {
            throw fail;
          },
        }),
      { router: { interceptors: [errorInterceptor(logger as unknown as Logger)] } },
    );
    return { logger, client: createClient(cleanv1.CleanService, transport) };
  }

  it('sends the mapped code and logs unexpected errors with their cause', async () => {
    const original = new Error('socket hang up: mongodb://admin:hunter2@db');
    const { logger, client } = setup(original);
    const err = await rejection(client.getCleanedDocument({ documentId: 'x' }));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe('internal error');
    expect(logger.error).toHaveBeenCalledWith(
      { rpc: 'llmtwin.clean.v1.CleanService/GetCleanedDocument', code: 'Internal', err: original },
      'rpc failed',
    );
  });

  it('logs caller mistakes quietly', async () => {
    const { logger, client } = setup(notFound('document "x" not found'));
    const err = await rejection(client.getCleanedDocument({ documentId: 'x' }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe('document "x" not found');
    expect(logger.error).not.toHaveBeenCalled();
    expect(logger.debug).toHaveBeenCalled();
  });
});
