import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { defaultInfraLog, seconds, type InfraLog, type S3ProxyHandle } from './backend.js';
import { resolveBackendMode } from './backend-mode.js';
import { prepareMavenJars } from './maven-jars.js';
import { dataDirFor, ManagedProcess, removeOwnedDir } from './managed-process.js';
import { assertPortFree, freePort } from './ports.js';
import { waitUntil } from './readiness.js';
import {
  newCredentials,
  pinnedS3ProxyVersion,
  s3ProxyReady,
  s3proxyToolDir,
  s3Url,
  type S3Credentials,
  type S3ProxyStartOptions,
} from './s3proxy-shared.js';

export interface S3ProxyArtifacts {
  readonly version: string;
  readonly jarsDir: string;
}

const DEFAULT_BUCKET = 'llmtwin-test';

/**
 * Downloads S3Proxy's jars from Maven Central (through tools/s3proxy/pom.xml) into the cache, once per
 * content of the POM. Nothing is compiled. Returns at once when they are there.
 */
export async function prepareS3Proxy(
  log: InfraLog = defaultInfraLog,
): Promise<S3ProxyArtifacts & { readonly built: boolean }> {
  return prepareMavenJars(
    { name: 's3proxy', version: pinnedS3ProxyVersion(), toolDir: s3proxyToolDir(), jars: 'its jars' },
    log,
  );
}

/**
 * Starts S3Proxy (an S3 API server: SigV4 authentication, multipart uploads) over a folder of files on
 * 127.0.0.1, or a container when LLMTWIN_TEST_BACKENDS resolves to testcontainers, and creates a bucket.
 * `url` is `http://<access key id>:<secret>@127.0.0.1:PORT/<bucket>`, the form the artifact store takes.
 */
export async function startS3Proxy(options: S3ProxyStartOptions = {}): Promise<S3ProxyHandle> {
  const { mode } = await resolveBackendMode();
  if (mode === 'testcontainers') {
    const { startS3ProxyContainer } = await import('./testcontainers.js');
    return startS3ProxyContainer(options);
  }
  return startLocalS3Proxy(options);
}

export async function startLocalS3Proxy(options: S3ProxyStartOptions = {}): Promise<S3ProxyHandle> {
  const log = options.log ?? defaultInfraLog;
  const artifacts = await prepareS3Proxy(log);
  const port = options.port ?? (await freePort());
  const { dir, owned } = dataDirFor('s3proxy', options.dataDir);
  const handle = new LocalS3Proxy(
    artifacts,
    { port, dir, owned, bucket: options.bucket ?? DEFAULT_BUCKET, credentials: newCredentials() },
    options.startTimeoutMs ?? 60_000,
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

interface S3ProxyLayout {
  readonly port: number;
  readonly dir: string;
  readonly owned: boolean;
  readonly bucket: string;
  readonly credentials: S3Credentials;
}

class LocalS3Proxy implements S3ProxyHandle {
  readonly name = 's3proxy';
  readonly mode = 'local';
  readonly url: string;
  readonly endpoint: string;
  readonly bucket: string;
  readonly credentials: S3Credentials;
  readonly version: string;
  private proc: ManagedProcess | undefined;
  private starts = 0;

  constructor(
    private readonly artifacts: S3ProxyArtifacts,
    private readonly layout: S3ProxyLayout,
    private readonly startTimeoutMs: number,
    private readonly log: InfraLog,
  ) {
    this.version = artifacts.version;
    this.endpoint = `http://127.0.0.1:${layout.port}`;
    this.bucket = layout.bucket;
    this.credentials = layout.credentials;
    this.url = s3Url('127.0.0.1', layout.port, layout.bucket, layout.credentials);
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  async restart(): Promise<void> {
    if (this.running) return;
    const started = Date.now();
    const verb = this.starts++ === 0 ? 'ready' : 'restarted and ready';
    const { port, dir } = this.layout;
    await assertPortFree(port, 's3proxy');
    const blobs = path.join(dir, 'blobs');
    mkdirSync(blobs, { recursive: true });
    const properties = path.join(dir, 's3proxy.properties');
    // A properties file rather than -D flags keeps the secret out of `ps`.
    writeFileSync(
      properties,
      [
        `s3proxy.endpoint=http://127.0.0.1:${port}`,
        // SigV4 only, as AWS requires today: a client that signs wrongly is refused, not let through.
        's3proxy.authorization=aws-v4',
        `s3proxy.identity=${this.credentials.accessKeyId}`,
        `s3proxy.credential=${this.credentials.secretAccessKey}`,
        'jclouds.provider=filesystem',
        `jclouds.filesystem.basedir=${blobs}`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    this.proc = await ManagedProcess.start(
      {
        name: 's3proxy',
        command: javaCommand(),
        args: [
          `-Dlogback.configurationFile=${path.join(s3proxyToolDir(), 'logback.xml')}`,
          '-Djava.awt.headless=true',
          '-XX:-UsePerfData',
          // A test server on two shared cores: small, quick to start.
          '-Xms32m',
          '-Xmx256m',
          '-XX:+UseSerialGC',
          '-XX:TieredStopAtLevel=1',
          '-XX:+ExitOnOutOfMemoryError',
          '-cp',
          path.join(this.artifacts.jarsDir, '*'),
          'org.gaul.s3proxy.Main',
          '--properties',
          properties,
        ],
        logFile: path.join(dir, 's3proxy.log'),
        ...(this.layout.owned ? { ownedDir: dir } : {}),
      },
      this.log,
    );
    await waitUntil(() => s3ProxyReady(this.endpoint, this.bucket, this.credentials), {
      what: `s3proxy on 127.0.0.1:${port}`,
      timeoutMs: this.startTimeoutMs,
      process: this.proc,
    });
    this.log(
      `s3proxy ${this.version} (local jars, filesystem backend) at ${this.endpoint}, bucket ${this.bucket}, ${verb} in ${seconds(Date.now() - started)} (data ${dir})`,
    );
  }

  async stop(): Promise<void> {
    await this.proc?.stop(15_000);
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
