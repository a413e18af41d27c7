// What continuous training starts runs through: the trainer's own fine-tuning jobs (TrainingJobs.start), seen
// from the policy as one call. A start either returns the job it queued or throws; a DomainError 'unavailable'
// means nothing was started and it may be tried again later (the trainer shutting down, the registry out of
// reach); any other error is final for that dataset version (a tainted dataset, training not configured).
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { trainerv1 } from '@llmtwin/contracts';

export type TrainingStartRequest = MessageInitShape<typeof trainerv1.StartTrainingRequestSchema>;

export interface TrainingStarter {
  start(request: TrainingStartRequest, options: { trigger: 'dataset-version' }): Promise<{ jobId: string }>;
}
