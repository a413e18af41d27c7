import {
  defaultInfraLog,
  seconds,
  type BackendMode,
  type FerretDbHandle,
  type InfraLog,
  type KafkaHandle,
  type WeaviateHandle,
} from './backend.js';
import { resolveBackendMode } from './backend-mode.js';
import { prepareFerretDb, startFerretDb } from './ferretdb.js';
import { prepareKafka, startKafka } from './kafka.js';
import { prepareWeaviate, startWeaviate } from './weaviate.js';

export interface Backends {
  readonly mode: BackendMode;
  readonly kafka: KafkaHandle;
  readonly ferretdb: FerretDbHandle;
  readonly weaviate: WeaviateHandle;
  /** The variables integration tests read (see docs/test-infrastructure.md). */
  readonly env: Readonly<Record<string, string>>;
  /** Stops all three and deletes their temporary data. */
  dispose(): Promise<void>;
}

/**
 * Starts Kafka, a MongoDB-compatible server and Weaviate, the way LLMTWIN_TEST_BACKENDS says, and prints
 * which way and which versions. Missing local builds are prepared first, one at a time (they are heavy);
 * the servers then start side by side.
 */
export async function startBackends(log: InfraLog = defaultInfraLog): Promise<Backends> {
  const started = Date.now();
  const { mode, reason } = await resolveBackendMode();
  log(`backends: ${mode} (${reason})`);
  if (mode === 'local') {
    await prepareKafka(log);
    await prepareFerretDb(log);
    await prepareWeaviate(log);
  }
  const results = await Promise.allSettled([
    startKafka({ log }),
    startFerretDb({ log }),
    startWeaviate({ log }),
  ]);
  const [kafka, ferretdb, weaviate] = results;
  if (kafka.status !== 'fulfilled' || ferretdb.status !== 'fulfilled' || weaviate.status !== 'fulfilled') {
    await Promise.allSettled(
      results.map((result) => (result.status === 'fulfilled' ? result.value.dispose() : undefined)),
    );
    const reasons = results.flatMap((result) =>
      result.status === 'rejected'
        ? [String(result.reason instanceof Error ? result.reason.message : result.reason)]
        : [],
    );
    throw new Error(`test backends did not start:\n${reasons.join('\n')}`);
  }
  const handles = { kafka: kafka.value, ferretdb: ferretdb.value, weaviate: weaviate.value };
  const env = backendEnv(mode, handles);
  log(
    `all backends ready in ${seconds(Date.now() - started)}: kafka ${handles.kafka.version}, ferretdb ${handles.ferretdb.version}, weaviate ${handles.weaviate.version}`,
  );
  return {
    mode,
    ...handles,
    env,
    async dispose() {
      await Promise.allSettled([
        handles.kafka.dispose(),
        handles.ferretdb.dispose(),
        handles.weaviate.dispose(),
      ]);
    },
  };
}

function backendEnv(
  mode: BackendMode,
  handles: { kafka: KafkaHandle; ferretdb: FerretDbHandle; weaviate: WeaviateHandle },
): Record<string, string> {
  return {
    // Pinned to what was resolved, so a test that starts a private instance uses the same path.
    LLMTWIN_TEST_BACKENDS: mode,
    LLMTWIN_TEST_KAFKA_URL: handles.kafka.url,
    LLMTWIN_TEST_KAFKA_VERSION: handles.kafka.version,
    LLMTWIN_TEST_MONGODB_URL: handles.ferretdb.url,
    LLMTWIN_TEST_MONGODB_VERSION: handles.ferretdb.version,
    LLMTWIN_TEST_WEAVIATE_URL: handles.weaviate.url,
    LLMTWIN_TEST_WEAVIATE_VERSION: handles.weaviate.version,
  };
}

/** Downloads/builds everything the local path needs, printing what it did and how long it took. */
export async function prepareLocalBackends(log: InfraLog = defaultInfraLog): Promise<void> {
  const steps = [
    ['kafka', prepareKafka],
    ['ferretdb', prepareFerretDb],
    ['weaviate', prepareWeaviate],
  ] as const;
  for (const [name, prepare] of steps) {
    const started = Date.now();
    const result = await prepare(log);
    const where = 'jarsDir' in result ? result.jarsDir : result.binary;
    const how = result.built ? `prepared in ${seconds(Date.now() - started)}` : 'already in the cache';
    log(`${name} ${result.version}: ${how} (${where})`);
  }
}
