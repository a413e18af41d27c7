// A backend stream's next event, bounded: the first-event and idle timeouts abort the backend's call rather
// than only stop waiting for it, and an abort settles the wait even when the backend ignores its signal.
import { LlmError, type ChatEvent } from '../llm.port.js';

/** Whether a timeout setting is on (zero or Infinity turn it off). */
export const isOn = (ms: number): boolean => Number.isFinite(ms) && ms > 0;

/** The iterator's next event, or a rejection when `ctl` is aborted or `ms` runs out first (which aborts it). */
export function nextEvent(
  iterator: AsyncIterator<ChatEvent>,
  ctl: AbortController,
  ms: number,
  first: boolean,
  endpoint: string,
): Promise<IteratorResult<ChatEvent>> {
  return new Promise((resolve, reject) => {
    const { signal } = ctl;
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    // Aborting (rather than only rejecting) makes a well-behaved backend drop the upstream request too.
    const timer = isOn(ms)
      ? setTimeout(
          () =>
            ctl.abort(
              new LlmError(
                'timeout',
                first
                  ? `no answer from ${endpoint} within ${ms} ms`
                  : `the stream from ${endpoint} stalled for ${ms} ms`,
              ),
            ),
          ms,
        )
      : undefined;
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let pending: Promise<IteratorResult<ChatEvent>>;
    try {
      pending = iterator.next();
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (r) => {
        cleanup();
        resolve(r);
      },
      (err: unknown) => {
        cleanup();
        reject(err);
      },
    );
  });
}
