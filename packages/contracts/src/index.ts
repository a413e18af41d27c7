// The generated contracts of LLM Twin, one namespace per protobuf package, plus the event topics.
import { createRegistry, type DescFile } from '@bufbuild/protobuf';
import {
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
} from '@bufbuild/protobuf/wkt';
import * as healthv1 from './gen/grpc/health/v1/health_pb.js';
import * as reflectionv1 from './gen/grpc/reflection/v1/reflection_pb.js';
import * as reflectionv1alpha from './gen/grpc/reflection/v1alpha/reflection_pb.js';
import * as commonv1 from './gen/llmtwin/common/v1/common_pb.js';
import * as ingestv1 from './gen/llmtwin/ingest/v1/ingest_pb.js';
import * as ingesteventsv1 from './gen/llmtwin/ingest/events/v1/events_pb.js';
import * as cleanv1 from './gen/llmtwin/clean/v1/clean_pb.js';
import * as cleaneventsv1 from './gen/llmtwin/clean/events/v1/events_pb.js';
import * as chunkv1 from './gen/llmtwin/chunk/v1/chunk_pb.js';
import * as chunkeventsv1 from './gen/llmtwin/chunk/events/v1/events_pb.js';
import * as embedv1 from './gen/llmtwin/embed/v1/embed_pb.js';
import * as embedeventsv1 from './gen/llmtwin/embed/events/v1/events_pb.js';
import * as registryv1 from './gen/llmtwin/registry/v1/registry_pb.js';
import * as registryeventsv1 from './gen/llmtwin/registry/events/v1/events_pb.js';
import * as trainerv1 from './gen/llmtwin/trainer/v1/trainer_pb.js';
import * as inferencev1 from './gen/llmtwin/inference/v1/inference_pb.js';
import * as inferenceeventsv1 from './gen/llmtwin/inference/events/v1/events_pb.js';
import * as gatewayv1 from './gen/llmtwin/gateway/v1/gateway_pb.js';

export {
  healthv1,
  reflectionv1,
  reflectionv1alpha,
  commonv1,
  ingestv1,
  ingesteventsv1,
  cleanv1,
  cleaneventsv1,
  chunkv1,
  chunkeventsv1,
  embedv1,
  embedeventsv1,
  registryv1,
  registryeventsv1,
  trainerv1,
  inferencev1,
  inferenceeventsv1,
  gatewayv1,
};

/** Kafka topics (`llmtwin.<name>.v<N>`), each carrying one protobuf message type keyed by aggregate id. */
export const topics = {
  documentsRaw: 'llmtwin.documents.raw.v1',
  documentsCleaned: 'llmtwin.documents.cleaned.v1',
  chunks: 'llmtwin.chunks.v1',
  chunksEmbedded: 'llmtwin.chunks.embedded.v1',
  registry: 'llmtwin.registry.v1',
  alerts: 'llmtwin.alerts.v1',
} as const;
export type Topic = (typeof topics)[keyof typeof topics];

/** Every generated file, with the well-known types they import: for reflection and JSON type registries. */
export const allFiles: readonly DescFile[] = [
  file_google_protobuf_timestamp,
  file_google_protobuf_struct,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  healthv1.file_grpc_health_v1_health,
  reflectionv1.file_grpc_reflection_v1_reflection,
  reflectionv1alpha.file_grpc_reflection_v1alpha_reflection,
  commonv1.file_llmtwin_common_v1_common,
  ingestv1.file_llmtwin_ingest_v1_ingest,
  ingesteventsv1.file_llmtwin_ingest_events_v1_events,
  cleanv1.file_llmtwin_clean_v1_clean,
  cleaneventsv1.file_llmtwin_clean_events_v1_events,
  chunkv1.file_llmtwin_chunk_v1_chunk,
  chunkeventsv1.file_llmtwin_chunk_events_v1_events,
  embedv1.file_llmtwin_embed_v1_embed,
  embedeventsv1.file_llmtwin_embed_events_v1_events,
  registryv1.file_llmtwin_registry_v1_registry,
  registryeventsv1.file_llmtwin_registry_events_v1_events,
  trainerv1.file_llmtwin_trainer_v1_trainer,
  inferencev1.file_llmtwin_inference_v1_inference,
  inferenceeventsv1.file_llmtwin_inference_events_v1_events,
  gatewayv1.file_llmtwin_gateway_v1_gateway,
];

export const contractsRegistry = createRegistry(...allFiles);
