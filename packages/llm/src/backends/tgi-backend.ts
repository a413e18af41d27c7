// The LLM port over text-generation-inference's native API (POST /generate_stream). TGI takes a prompt,
// not messages, so the messages are rendered with a chat template chosen by configuration. The adapter
// copes with TGI's stream as its router writes it:
// - errors arrive as `data:{"error","error_type"}` events inside a 200 response (validation → rejected,
//   overloaded → unavailable, a generation failure → unavailable before any text, interrupted after);
// - the EOS token is streamed as a special token, which is not text;
// - a stop sequence stays in the generated text, so the adapter cuts it (and holds back text that may be
//   the start of one); TGI accepts few stop sequences (4 by default), so any beyond that are enforced here;
// - temperature must be > 0 and top_p in (0, 1): greedy decoding is do_sample false, top_p 1 is omitted;
// - token counts come from the final event's details, which TGI sends only when asked (details: true).
import { chatTemplate, type ChatTemplateName } from './chat-template.js';
import {
  HttpStreamBackend,
  type HttpStreamBackendOptions,
  type StreamProgress,
} from './http-stream-backend.js';
import { LlmError, type ChatEvent, type ChatRequest, type LlmBackend } from '../llm.port.js';
import type { SseEvent } from './sse.js';

export interface TgiBackendOptions extends HttpStreamBackendOptions {
  /** TGI's base URL, e.g. http://tgi:80 (its routes are at the root). */
  baseUrl: string;
  /** The prompt format of the served model. Default 'chatml'. */
  chatTemplate?: ChatTemplateName;
  /** The context window. Otherwise health() reads max_total_tokens from GET /info. */
  contextTokens?: number;
  /** Stop sequences sent to TGI (its --max-stop-sequences); the rest are enforced here. Default 4. */
  maxStopSequences?: number;
}

/**
 * Cuts a stream of text at the first stop sequence. Text that could still turn into a stop sequence is
 * held back until the next piece shows whether it does.
 */
export class StopScanner {
  private held = '';
  constructor(private readonly stops: readonly string[]) {}

  /** Returns the text that is safe to emit now, and whether a stop sequence was found. */
  push(text: string): { text: string; stopped: boolean } {
    const buf = this.held + text;
    let cut = -1;
    for (const s of this.stops) {
      if (s === '') continue;
      const at = buf.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.held = '';
      return { text: buf.slice(0, cut), stopped: true };
    }
    let keep = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, buf.length); n > keep; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          keep = n;
          break;
        }
      }
    }
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** The held-back text, once the stream ended without completing a stop sequence. */
  flush(): string {
    const out = this.held;
    this.held = '';
    return out;
  }
}

interface StreamToken {
  text?: unknown;
  special?: unknown;
}

interface StreamEvent {
  token?: StreamToken;
  generated_text?: unknown;
  details?: {
    finish_reason?: unknown;
    generated_tokens?: unknown;
    input_length?: unknown;
    prompt_tokens?: unknown;
  } | null;
  error?: unknown;
  error_type?: unknown;
}

export class TgiBackend extends HttpStreamBackend<TgiBackendOptions> implements LlmBackend {
  readonly kind = 'tgi' as const;
  private readonly template = chatTemplate(this.opts.chatTemplate ?? 'chatml');

  /** The request body for a chat request (exported through the class for tests of the mapping). */
  buildRequest(request: ChatRequest): { inputs: string; parameters: Record<string, unknown> } {
    const parameters: Record<string, unknown> = {
      max_new_tokens: request.maxTokens,
      details: true,
      return_full_text: false,
    };
    if (request.temperature !== undefined && request.temperature > 0) {
      parameters.do_sample = true;
      parameters.temperature = request.temperature;
      if (request.topP !== undefined && request.topP > 0 && request.topP < 1) parameters.top_p = request.topP;
    } else {
      // TGI rejects temperature 0; greedy decoding is do_sample false (and sampling options are moot).
      parameters.do_sample = false;
    }
    const stop = request.stop?.filter((s) => s !== '') ?? [];
    if (stop.length > 0) parameters.stop = stop.slice(0, this.opts.maxStopSequences ?? 4);
    // TGI's generate parameters take these two; it has no presence or DRY penalty.
    if (request.penalties?.repeat !== undefined) parameters.repetition_penalty = request.penalties.repeat;
    if (request.penalties?.frequency !== undefined)
      parameters.frequency_penalty = request.penalties.frequency;
    if (request.jsonSchema) parameters.grammar = { type: 'json', value: request.jsonSchema };
    // TGI (started with LORA_ADAPTERS listing it) applies the adapter it knows by this id.
    if (request.adapter) parameters.adapter_id = request.adapter.name;
    return { inputs: this.template.render(request.messages), parameters };
  }

  async *chat(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatEvent> {
    const body = this.buildRequest(request);
    const scanner = new StopScanner([...(request.stop ?? []), ...this.template.stopStrings]);
    yield* this.stream('/generate_stream', body, signal, (events, progress) =>
      this.decode(events, scanner, progress),
    );
  }

  private async *decode(
    events: AsyncIterable<SseEvent>,
    scanner: StopScanner,
    progress: StreamProgress,
  ): AsyncGenerator<ChatEvent> {
    for await (const ev of events) {
      const data = this.parseEvent<StreamEvent>(ev, progress);
      if (data.error !== undefined) throw this.streamError(data, progress.emitted);
      const token = data.token;
      if (token && token.special !== true && typeof token.text === 'string' && token.text !== '') {
        const out = scanner.push(token.text);
        if (out.text !== '') yield { type: 'delta', text: out.text };
        if (out.stopped) {
          // Our own stop sequence (or the template's end marker as text): the answer is complete even
          // if TGI would go on; ending the stream closes the request.
          yield this.endEvent('stop', data.details);
          return;
        }
      }
      if (data.generated_text !== null && data.generated_text !== undefined) {
        const rest = scanner.flush();
        if (rest !== '') yield { type: 'delta', text: rest };
        const reason = data.details?.finish_reason === 'length' ? 'length' : 'stop';
        yield this.endEvent(reason, data.details);
        return;
      }
    }
  }

  private endEvent(reason: 'stop' | 'length', details: StreamEvent['details']): ChatEvent {
    const end: ChatEvent = { type: 'end', finishReason: reason };
    // input_length is TGI 2.x+; older versions sent prompt_tokens, or nothing.
    const prompt = details?.input_length ?? details?.prompt_tokens;
    if (typeof prompt === 'number') end.promptTokens = prompt;
    if (typeof details?.generated_tokens === 'number') end.completionTokens = details.generated_tokens;
    return end;
  }

  private streamError(data: StreamEvent, emitted: boolean): LlmError {
    const message = `${this.endpoint}: ${String(data.error)}`;
    if (
      data.error_type === 'validation' ||
      data.error_type === 'template' ||
      data.error_type === 'tool_error'
    ) {
      return new LlmError('rejected', message);
    }
    if (emitted) return new LlmError('interrupted', message);
    // 'overloaded', 'generation' (say, out of GPU memory), 'incomplete_generation' and anything new.
    return new LlmError('unavailable', message);
  }

  async health(signal?: AbortSignal): Promise<void> {
    await this.get(`${this.endpoint}/health`, signal);
    if (this.opts.contextTokens === undefined && this.discoveredContext === undefined) {
      try {
        const info = JSON.parse(await this.get(`${this.endpoint}/info`, signal)) as {
          max_total_tokens?: unknown;
        };
        if (typeof info.max_total_tokens === 'number') this.discoveredContext = info.max_total_tokens;
      } catch (err) {
        if (signal?.aborted) throw err;
        // /info is informative; /health already said the server can serve.
      }
    }
  }
}
