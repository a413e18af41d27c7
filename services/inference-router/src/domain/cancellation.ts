// A request the client gave up on is not a failure: stages that degrade on errors must still let it through.

/** True when `err` is (or was caused by) the request's cancellation. */
export const isAbort = (err: unknown, signal?: AbortSignal): boolean =>
  signal?.aborted === true || (err instanceof Error && err.name === 'AbortError');
