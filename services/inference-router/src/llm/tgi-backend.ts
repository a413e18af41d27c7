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
import { chatTemplate, type ChatTemplate, type ChatTemplateName } from './chat-template.js';
import { LlmError, type ChatEvent, type ChatRequest, type LlmBackend } from './llm.port.js';
import { describeNetworkError, errorMessage, statusKind, streamEvents } from './sse.js';

export interface TgiBackendOptions {
  model: string;
  /** TGI's base URL, e.g. http://tgi:80 (its routes are at the root). */
  baseUrl: string;
  /** The prompt format of the served model. Default 'chatml'. */
  chatTemplate?: ChatTemplateName;
  /** Sent as `Authorization: Bearer <apiKey>` (Inference Endpoints, or a proxy in front). */
  apiKey?: string;
  /** The context window. Otherwise health() reads max_total_tokens from GET /info. */
  contextTokens?: number;
  /** Stop sequences sent to TGI (its --max-stop-sequences); the rest are enforced here. Default 4. */
  maxStopSequences?: number;
  firstTokenTimeoutMs?: number;
  idleTimeoutMs?: number;
  healthTimeoutMs?: number;
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

const trimSlash = (url: string) => url.replace(/\/+$/, '');

export class TgiBackend implements LlmBackend {
  readonly kind = 'tgi' as const;
  readonly model: string;
  readonly endpoint: string;
  private readonly template: ChatTemplate;
  private discoveredContext: number | undefined;
  private readonly inflight = new Set<AbortController>();
  private closed = false;

  constructor(private readonly opts: TgiBackendOptions) {
    this.model = opts.model;
    this.endpoint = trimSlash(opts.baseUrl);
    this.template = chatTemplate(opts.chatTemplate ?? 'chatml');
  }

  get contextTokens(): number | undefined {
    return this.opts.contextTokens ?? this.discoveredContext;
  }

  private headers(): Record<string, string> {
    return this.opts.apiKey ? { authorization: `Bearer ${this.opts.apiKey}` } : {};
  }

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
    if (request.jsonSchema) parameters.grammar = { type: 'json', value: request.jsonSchema };
    return { inputs: this.template.render(request.messages), parameters };
  }

  async *chat(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatEvent> {
    if (this.closed) throw new LlmError('unavailable', `${this.endpoint}: the backend is closed`);
    const body = this.buildRequest(request);
    const scanner = new StopScanner([...(request.stop ?? []), ...this.template.stopStrings]);
    const closing = new AbortController();
    this.inflight.add(closing);
    let emitted = false;
    let end: ChatEvent | undefined;
    try {
      const events = streamEvents({
        url: `${this.endpoint}/generate_stream`,
        body,
        headers: this.headers(),
        signal: signal ? AbortSignal.any([signal, closing.signal]) : closing.signal,
        firstEventTimeoutMs: this.opts.firstTokenTimeoutMs ?? 60_000,
        idleTimeoutMs: this.opts.idleTimeoutMs ?? 30_000,
        describe: this.endpoint,
        hasOutput: () => emitted,
        httpError: (status, text) =>
          new LlmError(
            statusKind(status),
            `${this.endpoint} answered ${status}: ${errorMessage(text) || 'no body'}`,
          ),
      });
      for await (const ev of events) {
        let data: StreamEvent;
        try {
          data = JSON.parse(ev.data) as StreamEvent;
        } catch (err) {
          throw new LlmError(
            emitted ? 'interrupted' : 'unavailable',
            `${this.endpoint}: an event is not JSON: ${ev.data.slice(0, 80)}`,
            { cause: err },
          );
        }
        if (data.error !== undefined) throw this.streamError(data, emitted);
        const token = data.token;
        if (token && token.special !== true && typeof token.text === 'string' && token.text !== '') {
          const out = scanner.push(token.text);
          if (out.text !== '') {
            emitted = true;
            yield { type: 'delta', text: out.text };
          }
          if (out.stopped) {
            // Our own stop sequence (or the template's end marker as text): the answer is complete even
            // if TGI would go on; leaving the loop closes the request.
            end = this.endEvent('stop', data.details);
            break;
          }
        }
        if (data.generated_text !== null && data.generated_text !== undefined) {
          const rest = scanner.flush();
          if (rest !== '') {
            emitted = true;
            yield { type: 'delta', text: rest };
          }
          const reason = data.details?.finish_reason === 'length' ? 'length' : 'stop';
          end = this.endEvent(reason, data.details);
          break;
        }
      }
    } catch (err) {
      if (closing.signal.aborted && !signal?.aborted) {
        throw new LlmError(
          emitted ? 'interrupted' : 'unavailable',
          `${this.endpoint}: the backend was closed`,
          {
            cause: err,
          },
        );
      }
      throw err;
    } finally {
      this.inflight.delete(closing);
    }
    if (!end) {
      throw new LlmError(
        emitted ? 'interrupted' : 'unavailable',
        `${this.endpoint}: the stream ended before the answer did`,
      );
    }
    yield end;
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
    await this.get('/health', signal);
    if (this.opts.contextTokens === undefined && this.discoveredContext === undefined) {
      try {
        const info = JSON.parse(await this.get('/info', signal)) as { max_total_tokens?: unknown };
        if (typeof info.max_total_tokens === 'number') this.discoveredContext = info.max_total_tokens;
      } catch (err) {
        if (signal?.aborted) throw err;
        // /info is informative; /health already said the server can serve.
      }
    }
  }

  private async get(path: string, signal?: AbortSignal): Promise<string> {
    const url = `${this.endpoint}${path}`;
    const ms = this.opts.healthTimeoutMs ?? 5_000;
    const timeout = AbortSignal.timeout(ms);
    try {
      const res = await fetch(url, {
        headers: this.headers(),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await res.text();
      if (!res.ok) {
        throw new LlmError(statusKind(res.status), `${url} answered ${res.status}: ${errorMessage(text)}`);
      }
      return text;
    } catch (err) {
      if (err instanceof LlmError) throw err;
      if (signal?.aborted) throw signal.reason;
      if (timeout.aborted) throw new LlmError('timeout', `${url}: no answer within ${ms} ms`, { cause: err });
      throw new LlmError('unavailable', `${url}: ${describeNetworkError(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ctl of this.inflight)
      ctl.abort(new LlmError('unavailable', `${this.endpoint}: the backend was closed`));
  }
}
