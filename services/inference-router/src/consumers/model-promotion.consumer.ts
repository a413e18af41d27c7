// Consumes llmtwin.registry.v1: when a model version is promoted to production the router starts serving it
// (on the configured serving backends, asking them for the version's serving_model_id); when the production
// version leaves production the router stops serving it, draining requests in flight.
//
// Every replica must see every promotion, so each router process reads the topic in a group of its own from
// the earliest event: a restarted replica rebuilds the current state by replay. Versions of one model may sit
// on different partitions, so the newest event time per model name decides, whatever the arrival order.
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import { eventHandler, type EventBus, type Subscription } from '@llmtwin/ports';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';

export type PromotionAction =
  | { kind: 'serve'; model: string; servingModelId: string; version: string; at: number }
  | { kind: 'retire'; model: string; version: string; at: number };

/** What a registry event means for the router, or undefined when nothing. */
export function promotionAction(event: registryeventsv1.RegistryEvent): PromotionAction | undefined {
  if (event.event.case !== 'modelStageChanged') return undefined;
  const change = event.event.value;
  const mv = change.modelVersion;
  if (!mv?.name) return undefined;
  const at = event.eventTime ? timestampMs(event.eventTime) : 0;
  const version = `${mv.name}/${mv.version}`;
  if (mv.stage === registryv1.Stage.PRODUCTION) {
    // A tainted version (built from a deleted source) is never put into service.
    if (mv.tainted) return { kind: 'retire', model: mv.name, version, at };
    return { kind: 'serve', model: mv.name, servingModelId: mv.servingModelId || mv.name, version, at };
  }
  if (change.previousStage === registryv1.Stage.PRODUCTION)
    return { kind: 'retire', model: mv.name, version, at };
  return undefined;
}

export interface PromotionTarget {
  serve(model: string, servingModelId: string): Promise<void>;
  retire(model: string): Promise<void>;
}

/** Applies actions in event-time order per model: an older event arriving late changes nothing. */
export class PromotionApplier {
  private readonly latest = new Map<string, { at: number; version: string; kind: string }>();
  constructor(
    private readonly target: PromotionTarget,
    private readonly logger: Logger,
  ) {}

  async apply(action: PromotionAction): Promise<boolean> {
    const seen = this.latest.get(action.model);
    if (seen && seen.at > action.at) return false;
    // Retiring a version that is not the one in service (an older one archived later) changes nothing.
    if (action.kind === 'retire' && seen?.kind === 'serve' && seen.version !== action.version) return false;
    this.latest.set(action.model, { at: action.at, version: action.version, kind: action.kind });
    if (action.kind === 'serve') {
      await this.target.serve(action.model, action.servingModelId);
      this.logger.info(
        { model: action.model, version: action.version },
        'serving a model promoted to production',
      );
    } else {
      await this.target.retire(action.model);
      this.logger.info(
        { model: action.model, version: action.version },
        'stopped serving a model that left production',
      );
    }
    return true;
  }
}

export async function subscribeModelPromotions(deps: {
  eventBus: EventBus;
  target: PromotionTarget;
  logger: Logger;
}): Promise<Subscription> {
  await deps.eventBus.ensureTopics([topics.registry]);
  const applier = new PromotionApplier(deps.target, deps.logger);
  return deps.eventBus.subscribe({
    group: `inference-router.${hostname()}.${randomUUID().slice(0, 8)}`,
    topics: [topics.registry],
    from: 'earliest',
    handler: eventHandler(registryeventsv1.RegistryEventSchema, async (event) => {
      const action = promotionAction(event);
      if (action) await applier.apply(action);
    }),
  });
}
