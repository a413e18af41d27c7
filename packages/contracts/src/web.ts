// The contracts a browser client needs: the public services' generated code and nothing else — no type
// registry of every file (index.ts builds one for reflection and JSON), so a bundler keeps only what is used.
export * as commonv1 from './gen/llmtwin/common/v1/common_pb.js';
export * as ingestv1 from './gen/llmtwin/ingest/v1/ingest_pb.js';
export * as cleanv1 from './gen/llmtwin/clean/v1/clean_pb.js';
export * as chunkv1 from './gen/llmtwin/chunk/v1/chunk_pb.js';
export * as embedv1 from './gen/llmtwin/embed/v1/embed_pb.js';
export * as registryv1 from './gen/llmtwin/registry/v1/registry_pb.js';
export * as trainerv1 from './gen/llmtwin/trainer/v1/trainer_pb.js';
export * as inferencev1 from './gen/llmtwin/inference/v1/inference_pb.js';
export * as inferenceeventsv1 from './gen/llmtwin/inference/events/v1/events_pb.js';
export * as gatewayv1 from './gen/llmtwin/gateway/v1/gateway_pb.js';
