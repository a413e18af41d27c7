// The registry service as a module: dataset versions, runs, model versions with stages behind a human gate,
// lineage, and the taint that follows a deleted document (documents.raw.v1 tombstones).
import { registryv1 } from '@llmtwin/contracts';
import { adapterDependencies, OutboxSweeper, type ServiceModule } from '@llmtwin/host';
import type { EventBus, Subscription, Warehouse } from '@llmtwin/ports';
import { createLogger } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { subscribeRawDocuments } from './consumers/raw-document.consumer.js';
import { Registry } from './domain/registry.js';
import { registerRegistryRoutes } from './rpc/registry.routes.js';

export interface RegistryDeps {
  warehouse: Warehouse;
  eventBus: EventBus;
  logger?: Logger;
  /** How often the outbox relay looks for unpublished events (default 5 s). */
  outboxSweepMs?: number;
  maxAttempts?: number;
  retryBackoffMs?: number;
  now?: () => number;
}

export async function createRegistryModule(deps: RegistryDeps): Promise<ServiceModule> {
  const logger = deps.logger ?? createLogger('registry');
  const registry = new Registry(deps.warehouse, deps.eventBus, deps.now);
  await registry.init();
  const outbox = new OutboxSweeper(() => registry.flushOutbox(), logger, deps.outboxSweepMs);
  let subscription: Subscription | undefined;
  return {
    name: 'registry',
    services: [registryv1.RegistryService],
    register: (router) => registerRegistryRoutes(router, registry),
    dependencies: adapterDependencies(deps),
    async start() {
      // Events whose writes happened before a crash go out first.
      await outbox.start();
      subscription = await subscribeRawDocuments({
        eventBus: deps.eventBus,
        taint: registry.taint,
        logger,
        ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
        ...(deps.retryBackoffMs !== undefined ? { retryBackoffMs: deps.retryBackoffMs } : {}),
      });
    },
    async stop() {
      await subscription?.stop();
      await outbox.stop();
    },
  };
}
