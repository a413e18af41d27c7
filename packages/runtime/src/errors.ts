// Domain errors: adapters and domain code throw these; only the RPC layer maps them to Connect/gRPC codes
// (see connect-errors.ts). The message says what the caller can do about it; the driver error is the cause.

export type DomainErrorKind =
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'conflict'
  | 'failed-precondition'
  | 'unauthenticated'
  | 'permission-denied'
  | 'resource-exhausted'
  | 'unavailable'
  | 'deadline-exceeded'
  | 'cancelled'
  | 'internal';

export class DomainError extends Error {
  readonly kind: DomainErrorKind;
  /** Field-level problems, for invalid-argument errors. */
  readonly violations: readonly { field: string; message: string }[];

  constructor(
    kind: DomainErrorKind,
    message: string,
    options?: { cause?: unknown; violations?: readonly { field: string; message: string }[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomainError';
    this.kind = kind;
    this.violations = options?.violations ?? [];
  }
}

export const invalidArgument = (
  message: string,
  violations?: readonly { field: string; message: string }[],
): DomainError => new DomainError('invalid-argument', message, violations ? { violations } : undefined);
export const notFound = (message: string): DomainError => new DomainError('not-found', message);
export const alreadyExists = (message: string, cause?: unknown): DomainError =>
  new DomainError('already-exists', message, { cause });
export const conflict = (message: string, cause?: unknown): DomainError =>
  new DomainError('conflict', message, { cause });
export const failedPrecondition = (message: string): DomainError =>
  new DomainError('failed-precondition', message);
export const unavailable = (message: string, cause?: unknown): DomainError =>
  new DomainError('unavailable', message, { cause });

export function isDomainError(err: unknown, kind?: DomainErrorKind): err is DomainError {
  return err instanceof DomainError && (kind === undefined || err.kind === kind);
}
