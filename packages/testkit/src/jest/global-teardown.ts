/** Stops the backends that global-setup.ts started, gracefully, and waits until they are gone. */
import type { ParentToServe } from '../infra/serve-protocol.js';

export default async function globalTeardown(): Promise<void> {
  const child = globalThis.__llmtwinBackends;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  globalThis.__llmtwinBackends = undefined;
  child.ref();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop: ParentToServe = { type: 'stop' };
  if (child.connected) child.send(stop);
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}
