// Embedded mode: every service and the gateway in one process, on the embedded adapters, calling each other
// through in-process Connect transports — the same modules, handlers and events as the distributed mode.
import { createClient } from '@connectrpc/connect';
import { inferencev1 } from '@llmtwin/contracts';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  createGatewayModule,
  loadSecurityConfig,
  openaiHttpRoutes,
  securitySettings,
} from '@llmtwin/gateway';
import {
  InProcessDirectory,
  createModuleHealth,
  hostModule,
  openAdapters,
  serviceNames,
  type HostedService,
  type ServiceModule,
  type ServiceName,
} from '@llmtwin/host';
import {
  archiveSettings,
  createIngestModule,
  crawlSettings,
  ingestConfigSchema,
  loadArchiveConfig,
  loadSourceHealthConfig,
  sourceHealthSettings,
} from '@llmtwin/ingest';
import { loadConfig } from '@llmtwin/runtime';
import { createCleanModule } from '@llmtwin/clean';
import { createChunkModule } from '@llmtwin/chunk';
import { policyChunker } from '@llmtwin/chunking';
import { DEFAULT_EMBEDDER_URL, createEmbedModule, embedderAdapterOf } from '@llmtwin/embed';
import { createArtifactStore, createEmbedder, embedderSettingsFromEnv } from '@llmtwin/ports/adapters';
import { createRegistryModule } from '@llmtwin/registry';
import { createTrainerModule } from '@llmtwin/trainer';
import { embeddedTrainerOptions } from './embedded-trainer.js';
import {
  createInferenceRouterModule,
  defaultLocalModelPath,
  tinyLocalModelPath,
  inferenceConfigSchema,
  routerOptionsFromSettings,
} from '@llmtwin/inference-router';
import { existsSync } from 'node:fs';
import { buildServer, type HealthService } from '@llmtwin/runtime';
import type { Logger } from 'pino';

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  host: string;
  logger: Logger;
  version: string;
  shutdownTimeoutMs?: number;
}

export interface EmbeddedTwin {
  url: string;
  port: number;
  dataDir: string;
  /** Where the admin API key is kept (created on the first start); the CLI reads it from there. */
  adminKeyFile: string;
  stop(): Promise<void>;
}

/**
 * `twin` on the prepared default model when it is there (otherwise none: extractive answers), and `tiny` on
 * SmolLM2-135M-Instruct when that is prepared too: the CPU training preset fine-tunes SmolLM2, and an
 * author's adapter is served by the model of its own base.
 */
function embeddedDefaultBackends(logger: Logger): string {
  if (existsSync(defaultLocalModelPath())) {
    return existsSync(tinyLocalModelPath())
      ? 'twin=local:default,tiny=local:SmolLM2-135M-Instruct'
      : 'twin=local:default';
  }
  logger.warn(
    { model: defaultLocalModelPath() },
    'the default language model is not prepared (npm run models:prepare): the twin will answer extractively',
  );
  return '';
}

export function embeddedAdapterUrls(dataDir: string) {
  return {
    warehouse: `sqlite:${path.join(dataDir, 'warehouse.db')}`,
    eventBus: `log:${path.join(dataDir, 'events.db')}`,
    vectorStore: `sqlite:${path.join(dataDir, 'vectors.db')}`,
  };
}

/** The admin API key of an embedded twin, written by its first start. */
export const adminKeyPath = (dataDir: string) => path.join(path.resolve(dataDir), 'admin.key');

export async function startEmbedded(options: EmbeddedOptions): Promise<EmbeddedTwin> {
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const adapters = await openAdapters(embeddedAdapterUrls(dataDir), { logger: options.logger });
  const warehouse = adapters.warehouse!;
  const eventBus = adapters.eventBus!;
  const vectorStore = adapters.vectorStore!;
  // Modules reach each other lazily through it (clean → ingest, embed → clean); routes are added below.
  const directory = new InProcessDirectory();
  // One embedder for chunk (its tokenizer) and embed; the same variable as the embed service's.
  const embedderUrl = process.env.LLMTWIN_EMBEDDER_URL || DEFAULT_EMBEDDER_URL;
  const embedder = await createEmbedder(embedderUrl, embedderSettingsFromEnv(process.env));

  // The router's own variables apply here too. Without LLMTWIN_LLM_BACKENDS the twin answers with the small
  // model that `npm start` prepares (Qwen2.5-Coder-0.5B-Instruct, in process); set it empty for extractive
  // answers.
  const routerLogger = options.logger.child({ service: 'inference-router' });
  const routerSettings = loadConfig(
    inferenceConfigSchema.omit({ LLMTWIN_WAREHOUSE_URL: true, LLMTWIN_EMBED_URL: true }),
    {
      ...process.env,
      LLMTWIN_LLM_BACKENDS: process.env.LLMTWIN_LLM_BACKENDS ?? embeddedDefaultBackends(routerLogger),
    },
  );
  const routerOptions = await routerOptionsFromSettings(routerSettings, routerLogger);
  // The router reads authors' GGUF adapters from the store the embedded trainer writes to.
  const routerArtifacts = await createArtifactStore(`file:${path.join(dataDir, 'artifacts')}`);

  const modules: Record<ServiceName, ServiceModule> = {
    ingest: await createIngestModule({
      warehouse,
      eventBus,
      logger: options.logger.child({ service: 'ingest' }),
      dataDir,
      // The crawl settings of the ingest service's own variables apply in embedded mode too.
      crawl: crawlSettings(
        loadConfig(
          ingestConfigSchema.pick({
            LLMTWIN_CRAWL_ALLOW: true,
            LLMTWIN_CRAWL_RESPECT_ROBOTS: true,
            LLMTWIN_CRAWL_ALLOW_LOCAL_GIT: true,
          }),
        ),
      ),
      // So do its archive limits and upload quota.
      archives: archiveSettings(loadArchiveConfig()),
      // And its backoff and failing-source alert settings.
      sourceHealth: sourceHealthSettings(loadSourceHealthConfig()),
    }),
    clean: await createCleanModule({
      warehouse,
      eventBus,
      logger: options.logger.child({ service: 'clean' }),
      directory,
    }),
    chunk: await createChunkModule({
      warehouse,
      eventBus,
      chunker: policyChunker(embedder),
      logger: options.logger.child({ service: 'chunk' }),
    }),
    embed: await createEmbedModule({
      warehouse,
      eventBus,
      vectorStore,
      embedder,
      embedderAdapter: embedderAdapterOf(embedderUrl),
      chunker: policyChunker(embedder),
      logger: options.logger.child({ service: 'embed' }),
      directory,
    }),
    registry: await createRegistryModule({
      warehouse,
      eventBus,
      logger: options.logger.child({ service: 'registry' }),
    }),
    trainer: await createTrainerModule({
      warehouse,
      eventBus,
      directory,
      ...(await embeddedTrainerOptions(
        dataDir,
        options.logger.child({ service: 'trainer' }),
        routerOptions.models,
        () => createClient(inferencev1.InferenceService, directory.transport('inference-router')),
      )),
    }),
    // Searches through embed's routes in this process, like the distributed router through LLMTWIN_EMBED_URL.
    'inference-router': await createInferenceRouterModule({
      warehouse,
      eventBus,
      logger: routerLogger,
      directory,
      embedAddress: 'embedded',
      ...routerOptions,
      artifacts: routerArtifacts,
    }),
  };

  const healths: HealthService[] = [];
  for (const name of serviceNames) {
    const module = modules[name];
    const health = createModuleHealth(module);
    healths.push(health);
    const server = buildServer({
      name,
      register: (router) => module.register(router),
      services: [...module.services],
      health,
      logger: options.logger.child({ service: name }),
      // As hostModule does for a service on its own: a module's own request limit (ingest's uploads).
      ...(module.readMaxBytes !== undefined ? { readMaxBytes: module.readMaxBytes } : {}),
    });
    directory.add(name, server.routes);
    health.start();
  }

  const adminKeyFile = adminKeyPath(dataDir);
  let hosted: HostedService | undefined;
  const started: ServiceModule[] = [];
  const stopAll = async () => {
    await hosted?.stop();
    for (const module of started.reverse()) await module.stop?.();
    for (const health of healths) health.stop();
    await adapters.close();
    await routerArtifacts.close();
    await embedder.close();
  };
  try {
    const gateway = await createGatewayModule({
      directory,
      addresses: Object.fromEntries(serviceNames.map((n) => [n, 'in-process'])),
      mode: 'embedded',
      version: options.version,
      warehouse,
      eventBus,
      dataDir,
      // The gateway's own variables (rate limit, request size, CORS, bootstrap key) apply here too.
      security: { ...securitySettings(loadSecurityConfig()), adminKeyFile },
      httpRoutes: openaiHttpRoutes,
      logger: options.logger.child({ service: 'gateway' }),
    });
    for (const name of serviceNames) {
      await modules[name].start?.();
      started.push(modules[name]);
    }
    hosted = await hostModule(gateway, {
      port: options.port,
      host: options.host,
      logger: options.logger.child({ service: 'gateway' }),
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000,
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: hosted.url,
    port: hosted.port,
    dataDir,
    adminKeyFile,
    stop: () => (stopping ??= stopAll()),
  };
}
