// OpenTelemetry for generations, following the GenAI semantic conventions: one CLIENT span per model call
// named `chat <model>` with gen_ai.* attributes, the token-usage and duration histograms, time to first token,
// and the router's own gauge of in-flight requests (the signal its autoscaler scales on). Prompt and answer
// text stay out of spans unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true: they are stored in
// the generation record, where access is controlled.
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, lazyInstruments } from '@llmtwin/runtime/instruments';
import type { BackendKind, ChatMessage, ChatRequest } from '@llmtwin/llm';

const SCOPE = '@llmtwin/inference-router';

export const METRIC_INFLIGHT = 'llmtwin.router.inflight_requests';
export const METRIC_ALERTS = 'llmtwin.router.alerts';
export const METRIC_TOKEN_USAGE = 'gen_ai.client.token.usage';
export const METRIC_OPERATION_DURATION = 'gen_ai.client.operation.duration';
export const METRIC_TIME_TO_FIRST_TOKEN = 'gen_ai.server.time_to_first_token';

const instruments = lazyInstruments(
  (meter) => ({
    inflight: meter.createUpDownCounter(METRIC_INFLIGHT, {
      description: 'Generation requests the router is working on (the autoscaling signal)',
      unit: '{request}',
    }),
    alerts: meter.createCounter(METRIC_ALERTS, {
      description: 'Alert state changes raised by the router (rule, resolved)',
      unit: '{alert}',
    }),
    tokens: meter.createHistogram(METRIC_TOKEN_USAGE, {
      description: 'Tokens used per model call',
      unit: '{token}',
      advice: { explicitBucketBoundaries: [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536] },
    }),
    duration: meter.createHistogram(METRIC_OPERATION_DURATION, {
      description: 'Duration of model calls',
      unit: 's',
      advice: {
        explicitBucketBoundaries: [0.01, 0.04, 0.16, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92],
      },
    }),
    ttft: meter.createHistogram(METRIC_TIME_TO_FIRST_TOKEN, {
      description: 'Time from request to the first generated token',
      unit: 's',
      advice: {
        explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12],
      },
    }),
  }),
  SCOPE,
);

/** Counts one request in flight until the returned function is called (once). */
export function trackInflight(attributes: Record<string, string> = {}): () => void {
  instruments().inflight.add(1, attributes);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    instruments().inflight.add(-1, attributes);
  };
}

export function countAlert(rule: string, resolved: boolean): void {
  instruments().alerts.add(1, { 'llmtwin.alert.rule': rule, 'llmtwin.alert.resolved': resolved });
}

const captureContent = () =>
  /^(1|true|yes)$/i.test(process.env['OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT'] ?? '');

/** GenAI provider name for each backend family (gen_ai.provider.name). */
const providerName = (kind: BackendKind) =>
  kind === 'openai' ? 'openai' : kind === 'tgi' ? 'huggingface.tgi' : 'llama.cpp';

export interface ModelCallInfo {
  model: string;
  kind: BackendKind;
  /** What the call is for: the answer, or a query rewrite / filter extraction before retrieval. */
  purpose: 'answer' | 'expansion' | 'self-query';
  request: ChatRequest;
  generationId: string;
}

/** One model call, observed from start to end. */
export class ModelCallObservation {
  private readonly started = performance.now();
  private firstTokenAt: number | undefined;
  readonly span: Span;
  private readonly attrs: Record<string, string>;

  constructor(private readonly info: ModelCallInfo) {
    this.attrs = {
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': providerName(info.kind),
      'gen_ai.request.model': info.model,
    };
    const r = info.request;
    this.span = trace.getTracer(SCOPE).startSpan(
      `chat ${info.model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          ...this.attrs,
          'gen_ai.request.max_tokens': r.maxTokens,
          ...(r.temperature !== undefined ? { 'gen_ai.request.temperature': r.temperature } : {}),
          ...(r.topP !== undefined ? { 'gen_ai.request.top_p': r.topP } : {}),
          ...(r.stop?.length ? { 'gen_ai.request.stop_sequences': r.stop } : {}),
          ...(r.jsonSchema ? { 'gen_ai.output.type': 'json' } : { 'gen_ai.output.type': 'text' }),
          'llmtwin.generation.id': info.generationId,
          'llmtwin.generation.purpose': info.purpose,
          ...(captureContent() ? { 'gen_ai.input.messages': messagesJson(r.messages) } : {}),
        },
      },
      context.active(),
    );
  }

  firstToken(): void {
    if (this.firstTokenAt !== undefined) return;
    this.firstTokenAt = performance.now();
    instruments().ttft.record((this.firstTokenAt - this.started) / 1000, this.attrs);
  }

  end(result: {
    finishReason: string;
    inputTokens: number;
    outputTokens: number;
    endpoint?: string;
    answer?: string;
  }): void {
    const seconds = (performance.now() - this.started) / 1000;
    this.span.setAttributes({
      'gen_ai.response.model': this.info.model,
      'gen_ai.response.id': this.info.generationId,
      'gen_ai.response.finish_reasons': [result.finishReason],
      'gen_ai.usage.input_tokens': result.inputTokens,
      'gen_ai.usage.output_tokens': result.outputTokens,
      ...(captureContent() && result.answer !== undefined
        ? { 'gen_ai.output.messages': messagesJson([{ role: 'assistant', content: result.answer }]) }
        : {}),
    });
    this.span.end();
    const m = instruments();
    m.duration.record(seconds, this.attrs);
    m.tokens.record(result.inputTokens, { ...this.attrs, 'gen_ai.token.type': 'input' });
    m.tokens.record(result.outputTokens, { ...this.attrs, 'gen_ai.token.type': 'output' });
  }

  fail(err: unknown): void {
    const type = err instanceof Error ? ('kind' in err && String(err.kind)) || err.name : 'error';
    this.span.setAttribute(ATTR_ERROR_TYPE, type);
    this.span.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.message : String(err),
    });
    this.span.end();
    instruments().duration.record((performance.now() - this.started) / 1000, {
      ...this.attrs,
      [ATTR_ERROR_TYPE]: type,
    });
  }
}

const messagesJson = (messages: readonly ChatMessage[]) =>
  JSON.stringify(messages.map((m) => ({ role: m.role, parts: [{ type: 'text', content: m.content }] })));
