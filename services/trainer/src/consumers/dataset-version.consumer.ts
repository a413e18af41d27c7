// Consumes llmtwin.registry.v1 (group 'trainer') for continuous training: DatasetVersionCreated goes to the
// training policy, which records a decision per dataset version and, after the debounce, starts a run;
// ArtifactTainted of a dataset version keeps a waiting one from starting. A timer wakes the policy when the
// next waiting version is due; on start it is armed from the records, so a debounce outlives a restart.
//
// A group with no position starts at the newest event: turning continuous training on trains what is built
// from then on, not every dataset version the registry ever announced.
import { registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import { eventHandler, type EventBus, type Subscription } from '@llmtwin/ports';
import type { Logger } from 'pino';
import type { Decision, StartOutcome, TrainingPolicy } from '../domain/training-policy.js';

/** setTimeout's longest delay; a later due time is reached by waking up and arming again. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** After a failed wake-up (the warehouse out of reach), when to try again. */
const RETRY_WAKE_MS = 30_000;

export interface ContinuousTraining {
  /** Starts what is due now (the timer calls it; tests and tools may too). */
  runDue(): Promise<StartOutcome[]>;
  stop(): Promise<void>;
}

export async function startContinuousTraining(deps: {
  eventBus: EventBus;
  policy: TrainingPolicy;
  logger: Logger;
  /** The policy's clock, to turn due times into delays. */
  clock?: () => number;
  /** Called with each decision once it is recorded (observability, tests). */
  onDecision?: (datasetVersionId: string, decision: Decision) => void;
  maxAttempts?: number;
  retryBackoffMs?: number;
}): Promise<ContinuousTraining> {
  const { policy, logger } = deps;
  const clock = deps.clock ?? Date.now;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();

  const wakeAt = (at: number) => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(wake, Math.min(MAX_DELAY_MS, Math.max(0, at - clock())));
    timer.unref();
  };
  const arm = async () => {
    const at = await policy.nextDueAt();
    if (at !== undefined) wakeAt(at);
  };
  function wake() {
    running = policy
      .runDue()
      .then(arm)
      .catch((err: unknown) => {
        logger.warn({ err }, 'continuous training: checking for due runs failed; trying again');
        wakeAt(clock() + RETRY_WAKE_MS);
      });
  }

  await policy.init();
  await arm();
  await deps.eventBus.ensureTopics([topics.registry]);
  const subscription: Subscription = await deps.eventBus.subscribe({
    group: 'trainer',
    topics: [topics.registry],
    from: 'latest',
    ...(deps.maxAttempts !== undefined ? { maxAttempts: deps.maxAttempts } : {}),
    ...(deps.retryBackoffMs !== undefined ? { retryBackoffMs: deps.retryBackoffMs } : {}),
    handler: eventHandler(registryeventsv1.RegistryEventSchema, async (event, message, signal) => {
      const e = event.event;
      if (e.case === 'datasetVersionCreated' && e.value.datasetVersion) {
        const dv = e.value.datasetVersion;
        const decision = await policy.datasetVersionCreated(dv, signal);
        const about = { datasetVersionId: dv.id, authorId: dv.authorId, attempt: message.attempt };
        if (decision.kind === 'pending') {
          logger.info(
            { ...about, dueAt: new Date(decision.dueAt).toISOString(), superseded: decision.superseded },
            'continuous training: a run on this dataset version waits for the debounce',
          );
          await arm();
        } else if (decision.kind === 'skipped' || decision.kind === 'superseded') {
          logger.info({ ...about, decision }, `continuous training: dataset version ${decision.kind}`);
        }
        deps.onDecision?.(dv.id, decision);
      } else if (e.case === 'artifactTainted' && e.value.type === registryv1.ArtifactType.DATASET_VERSION) {
        if (await policy.datasetVersionTainted(e.value.id, e.value.reason, signal))
          logger.info(
            { datasetVersionId: e.value.id },
            'continuous training: a waiting dataset version was tainted',
          );
      }
    }),
  });

  return {
    runDue: () => policy.runDue(),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await subscription.stop();
      await running;
    },
  };
}
