/**
 * The Docker path: the same backends as containers, for machines with a Docker engine (chosen by
 * LLMTWIN_TEST_BACKENDS, see backend-mode.ts). Host ports are fixed when the container is created, so a
 * stopped or killed container comes back on the same ports, as a local server does.
 */
import { GenericContainer, getContainerRuntimeClient, Wait, type StartedTestContainer } from 'testcontainers';

import {
  defaultInfraLog,
  seconds,
  type BackendName,
  type FerretDbHandle,
  type KafkaHandle,
  type S3ProxyHandle,
  type WeaviateHandle,
} from './backend.js';
import {
  mongoServerVersion,
  mongoUrl,
  pinnedFerretDbVersion,
  type FerretDbStartOptions,
} from './ferretdb-shared.js';
import { kafkaAnswers, pinnedKafkaVersion, type KafkaStartOptions } from './kafka-shared.js';
import { freePort } from './ports.js';
import { waitUntil } from './readiness.js';
import {
  newCredentials,
  pinnedS3ProxyVersion,
  s3ProxyReady,
  s3Url,
  type S3ProxyStartOptions,
} from './s3proxy-shared.js';
import {
  WEAVIATE_VERSION,
  weaviateReadyVersion,
  weaviateUrl,
  type WeaviateStartOptions,
} from './weaviate-shared.js';

/** Images follow the same pins as the local builds; each can be overridden, e.g. `mongo:7.0` for MongoDB. */
function image(name: BackendName): string {
  switch (name) {
    case 'kafka':
      return process.env.LLMTWIN_TEST_KAFKA_IMAGE ?? `apache/kafka:${pinnedKafkaVersion()}`;
    case 'ferretdb':
      return (
        process.env.LLMTWIN_TEST_MONGODB_IMAGE ??
        `ghcr.io/ferretdb/ferretdb:${pinnedFerretDbVersion().replace(/^v/, '')}`
      );
    case 'weaviate':
      return (
        process.env.LLMTWIN_TEST_WEAVIATE_IMAGE ??
        `cr.weaviate.io/semitechnologies/weaviate:${WEAVIATE_VERSION}`
      );
    case 's3proxy':
      return process.env.LLMTWIN_TEST_S3_IMAGE ?? `andrewgaul/s3proxy:s3proxy-${pinnedS3ProxyVersion()}`;
  }
}

class ContainerBackend {
  readonly mode = 'testcontainers';
  private up = true;

  constructor(
    private readonly container: StartedTestContainer,
    private readonly what: string,
    private readonly probe: () => Promise<boolean>,
    private readonly startTimeoutMs: number,
  ) {}

  get running(): boolean {
    return this.up;
  }

  // StartedTestContainer.stop() remembers its first result and does nothing after a restart, so stopping
  // and starting again go to the engine directly.
  private async engineStop(timeoutMs: number): Promise<void> {
    const client = await getContainerRuntimeClient();
    await client.container.stop(client.container.getById(this.container.getId()), { timeout: timeoutMs });
    this.up = false;
  }

  stop(): Promise<void> {
    return this.engineStop(15_000);
  }

  kill(): Promise<void> {
    return this.engineStop(0);
  }

  async restart(): Promise<void> {
    if (this.up) return;
    const client = await getContainerRuntimeClient();
    await client.container.start(client.container.getById(this.container.getId()));
    this.up = true;
    await waitUntil(this.probe, { what: this.what, timeoutMs: this.startTimeoutMs });
  }

  async dispose(): Promise<void> {
    await this.container.stop({ remove: true, timeout: 5_000 });
    this.up = false;
  }
}

async function dockerHost(): Promise<string> {
  return (await getContainerRuntimeClient()).info.containerRuntime.host;
}

export async function startKafkaContainer(options: KafkaStartOptions = {}): Promise<KafkaHandle> {
  const log = options.log ?? defaultInfraLog;
  const started = Date.now();
  const host = await dockerHost();
  // Same port inside and out, so the advertised listener is right on both sides of the port mapping.
  const port = options.port ?? (await freePort());
  const container = await new GenericContainer(image('kafka'))
    .withEnvironment({
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_LISTENERS: `PLAINTEXT://0.0.0.0:${port},CONTROLLER://0.0.0.0:9093`,
      KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${port}`,
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '1',
      KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
      KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
      KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
      KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFKA_NUM_PARTITIONS: '1',
      KAFKA_HEAP_OPTS: `-Xmx${options.heapMb ?? 512}m`,
    })
    .withExposedPorts({ container: port, host: port })
    .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
    .withStartupTimeout(options.startTimeoutMs ?? 120_000)
    .start();
  const brokers = [`${host}:${port}`];
  const what = `kafka container at ${brokers[0]}`;
  await waitUntil(() => kafkaAnswers(brokers), { what, timeoutMs: options.startTimeoutMs ?? 120_000 });
  const version = image('kafka').split(':').pop() ?? 'unknown';
  log(
    `kafka ${version} (testcontainers ${image('kafka')}) at ${brokers[0]}, ready in ${seconds(Date.now() - started)}`,
  );
  const backend = new ContainerBackend(
    container,
    what,
    () => kafkaAnswers(brokers),
    options.startTimeoutMs ?? 120_000,
  );
  return Object.assign(backend, { name: 'kafka' as const, url: `kafka://${brokers[0]}`, brokers, version });
}

export async function startFerretDbContainer(options: FerretDbStartOptions = {}): Promise<FerretDbHandle> {
  const log = options.log ?? defaultInfraLog;
  const started = Date.now();
  const host = await dockerHost();
  const port = options.port ?? (await freePort());
  const name = image('ferretdb');
  const container = await new GenericContainer(name)
    // FerretDB v1 reads these; the official mongo image ignores them.
    .withEnvironment({
      FERRETDB_HANDLER: 'sqlite',
      FERRETDB_SQLITE_URL: 'file:/state/',
      FERRETDB_TELEMETRY: 'disable',
    })
    .withExposedPorts({ container: 27017, host: port })
    // FerretDB's image has no shell for a port check from inside; both servers log when they listen.
    .withWaitStrategy(Wait.forLogMessage(/Listening on TCP|Waiting for connections/))
    .withStartupTimeout(options.startTimeoutMs ?? 60_000)
    .start();
  const url = mongoUrl(host, port);
  const what = `${name} container at ${host}:${port}`;
  let version = 'unknown';
  const probe = async (): Promise<boolean> => {
    version = await mongoServerVersion(url);
    return true;
  };
  await waitUntil(probe, { what, timeoutMs: options.startTimeoutMs ?? 60_000 });
  log(
    `ferretdb ${version} (testcontainers ${name}) at ${host}:${port}, ready in ${seconds(Date.now() - started)}`,
  );
  const backend = new ContainerBackend(container, what, probe, options.startTimeoutMs ?? 60_000);
  return Object.assign(backend, { name: 'ferretdb' as const, url, version });
}

export async function startWeaviateContainer(options: WeaviateStartOptions = {}): Promise<WeaviateHandle> {
  const log = options.log ?? defaultInfraLog;
  const started = Date.now();
  const host = await dockerHost();
  const httpPort = options.httpPort ?? (await freePort());
  const grpcPort = options.grpcPort ?? (await freePort());
  const name = image('weaviate');
  const container = await new GenericContainer(name)
    .withCommand(['--host', '0.0.0.0', '--port', '8080', '--scheme', 'http'])
    .withEnvironment({
      PERSISTENCE_DATA_PATH: '/var/lib/weaviate',
      DEFAULT_VECTORIZER_MODULE: 'none',
      ENABLE_MODULES: '',
      AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED: 'true',
      DISABLE_TELEMETRY: 'true',
      CLUSTER_HOSTNAME: 'node1',
      RAFT_BOOTSTRAP_EXPECT: '1',
      RAFT_TIMEOUTS_MULTIPLIER: '1',
    })
    .withExposedPorts({ container: 8080, host: httpPort }, { container: 50051, host: grpcPort })
    .withWaitStrategy(Wait.forHttp('/v1/.well-known/ready', 8080))
    .withStartupTimeout(options.startTimeoutMs ?? 120_000)
    .start();
  const what = `weaviate container at ${host}:${httpPort}`;
  let version: string = WEAVIATE_VERSION;
  const probe = async (): Promise<boolean> => {
    const reported = await weaviateReadyVersion(host, httpPort, grpcPort);
    if (reported !== undefined) version = reported;
    return reported !== undefined;
  };
  await waitUntil(probe, { what, timeoutMs: options.startTimeoutMs ?? 120_000 });
  log(
    `weaviate ${version} (testcontainers ${name}) at ${host}:${httpPort} (gRPC ${grpcPort}), ready in ${seconds(Date.now() - started)}`,
  );
  const backend = new ContainerBackend(container, what, probe, options.startTimeoutMs ?? 120_000);
  return Object.assign(backend, {
    name: 'weaviate' as const,
    url: weaviateUrl(host, httpPort, grpcPort),
    httpPort,
    grpcPort,
    version,
  });
}

export async function startS3ProxyContainer(options: S3ProxyStartOptions = {}): Promise<S3ProxyHandle> {
  const log = options.log ?? defaultInfraLog;
  const started = Date.now();
  const host = await dockerHost();
  const port = options.port ?? (await freePort());
  const bucket = options.bucket ?? 'llmtwin-test';
  const credentials = newCredentials();
  const name = image('s3proxy');
  // The image's entry point writes these variables into S3Proxy's properties file.
  const container = await new GenericContainer(name)
    .withEnvironment({
      S3PROXY_ENDPOINT: 'http://0.0.0.0:80',
      S3PROXY_AUTHORIZATION: 'aws-v4',
      S3PROXY_IDENTITY: credentials.accessKeyId,
      S3PROXY_CREDENTIAL: credentials.secretAccessKey,
      JCLOUDS_PROVIDER: 'filesystem',
      JCLOUDS_FILESYSTEM_BASEDIR: '/data',
      LOG_LEVEL: 'warn',
    })
    .withExposedPorts({ container: 80, host: port })
    .withWaitStrategy(Wait.forHttp('/healthz', 80))
    .withStartupTimeout(options.startTimeoutMs ?? 60_000)
    .start();
  const endpoint = `http://${host}:${port}`;
  const what = `${name} container at ${endpoint}`;
  const probe = (): Promise<boolean> => s3ProxyReady(endpoint, bucket, credentials);
  await waitUntil(probe, { what, timeoutMs: options.startTimeoutMs ?? 60_000 });
  const version =
    name
      .split(':')
      .pop()
      ?.replace(/^s3proxy-/, '') ?? 'unknown';
  log(
    `s3proxy ${version} (testcontainers ${name}) at ${endpoint}, bucket ${bucket}, ready in ${seconds(Date.now() - started)}`,
  );
  const backend = new ContainerBackend(container, what, probe, options.startTimeoutMs ?? 60_000);
  return Object.assign(backend, {
    name: 's3proxy' as const,
    url: s3Url(host, port, bucket, credentials),
    endpoint,
    bucket,
    credentials,
    version,
  });
}
