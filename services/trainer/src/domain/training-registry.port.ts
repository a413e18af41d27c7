// The registry calls a training job makes; the registry's Connect client satisfies it as it is.
import type { DescMessage, MessageInitShape } from '@bufbuild/protobuf';
import type { registryv1 } from '@llmtwin/contracts';

type Call<Req extends DescMessage, Res> = (
  request: MessageInitShape<Req>,
  options?: { signal?: AbortSignal },
) => Promise<Res>;

export interface TrainingRegistry {
  getDatasetVersion: Call<
    typeof registryv1.GetDatasetVersionRequestSchema,
    registryv1.GetDatasetVersionResponse
  >;
  createRun: Call<typeof registryv1.CreateRunRequestSchema, registryv1.CreateRunResponse>;
  updateRun: Call<typeof registryv1.UpdateRunRequestSchema, registryv1.UpdateRunResponse>;
  getRun: Call<typeof registryv1.GetRunRequestSchema, registryv1.GetRunResponse>;
  getModelVersion: Call<typeof registryv1.GetModelVersionRequestSchema, registryv1.GetModelVersionResponse>;
  registerModelVersion: Call<
    typeof registryv1.RegisterModelVersionRequestSchema,
    registryv1.RegisterModelVersionResponse
  >;
  requestStageTransition: Call<
    typeof registryv1.RequestStageTransitionRequestSchema,
    registryv1.RequestStageTransitionResponse
  >;
}
