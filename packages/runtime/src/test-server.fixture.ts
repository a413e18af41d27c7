// A small real server for the runtime's tests: CleanService from the contracts with handlers that succeed,
// fail with a domain error, fail unexpectedly, or wait until the test lets them go.
import { cleanv1 } from '@llmtwin/contracts';
import { notFound } from './errors.js';
import { HealthService } from './health.js';
import { createLogger, type Logger } from './logger.js';
import { buildServer, listen, type BuiltServer, type ListeningServer } from './server.js';

export interface Gate {
  /** Resolves when a slow call has reached the handler. */
  entered: Promise<void>;
  release(): void;
}

function gate(): Gate & { wait(): Promise<void>; enter(): void } {
  let enter!: () => void;
  let release!: () => void;
  const entered = new Promise<void>((resolve) => (enter = resolve));
  const released = new Promise<void>((resolve) => (release = resolve));
  return { entered, release, enter, wait: () => released };
}

export interface TestServer {
  health: HealthService;
  built: BuiltServer;
  listening: ListeningServer;
  logger: Logger;
  /** Each call to GetCleanedDocument("slow") waits on this gate. */
  slow: Gate;
  /** The trace id seen by the last handler that ran (from the active span). */
  seen: { traceparent: string | null };
  close(): Promise<void>;
}

export async function startTestServer(
  options: { logger?: Logger; maxConnectionAgeMs?: number } = {},
): Promise<TestServer> {
  const logger = options.logger ?? createLogger('runtime-test', { level: 'silent' });
  const health = new HealthService({ logger });
  const slow = gate();
  const seen: { traceparent: string | null } = { traceparent: null };
  const built = buildServer({
    name: 'runtime-test',
    services: [cleanv1.CleanService],
    health,
    logger,
    register(router) {
      router.service(cleanv1.CleanService, {
        async getCleanedDocument(request, context) {
          seen.traceparent = context.requestHeader.get('traceparent');
          if (request.documentId === 'slow') {
            slow.enter();
            await slow.wait();
            return { document: { title: 'slow but done' } };
          }
          if (request.documentId === 'boom') {
            throw new Error('connection to mongodb://admin:hunter2@db failed');
          }
          throw notFound(`document "${request.documentId}" not found`);
        },
        cleanText(request) {
          return { title: 'cleaned', text: new TextDecoder().decode(request.raw).trim() };
        },
      });
    },
  });
  const listening = await listen(built.handler, {
    port: 0,
    host: '127.0.0.1',
    logger,
    ...(options.maxConnectionAgeMs === undefined ? {} : { maxConnectionAgeMs: options.maxConnectionAgeMs }),
  });
  return {
    health,
    built,
    listening,
    logger,
    slow,
    seen,
    close: async () => {
      slow.release();
      await listening.close(1000);
    },
  };
}
