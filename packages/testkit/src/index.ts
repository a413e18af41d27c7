export type {
  BackendHandle,
  BackendMode,
  BackendName,
  FerretDbHandle,
  InfraLog,
  KafkaHandle,
  WeaviateHandle,
  S3ProxyHandle,
} from './infra/backend.js';
export { resolveBackendMode } from './infra/backend-mode.js';
export { startBackends, type Backends } from './infra/backends.js';
export { startFerretDb, startLocalFerretDb } from './infra/ferretdb.js';
export type { FerretDbStartOptions } from './infra/ferretdb-shared.js';
export { startKafka, startLocalKafka } from './infra/kafka.js';
export type { KafkaStartOptions } from './infra/kafka-shared.js';
export { startS3Proxy, startLocalS3Proxy } from './infra/s3proxy.js';
export type { S3ProxyStartOptions } from './infra/s3proxy-shared.js';
export { startWeaviate, startLocalWeaviate } from './infra/weaviate.js';
export { WEAVIATE_VERSION, type WeaviateStartOptions } from './infra/weaviate-shared.js';
export {
  LLAMA_CPP_PYTHON_VERSION,
  prepareLlamaCppServer,
  startLlamaCppServer,
  type LlamaCppServer,
  type LlamaCppStartOptions,
} from './infra/llama-cpp.js';
export { kafkaBrokers, testBackendUrl, weaviateEndpoint } from './infra/test-env.js';
export { poll, PollTimeoutError, type PollOptions, type Probe } from './poll.js';
// Helpers from packages/testkit/src/grpc (another part of the kit).
export * from './grpc/grpc-probes.js';
export * from './grpc/service-process.js';
