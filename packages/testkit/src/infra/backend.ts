/** What every started backend gives a test, whichever way it was started. */
export type BackendName = 'kafka' | 'ferretdb' | 'weaviate' | 's3proxy';

/** `local`: a server process from locally built jars/binaries; `testcontainers`: a Docker container. */
export type BackendMode = 'local' | 'testcontainers';

export interface BackendHandle {
  readonly name: BackendName;
  readonly mode: BackendMode;
  /** The URL an adapter is configured with (see each start function for its shape). */
  readonly url: string;
  /** The server's own version, as it reports it (or as pinned, where it reports none). */
  readonly version: string;
  readonly running: boolean;
  /** Graceful shutdown. Data and ports are kept, so `restart()` brings the same server back. */
  stop(): Promise<void>;
  /** SIGKILL (or `docker kill`): what a crash looks like to clients. Data and ports are kept. */
  kill(): Promise<void>;
  /** Starts the stopped or killed server again on the same ports and data; resolves once it is ready. */
  restart(): Promise<void>;
  /** Stops the server for good and deletes the data the harness created for it. */
  dispose(): Promise<void>;
}

export interface KafkaHandle extends BackendHandle {
  readonly name: 'kafka';
  /** `host:port` of the broker, as kafkajs wants them. */
  readonly brokers: readonly string[];
}

export interface FerretDbHandle extends BackendHandle {
  readonly name: 'ferretdb';
}

export interface WeaviateHandle extends BackendHandle {
  readonly name: 'weaviate';
  readonly httpPort: number;
  readonly grpcPort: number;
}

export interface S3ProxyHandle extends BackendHandle {
  readonly name: 's3proxy';
  /** `http://host:port` of the S3 API, without credentials. */
  readonly endpoint: string;
  /** The bucket the harness created; `url` names it too. */
  readonly bucket: string;
  /** What requests must be signed with (SigV4); also in `url`. */
  readonly credentials: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly region: string;
  };
}

export type InfraLog = (line: string) => void;

/** Harness messages go to stderr with one prefix, so they are easy to find in CI logs. */
export const defaultInfraLog: InfraLog = (line) => {
  process.stderr.write(`[infra] ${line}\n`);
};

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
