import {
  defaultInfraLog,
  seconds,
  type BackendHandle,
  type BackendMode,
  type BackendName,
  type FerretDbHandle,
  type InfraLog,
  type KafkaHandle,
  type S3ProxyHandle,
  type WeaviateHandle,
} from './backend.js';
import { resolveBackendMode } from './backend-mode.js';
import { prepareFerretDb, startFerretDb } from './ferretdb.js';
import { prepareKafka, startKafka } from './kafka.js';
import { prepareS3Proxy, startS3Proxy } from './s3proxy.js';
import { prepareWeaviate, startWeaviate } from './weaviate.js';

export const BACKEND_NAMES: readonly BackendName[] = ['kafka', 'ferretdb', 'weaviate', 's3proxy'];

interface Handles {
  readonly kafka: KafkaHandle;
  readonly ferretdb: FerretDbHandle;
  readonly weaviate: WeaviateHandle;
  readonly s3proxy: S3ProxyHandle;
}

export interface Backends extends Handles {
  readonly mode: BackendMode;
  /** The variables integration tests read (see docs/test-infrastructure.md). */
  readonly env: Readonly<Record<string, string>>;
  /** Stops them all and deletes their temporary data. */
  dispose(): Promise<void>;
}

/** Some of the backends: what `startSelectedBackends` gives. */
export type SelectedBackends = Partial<Handles> & Pick<Backends, 'mode' | 'env' | 'dispose'>;

/**
 * Starts Kafka, a MongoDB-compatible server, Weaviate and an S3-compatible server, the way
 * LLMTWIN_TEST_BACKENDS says, and prints which way and which versions.
 */
export async function startBackends(log: InfraLog = defaultInfraLog): Promise<Backends> {
  return (await startSelectedBackends(BACKEND_NAMES, log)) as Backends;
}

/**
 * The backends LLMTWIN_TEST_ONLY names (a comma-separated list, e.g. `s3proxy` or `ferretdb,s3proxy`), or
 * all of them when it is unset: a developer running one integration test file need not start the rest.
 */
export function selectedBackendNames(): readonly BackendName[] {
  const raw = (process.env.LLMTWIN_TEST_ONLY ?? '').trim();
  if (raw === '') return BACKEND_NAMES;
  const names = raw.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(BACKEND_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `LLMTWIN_TEST_ONLY names ${unknown.join(', ')}; the backends are ${BACKEND_NAMES.join(', ')}`,
    );
  }
  return BACKEND_NAMES.filter((name) => names.includes(name));
}

const PREPARE = {
  kafka: prepareKafka,
  ferretdb: prepareFerretDb,
  weaviate: prepareWeaviate,
  s3proxy: prepareS3Proxy,
} as const;

const START: { [K in BackendName]: (options: { log: InfraLog }) => Promise<Handles[K]> } = {
  kafka: startKafka,
  ferretdb: startFerretDb,
  weaviate: startWeaviate,
  s3proxy: startS3Proxy,
};

/**
 * Starts the named backends. Missing local builds are prepared first, one at a time (they are heavy); the
 * servers then start side by side.
 */
export async function startSelectedBackends(
  names: readonly BackendName[],
  log: InfraLog = defaultInfraLog,
): Promise<SelectedBackends> {
  const started = Date.now();
  const { mode, reason } = await resolveBackendMode();
  const only = names.length < BACKEND_NAMES.length ? `; only ${names.join(', ')} (LLMTWIN_TEST_ONLY)` : '';
  log(`backends: ${mode} (${reason})${only}`);
  if (mode === 'local') {
    for (const name of names) await PREPARE[name](log);
  }
  const results = await Promise.allSettled(names.map((name): Promise<BackendHandle> => START[name]({ log })));
  const handles: BackendHandle[] = results.flatMap((result) =>
    result.status === 'fulfilled' ? [result.value] : [],
  );
  if (handles.length < names.length) {
    await Promise.allSettled(handles.map((handle) => handle.dispose()));
    const reasons = results.flatMap((result) =>
      result.status === 'rejected'
        ? [String(result.reason instanceof Error ? result.reason.message : result.reason)]
        : [],
    );
    throw new Error(`test backends did not start:\n${reasons.join('\n')}`);
  }
  const byName = Object.fromEntries(handles.map((handle) => [handle.name, handle])) as Partial<Handles>;
  const env = backendEnv(mode, byName);
  log(
    `${only === '' ? 'all backends' : names.join(', ')} ready in ${seconds(Date.now() - started)}: ${handles.map((h) => `${h.name} ${h.version}`).join(', ')}`,
  );
  return {
    mode,
    ...byName,
    env,
    async dispose() {
      await Promise.allSettled(handles.map((handle) => handle.dispose()));
    },
  };
}

function backendEnv(mode: BackendMode, handles: Partial<Handles>): Record<string, string> {
  return {
    // Pinned to what was resolved, so a test that starts a private instance uses the same path.
    LLMTWIN_TEST_BACKENDS: mode,
    ...(handles.kafka && {
      LLMTWIN_TEST_KAFKA_URL: handles.kafka.url,
      LLMTWIN_TEST_KAFKA_VERSION: handles.kafka.version,
    }),
    ...(handles.ferretdb && {
      LLMTWIN_TEST_MONGODB_URL: handles.ferretdb.url,
      LLMTWIN_TEST_MONGODB_VERSION: handles.ferretdb.version,
    }),
    ...(handles.weaviate && {
      LLMTWIN_TEST_WEAVIATE_URL: handles.weaviate.url,
      LLMTWIN_TEST_WEAVIATE_VERSION: handles.weaviate.version,
    }),
    ...(handles.s3proxy && {
      LLMTWIN_TEST_S3_URL: handles.s3proxy.url,
      LLMTWIN_TEST_S3_VERSION: handles.s3proxy.version,
    }),
  };
}

/** Downloads/builds everything the local path needs, printing what it did and how long it took. */
export async function prepareLocalBackends(log: InfraLog = defaultInfraLog): Promise<void> {
  const steps = [
    ['kafka', prepareKafka],
    ['ferretdb', prepareFerretDb],
    ['weaviate', prepareWeaviate],
    ['s3proxy', prepareS3Proxy],
  ] as const;
  for (const [name, prepare] of steps) {
    const started = Date.now();
    const result = await prepare(log);
    const where = 'jarsDir' in result ? result.jarsDir : result.binary;
    const how = result.built ? `prepared in ${seconds(Date.now() - started)}` : 'already in the cache';
    log(`${name} ${result.version}: ${how} (${where})`);
  }
}
