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
export { startFerretDb, startLocalFerretDb, type FerretDbStartOptions } from './infra/ferretdb.js';
export { startKafka, startLocalKafka, type KafkaStartOptions } from './infra/kafka.js';
export { startS3Proxy, startLocalS3Proxy, type S3ProxyStartOptions } from './infra/s3proxy.js';
export {
  startWeaviate,
  startLocalWeaviate,
  WEAVIATE_VERSION,
  type WeaviateStartOptions,
} from './infra/weaviate.js';
export {
  LLAMA_CPP_PYTHON_VERSION,
  prepareLlamaCppServer,
  startLlamaCppServer,
  type LlamaCppServer,
  type LlamaCppStartOptions,
} from './infra/llama-cpp.js';
export { kafkaBrokers, testBackendUrl, weaviateEndpoint } from './infra/test-env.js';
// Helpers from packages/testkit/src/grpc (another part of the kit).
export * from './grpc/grpc-probes.js';
export * from './grpc/service-process.js';
