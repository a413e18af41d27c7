// Consumes llmtwin.registry.v1: when a model version is promoted to production the router starts serving it
// (on the configured serving backends, asking them for the version's serving_model_id); when the production
// version leaves production the router stops serving it, draining requests in flight.
//
// Every replica must see every promotion, so each router process reads the topic in a group of its own from
// the earliest event: a restarted replica rebuilds the current state by replay. Versions of one model may sit
// on different partitions, so the newest event time per model name decides, whatever the arrival order.
//
// An author's fine-tuned version (weights_kind ADAPTER with an author_id) is not served as a model of its
// own: it becomes the adapter that answers that author's questions over the base model (domain/author-models),
// and leaves when the version leaves production (archived, rolled back, tainted).
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { registryeventsv1, registryv1, topics } from '@llmtwin/contracts';
import { eventHandler, type EventBus, type Subscription } from '@llmtwin/ports';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { GGUF_ADAPTER_ARTIFACT, type AuthorModel } from '../domain/author-models.js';

export type PromotionAction =
  | {
      kind: 'serve';
      model: string;
      servingModelId: string;
      version: string;
      at: number;
      /** Set for an author's adapter: it serves that author rather than a model of its own. */
      author?: AuthorModel;
    }
  | { kind: 'retire'; model: string; version: string; at: number; author?: AuthorModel };

/** The author's adapter a model version describes, or undefined when it is not one. */
export function authorModelOf(mv: registryv1.ModelVersion): AuthorModel | undefined {
  if (mv.weightsKind !== registryv1.WeightsKind.ADAPTER || !mv.authorId) return undefined;
  const gguf = mv.artifacts.find((a) => a.name === GGUF_ADAPTER_ARTIFACT);
  return {
    authorId: mv.authorId,
    modelVersionId: mv.id,
    label: `${mv.name}/${mv.version}`,
    servingName: mv.servingModelId || `${mv.name}-v${mv.version}`,
    baseModel: mv.baseModel,
    ...(gguf ? { gguf: { uri: gguf.uri, sha256: gguf.sha256, sizeBytes: Number(gguf.sizeBytes) } } : {}),
  };
}

/** What a registry event means for the router, or undefined when nothing. */
export function promotionAction(event: registryeventsv1.RegistryEvent): PromotionAction | undefined {
  if (event.event.case !== 'modelStageChanged') return undefined;
  const change = event.event.value;
  const mv = change.modelVersion;
  if (!mv?.name) return undefined;
  const at = event.eventTime ? timestampMs(event.eventTime) : 0;
  const version = `${mv.name}/${mv.version}`;
  const author = authorModelOf(mv);
  const adapter = author ? { author } : {};
  if (mv.stage === registryv1.Stage.PRODUCTION) {
    // A tainted version (built from a deleted source) is never put into service.
    if (mv.tainted) return { kind: 'retire', model: mv.name, version, at, ...adapter };
    return {
      kind: 'serve',
      model: mv.name,
      servingModelId: mv.servingModelId || mv.name,
      version,
      at,
      ...adapter,
    };
  }
  if (change.previousStage === registryv1.Stage.PRODUCTION)
    return { kind: 'retire', model: mv.name, version, at, ...adapter };
  return undefined;
}

export interface PromotionTarget {
  serve(model: string, servingModelId: string): Promise<void>;
  retire(model: string): Promise<void>;
  /** An author's adapter version entered production; without it, adapters are served as models. */
  serveAuthor?(model: AuthorModel): Promise<void>;
  retireAuthor?(model: AuthorModel): Promise<void>;
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
    const author = action.author;
    if (author && this.target.serveAuthor && this.target.retireAuthor) {
      const where = { model: action.model, version: action.version, author: author.authorId };
      if (action.kind === 'serve') {
        await this.target.serveAuthor(author);
        this.logger.info(where, "answering the author's questions with the version promoted to production");
      } else {
        await this.target.retireAuthor(author);
        this.logger.info(where, "the author's version left production: the stock model answers");
      }
      return true;
    }
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
