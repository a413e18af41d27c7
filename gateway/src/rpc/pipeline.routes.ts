// PipelineService: the event bus as operators see it — dead letters with their errors, replaying them, and the
// alerts raised on llmtwin.alerts.v1. The same bus calls `llmtwin dlq list|replay` makes, reached through the
// gateway so the console (and any API client) needs no access to the bus itself.
import { create, fromBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { gatewayv1, inferenceeventsv1, topics } from '@llmtwin/contracts';
import type { EventBus } from '@llmtwin/ports';
import { isDomainError } from '@llmtwin/runtime';

/** The topics whose consumers can give up on an event: each has a dead-letter topic. */
export const pipelineTopics: readonly string[] = [
  topics.documentsRaw,
  topics.documentsCleaned,
  topics.chunks,
  topics.chunksEmbedded,
  topics.registry,
];

/** The replay position `llmtwin dlq replay` uses too, so the CLI and the console never replay a letter twice. */
const REPLAY_GROUP = 'replay';

const limitOf = (requested: number, what: string): number => {
  if (requested < 0) throw new ConnectError(`${what} must not be negative`, Code.InvalidArgument);
  return Math.min(requested === 0 ? 100 : requested, 1000);
};

const noBus = () =>
  new ConnectError(
    'the gateway was started without the event bus (set LLMTWIN_EVENT_BUS_URL on the gateway)',
    Code.FailedPrecondition,
  );

function checkTopic(topic: string): void {
  if (!pipelineTopics.includes(topic)) {
    throw new ConnectError(
      `unknown topic ${JSON.stringify(topic)}: expected one of ${pipelineTopics.join(', ')}`,
      Code.InvalidArgument,
    );
  }
}

export function registerPipelineRoutes(router: ConnectRouter, options: { eventBus?: EventBus }): void {
  router.service(gatewayv1.PipelineService, {
    async listDeadLetters(req) {
      const bus = options.eventBus;
      if (!bus) throw noBus();
      const limit = limitOf(req.limit, 'limit');
      const wanted = req.topics.length > 0 ? req.topics : pipelineTopics;
      wanted.forEach(checkTopic);
      const letters = (await Promise.all(wanted.map((t) => bus.deadLetters(t, { limit })))).flat();
      return {
        deadLetters: letters.map((l) =>
          create(gatewayv1.DeadLetterSchema, {
            topic: l.originalTopic,
            partition: l.originalPartition,
            offset: l.originalOffset,
            key: l.message.key,
            group: l.group,
            error: l.error,
            sizeBytes: BigInt(l.message.value.length),
            deadTime: timestampFromMs(l.message.timestamp),
          }),
        ),
      };
    },
    async replayDeadLetters(req) {
      const bus = options.eventBus;
      if (!bus) throw noBus();
      if (req.topic === '') throw new ConnectError('topic is required', Code.InvalidArgument);
      checkTopic(req.topic);
      try {
        return { replayed: BigInt(await bus.replayDeadLetters(req.topic, { group: REPLAY_GROUP })) };
      } catch (err) {
        if (isDomainError(err, 'not-found')) return { replayed: 0n };
        throw err;
      }
    },
    async listAlerts(req) {
      const bus = options.eventBus;
      if (!bus) throw noBus();
      const limit = limitOf(req.limit, 'limit');
      let messages;
      try {
        messages = await bus.read(topics.alerts);
      } catch (err) {
        if (isDomainError(err, 'not-found') || isDomainError(err, 'failed-precondition'))
          return { alerts: [] };
        throw err;
      }
      const alerts = [];
      for (const m of messages.slice(-limit).reverse()) {
        try {
          alerts.push(fromBinary(inferenceeventsv1.AlertRaisedSchema, m.value));
        } catch {
          // An event that is not an AlertRaised is not an alert; the topic's consumers skip it too.
        }
      }
      return { alerts };
    },
  });
}
