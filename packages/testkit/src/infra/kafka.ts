import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { defaultInfraLog, seconds, type InfraLog, type KafkaHandle } from './backend.js';
import { resolveBackendMode } from './backend-mode.js';
import { prepareMavenJars } from './maven-jars.js';
import { dataDirFor, ManagedProcess, removeOwnedDir } from './managed-process.js';
import { toolsDir } from './paths.js';
import { assertPortFree, freePort } from './ports.js';
import { waitUntil } from './readiness.js';
import { kafkaAnswers, pinnedKafkaVersion, type KafkaStartOptions } from './kafka-shared.js';

export interface KafkaArtifacts {
  readonly version: string;
  readonly jarsDir: string;
}

/**
 * Downloads the broker's jars from Maven Central (through tools/kafka/pom.xml) into the cache, once per
 * version of the POM. Returns at once when they are there.
 */
export async function prepareKafka(
  log: InfraLog = defaultInfraLog,
): Promise<KafkaArtifacts & { readonly built: boolean }> {
  return prepareMavenJars(
    { name: 'kafka', version: pinnedKafkaVersion(), toolDir: toolsDir('kafka'), jars: "the broker's jars" },
    log,
  );
}

/**
 * Starts a single-node Apache Kafka (KRaft, broker and controller in one JVM) on 127.0.0.1, or a container
 * when LLMTWIN_TEST_BACKENDS resolves to testcontainers. `url` is `kafka://127.0.0.1:PORT`.
 */
export async function startKafka(options: KafkaStartOptions = {}): Promise<KafkaHandle> {
  const { mode } = await resolveBackendMode();
  if (mode === 'testcontainers') {
    const { startKafkaContainer } = await import('./testcontainers.js');
    return startKafkaContainer(options);
  }
  return startLocalKafka(options);
}

export async function startLocalKafka(options: KafkaStartOptions = {}): Promise<KafkaHandle> {
  const log = options.log ?? defaultInfraLog;
  const artifacts = await prepareKafka(log);
  const port = options.port ?? (await freePort());
  const controllerPort = options.controllerPort ?? (await freePort());
  const { dir, owned } = dataDirFor('kafka', options.dataDir);
  const handle = new LocalKafka(
    artifacts,
    { port, controllerPort, dir, owned, heapMb: options.heapMb ?? 512 },
    options.startTimeoutMs ?? 90_000,
    log,
  );
  try {
    await handle.restart();
  } catch (error) {
    await handle.dispose();
    throw error;
  }
  return handle;
}

interface KafkaLayout {
  readonly port: number;
  readonly controllerPort: number;
  readonly dir: string;
  readonly owned: boolean;
  readonly heapMb: number;
}

class LocalKafka implements KafkaHandle {
  readonly name = 'kafka';
  readonly mode = 'local';
  readonly url: string;
  readonly brokers: readonly string[];
  readonly version: string;
  private proc: ManagedProcess | undefined;
  private starts = 0;

  constructor(
    private readonly artifacts: KafkaArtifacts,
    private readonly layout: KafkaLayout,
    private readonly startTimeoutMs: number,
    private readonly log: InfraLog,
  ) {
    this.version = artifacts.version;
    this.brokers = [`127.0.0.1:${layout.port}`];
    this.url = `kafka://127.0.0.1:${layout.port}`;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  get dataDir(): string {
    return this.layout.dir;
  }

  async restart(): Promise<void> {
    if (this.running) return;
    const started = Date.now();
    const verb = this.starts++ === 0 ? 'ready' : 'restarted and ready';
    const { port, controllerPort, dir } = this.layout;
    await assertPortFree(port, 'kafka');
    await assertPortFree(controllerPort, 'kafka controller');
    const properties = writeConfig(this.layout);
    const log4j = path.join(dir, 'log4j2.properties');
    const classpath = path.join(this.artifacts.jarsDir, '*');
    const java = javaCommand();
    const logFile = path.join(dir, 'kafka.log');
    const jvm = [`-Dlog4j2.configurationFile=${log4j}`, '-Djava.awt.headless=true', '-XX:-UsePerfData'];

    if (!existsSync(path.join(dir, 'kraft', 'meta.properties'))) {
      const format = await ManagedProcess.start(
        {
          name: 'kafka-format',
          command: java,
          args: [
            ...jvm,
            '-Xmx256m',
            '-cp',
            classpath,
            'kafka.tools.StorageTool',
            'format',
            '--ignore-formatted',
            '-t',
            clusterId(dir),
            '-c',
            properties,
          ],
          logFile,
          ...(this.layout.owned ? { ownedDir: dir } : {}),
        },
        this.log,
      );
      const exit = await format.exited;
      if (exit.code !== 0)
        throw new Error(
          `kafka: formatting ${dir} failed (exit ${exit.code}). Log ${logFile}:\n${format.logTail()}`,
        );
    }

    this.proc = await ManagedProcess.start(
      {
        name: 'kafka',
        command: java,
        args: [
          ...jvm,
          '-Xms128m',
          `-Xmx${this.layout.heapMb}m`,
          // Tests need a broker that starts fast and stays small on two cores, not peak throughput.
          '-XX:+UseSerialGC',
          '-XX:TieredStopAtLevel=1',
          '-XX:+ExitOnOutOfMemoryError',
          '-cp',
          classpath,
          'kafka.Kafka',
          properties,
        ],
        logFile,
        ...(this.layout.owned ? { ownedDir: dir } : {}),
      },
      this.log,
    );
    await waitUntil(() => kafkaAnswers(this.brokers), {
      what: `kafka on 127.0.0.1:${port}`,
      timeoutMs: this.startTimeoutMs,
      process: this.proc,
    });
    this.log(
      `kafka ${this.version} (local jars) at 127.0.0.1:${port}, ${verb} in ${seconds(Date.now() - started)} (data ${dir})`,
    );
  }

  async stop(): Promise<void> {
    await this.proc?.stop(30_000);
  }

  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  async dispose(): Promise<void> {
    await this.stop();
    if (this.layout.owned) removeOwnedDir(this.layout.dir);
  }
}

function javaCommand(): string {
  const home = process.env.JAVA_HOME;
  return home !== undefined && home !== '' ? path.join(home, 'bin', 'java') : 'java';
}

/** A KRaft cluster id is 16 random bytes in URL-safe base64; kept in the data dir so restarts reuse it. */
function clusterId(dir: string): string {
  const file = path.join(dir, 'cluster-id');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const id = randomBytes(16).toString('base64url');
  writeFileSync(file, `${id}\n`);
  return id;
}

function writeConfig(layout: KafkaLayout): string {
  const { port, controllerPort, dir } = layout;
  const properties = path.join(dir, 'server.properties');
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'log.dirs': path.join(dir, 'kraft'),
    // One node: every internal topic must live with replication factor 1, or it is never created.
    'offsets.topic.replication.factor': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    // Defaults sized for a production broker (50 offset partitions, 8 I/O threads, a 128 MiB dedupe
    // buffer) only slow a two-core test machine down.
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.num.partitions': 1,
    'num.partitions': 1,
    'num.network.threads': 2,
    'num.io.threads': 2,
    'background.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.threads': 1,
    'log.cleaner.dedupe.buffer.size': 8 * 1024 * 1024,
    // Consumers join at once instead of waiting 3 s for more members.
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': 'true',
  };
  const text = Object.entries(settings)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
  writeFileSync(
    properties,
    `# Written by the test harness (packages/testkit/src/infra/kafka.ts).\n${text}\n`,
  );
  writeFileSync(
    path.join(dir, 'log4j2.properties'),
    [
      'rootLogger.level=WARN',
      'rootLogger.appenderRef.stdout.ref=STDOUT',
      'appender.stdout.type=Console',
      'appender.stdout.name=STDOUT',
      'appender.stdout.layout.type=PatternLayout',
      'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
      // Keeps the start-up and shutdown milestones in kafka.log for diagnosing a slow or failed start.
      'logger.raft.name=kafka.server.KafkaRaftServer',
      'logger.raft.level=INFO',
      '',
    ].join('\n'),
  );
  return properties;
}
