// The OpenAI-compatible HTTP API of the gateway: Chat Completions (streaming included), Models and
// Embeddings under /v1, served in front of the Connect/gRPC handler so that unchanged OpenAI clients work
// against the twin. Each route authenticates the key, bounds the body, calls the owning service over its
// Connect transport, and answers in OpenAI's shapes, errors included. A client that goes away cancels the
// upstream call.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Code, ConnectError, createClient, type Client } from '@connectrpc/connect';
import { embedv1, inferencev1 } from '@llmtwin/contracts';
import type { ServiceDirectory } from '@llmtwin/host';
import { getTracer, headersGetter, type NodeHandler } from '@llmtwin/runtime';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { headersFromNode, readJsonBody } from '../auth/http-body.js';
import type { GatewaySecurity, Principal } from '../auth/principal.js';
import type { HttpRoutes } from '../module.js';
import { parseChatRequest, type ChatPlan } from './chat-request.js';
import { ChunkWriter, chatCompletion, nowSeconds } from './chat-response.js';
import { embeddingList, parseEmbeddingRequest } from './embeddings.js';
import { OpenAiHttpError, errorBody, modelNotFound, toOpenAiError } from './openai-errors.js';

type NodeRequest = Parameters<NodeHandler>[0];
type NodeResponse = Parameters<NodeHandler>[1];

// The members both http.ServerResponse and Http2ServerResponse have, typed once.
interface Response {
  readonly headersSent: boolean;
  statusCode: number;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  write(chunk: string): boolean;
  end(chunk?: string): unknown;
  once(event: 'close', listener: () => void): unknown;
}

export interface OpenAiRoutesOptions {
  directory: ServiceDirectory;
  security: GatewaySecurity;
  /** Largest request body accepted, in bytes; larger ones are answered 413. */
  maxBodyBytes: number;
  logger: Logger;
}

interface Call {
  req: NodeRequest;
  res: Response;
  principal: Principal;
  /** Aborted when the client goes away, and once the route has answered. */
  signal: AbortSignal;
  /** Set once the SSE headers went out: errors then travel as an event. */
  streaming: boolean;
}

/** The abort reason once a route has answered (every request ends so): made once, not per request. */
const REQUEST_OVER = new ConnectError('the request is over', Code.Canceled);

type RouteHandler = (call: Call, param: string) => Promise<void>;

interface Route {
  /** The route template, for the span name and http.route. */
  name: string;
  methods: Readonly<Record<string, RouteHandler>>;
  param: string;
}

function sendJson(
  res: Response,
  status: number,
  body: unknown,
  extra: Readonly<Record<string, string>> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...extra,
  });
  res.end(payload);
}

const sse = (data: unknown) => `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

/** Writes and waits for the socket to take it, so a slow reader slows the upstream call rather than memory. */
async function write(call: Call, text: string): Promise<void> {
  call.signal.throwIfAborted();
  if (!call.res.write(text))
    await once(call.res as unknown as NodeJS.EventEmitter, 'drain', { signal: call.signal });
}

export function openaiRoutes(options: OpenAiRoutesOptions): (next: NodeHandler) => NodeHandler {
  const logger = options.logger.child({ component: 'openai' });
  const tracer = getTracer('@llmtwin/gateway');
  // Models are listed with the time this gateway started: the twin's models have no creation time of their own.
  const listedAt = nowSeconds();
  let inferenceClient: Client<typeof inferencev1.InferenceService> | undefined;
  let embedClient: Client<typeof embedv1.EmbedService> | undefined;
  // Lazily: in embedded mode the directory is filled in after the gateway is built.
  const inference = () =>
    (inferenceClient ??= createClient(
      inferencev1.InferenceService,
      options.directory.transport('inference-router'),
    ));
  const embed = () =>
    (embedClient ??= createClient(embedv1.EmbedService, options.directory.transport('embed')));

  async function streamChat(call: Call, plan: ChatPlan): Promise<void> {
    const answer = inference().generateStream(plan.request, { signal: call.signal });
    const upstream = answer[Symbol.asyncIterator]();
    // The first event is awaited before the headers go out, so that a refused request (bad model, empty
    // question, unknown author) is answered with its HTTP status rather than inside a 200 stream.
    let next = await upstream.next();
    // The first event names the generation, so every chunk carries its id (the monitoring record's).
    const started = next.done ? undefined : next.value.event;
    const writer = new ChunkWriter(
      `chatcmpl-${started?.case === 'started' ? started.value.generationId : randomUUID()}`,
      plan.requestedModel || 'llmtwin',
      plan.includeUsage,
    );
    call.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // Reverse proxies (nginx) would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    call.streaming = true;
    await write(call, sse(writer.first()));
    let done: inferencev1.GenerateResponse | undefined;
    for (; !next.done; next = await upstream.next()) {
      const event = next.value.event;
      if (event.case === 'delta' && event.value !== '') await write(call, sse(writer.delta(event.value)));
      else if (event.case === 'done') done = event.value;
    }
    if (!done) throw new Error('the answer stream ended without its final message');
    await write(call, sse(writer.final(done)));
    if (plan.includeUsage) await write(call, sse(writer.usage(done)));
    await write(call, sse('[DONE]'));
    call.res.end();
  }

  const chat: RouteHandler = async (call) => {
    const plan = parseChatRequest(await readJsonBody(call.req, options.maxBodyBytes), call.principal);
    trace.getActiveSpan()?.setAttributes({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': plan.requestedModel,
    });
    if (plan.stream) return streamChat(call, plan);
    const res = await inference().generate(plan.request, { signal: call.signal });
    sendJson(call.res, 200, chatCompletion(res));
  };

  async function modelList(signal: AbortSignal) {
    const [chatModels, embedder] = await Promise.allSettled([
      (async () => inference().listModels({}, { signal }))(),
      (async () => embed().getEmbedderInfo({}, { signal }))(),
    ]);
    if (chatModels.status === 'rejected') throw chatModels.reason;
    const model = (id: string, llmtwin: Record<string, unknown>) => ({
      id,
      object: 'model' as const,
      created: listedAt,
      owned_by: 'llmtwin',
      llmtwin,
    });
    const data = chatModels.value.models.map((m) =>
      model(m.id, { kind: 'chat', backend: m.backend, healthy: m.healthy }),
    );
    // The embedder is listed when embed answers; the chat models alone are still a useful answer.
    if (embedder.status === 'fulfilled' && embedder.value.model) {
      const e = embedder.value;
      data.push(model(e.model, { kind: 'embedding', backend: e.adapter, dimensions: e.dimensions }));
    } else if (embedder.status === 'rejected') {
      logger.debug({ err: embedder.reason }, 'the embedder is left out of the model list');
    }
    return data;
  }

  const models: RouteHandler = async (call) => {
    sendJson(call.res, 200, { object: 'list', data: await modelList(call.signal) });
  };

  const oneModel: RouteHandler = async (call, id) => {
    const data = await modelList(call.signal);
    const found = data.find((m) => m.id === id);
    if (!found)
      throw modelNotFound(
        id,
        data.map((m) => m.id),
      );
    sendJson(call.res, 200, found);
  };

  const embeddings: RouteHandler = async (call) => {
    const plan = parseEmbeddingRequest(await readJsonBody(call.req, options.maxBodyBytes));
    trace.getActiveSpan()?.setAttribute('gen_ai.operation.name', 'embeddings');
    const res = await embed().embedTexts(
      { texts: plan.texts, inputType: plan.inputType },
      { signal: call.signal },
    );
    sendJson(call.res, 200, embeddingList(plan, res));
  };

  function match(path: string): Route | undefined {
    switch (path) {
      case '/v1/chat/completions':
        return { name: path, methods: { POST: chat }, param: '' };
      case '/v1/models':
        return { name: path, methods: { GET: models }, param: '' };
      case '/v1/embeddings':
        return { name: path, methods: { POST: embeddings }, param: '' };
    }
    if (path.startsWith('/v1/models/') && path.length > '/v1/models/'.length) {
      let id: string;
      try {
        id = decodeURIComponent(path.slice('/v1/models/'.length));
      } catch {
        return undefined;
      }
      return { name: '/v1/models/{model}', methods: { GET: oneModel }, param: id };
    }
    return undefined;
  }

  function fail(
    call: Pick<Call, 'req' | 'res' | 'signal' | 'streaming'>,
    err: unknown,
    route: string,
  ): number {
    const error = toOpenAiError(err);
    if (call.signal.aborted) {
      // Whatever failed after the client left (the upstream call we cancelled, a write to a closed socket)
      // is the client's leaving, not a fault.
      logger.debug(
        { route, code: 'cancelled', reason: error.message },
        'openai request cancelled by the client',
      );
    } else if (error.status >= 500) {
      logger[error.status === 503 || error.status === 504 ? 'warn' : 'error'](
        { route, status: error.status, err },
        'openai request failed',
      );
    } else {
      logger.debug({ route, status: error.status, reason: error.message }, 'openai request rejected');
    }
    // A client that went away has nobody to read the error.
    if (call.signal.aborted && !call.res.headersSent) return 499;
    if (call.streaming) {
      if (!call.signal.aborted) {
        call.res.write(sse(errorBody(error)));
        call.res.end();
      }
      return 200;
    }
    if (call.res.headersSent) {
      call.res.end();
      return call.res.statusCode;
    }
    const extra: Record<string, string> = { ...error.headers };
    // The rest of an oversized body is not worth keeping the connection for.
    if (error.status === 413 && call.req.httpVersionMajor === 1) extra['connection'] = 'close';
    sendJson(call.res, error.status, errorBody(error), extra);
    return error.status;
  }

  async function serve(req: NodeRequest, nodeRes: NodeResponse, path: string, method: string): Promise<void> {
    const res = nodeRes as unknown as Response;
    const route = match(path);
    const routeName = route?.name ?? '/v1/*';
    const abort = new AbortController();
    // A cancellation, as Connect names it: the upstream call is then reset with CANCEL (not INTERNAL_ERROR),
    // and the router logs a client that left as cancelled rather than as its own failure.
    res.once('close', () => {
      if (!abort.signal.aborted)
        abort.abort(new ConnectError('the client closed the connection', Code.Canceled));
    });
    const headers = headersFromNode(req.headers);
    const parent = propagation.extract(context.active(), headers, headersGetter);
    const span = tracer.startSpan(
      `${method} ${routeName}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': method, 'http.route': routeName, 'url.path': path },
      },
      parent,
    );
    // One object for the whole request: the handler marks it streaming, and fail() reads that.
    const call: Call = {
      req,
      res,
      principal: { keyId: '', admin: false },
      signal: abort.signal,
      streaming: false,
    };
    let status = 200;
    try {
      await context.with(trace.setSpan(parent, span), async () => {
        if (!route) {
          throw new OpenAiHttpError(
            404,
            `${method} ${path} is not served here: the OpenAI-compatible API has POST /v1/chat/completions, GET /v1/models and POST /v1/embeddings`,
            'invalid_request_error',
            null,
            'unknown_url',
          );
        }
        const handler = route.methods[method];
        if (!handler) {
          const allowed = Object.keys(route.methods).join(', ');
          throw new OpenAiHttpError(
            405,
            `${path} takes ${allowed}, not ${method}`,
            'invalid_request_error',
            null,
            'method_not_allowed',
            { allow: allowed },
          );
        }
        call.principal = await options.security.authenticate(headers);
        span.setAttribute('llmtwin.api_key.id', call.principal.keyId);
        await handler(call, route.param);
      });
    } catch (err) {
      status = fail(call, err, routeName);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: toOpenAiError(err).message });
    } finally {
      span.setAttribute('http.response.status_code', status);
      span.end();
      // Whatever upstream call is still open (a stream the client left) is cancelled.
      abort.abort(REQUEST_OVER);
    }
  }

  return (next) => (req, res) => {
    const path = (req.url ?? '').split('?', 1)[0] ?? '';
    // CORS preflights belong to the layer that answers them.
    if (!path.startsWith('/v1/') || req.method === 'OPTIONS') {
      next(req, res);
      return;
    }
    serve(req, res, path, req.method ?? 'GET').catch((err: unknown) => {
      // Only reached when even the error could not be written; the connection is all that is left to end.
      logger.warn({ err, path }, 'could not answer an openai request');
      res.destroy();
    });
  };
}

/** The OpenAI routes as the gateway module's `httpRoutes` hook. */
export const openaiHttpRoutes: HttpRoutes = (ctx) =>
  openaiRoutes({
    directory: ctx.directory,
    security: ctx.security,
    maxBodyBytes: ctx.maxRequestBytes,
    logger: ctx.logger,
  });
