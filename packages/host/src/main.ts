// The shared body of every service's main.ts in distributed mode.
import { runService, type BaseConfig } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { openAdapters, type Adapters, type AdapterUrls } from './adapters.js';
import { NetworkDirectory, envVarFor } from './directory.js';
import { hostModule } from './host.js';
import {
  serviceNames,
  type ServiceDirectory,
  type ServiceModule,
  type ServiceName,
} from './service-module.js';

export interface ModuleMainSpec<C extends BaseConfig> {
  name: string;
  /** Parses the configuration; a ConfigError is logged with every problem and the process exits 1. */
  config: () => C;
  adapters: (config: C) => AdapterUrls;
  build: (ctx: {
    config: C;
    adapters: Adapters;
    logger: Logger;
    directory: ServiceDirectory;
  }) => Promise<ServiceModule>;
}

export function directoryFromEnv(env: NodeJS.ProcessEnv = process.env): NetworkDirectory {
  const urls: Partial<Record<ServiceName, string>> = {};
  for (const name of serviceNames) {
    const value = env[envVarFor(name)];
    if (value) urls[name] = value;
  }
  return new NetworkDirectory(urls);
}

export async function runModuleMain<C extends BaseConfig>(spec: ModuleMainSpec<C>): Promise<void> {
  await runService<C>({
    name: spec.name,
    config: spec.config,
    start: async ({ config, logger }) => {
      const adapters = await openAdapters(spec.adapters(config), { logger });
      try {
        const module = await spec.build({ config, adapters, logger, directory: directoryFromEnv() });
        const hosted = await hostModule(module, {
          port: config.PORT,
          host: config.HOST,
          logger,
          shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
          maxConnectionAgeMs: config.MAX_CONNECTION_AGE_MS,
          onStopped: () => adapters.close(),
        });
        return { stop: () => hosted.stop() };
      } catch (err) {
        await adapters.close();
        throw err;
      }
    },
  });
}
