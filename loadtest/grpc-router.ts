// gRPC straight to the inference router, past the gateway: the router's own capacity, the number that
// its HorizontalPodAutoscaler target (llmtwin_router_inflight_requests) is tuned against.
//
//   kubectl -n llmtwin-dev port-forward svc/inference-router 9090:8080
//   k6 run -e ROUTER_ADDR=127.0.0.1:9090 -e VUS=20 -e DURATION=3m loadtest/grpc-router.ts
//
// The router serves gRPC reflection, so no .proto files are needed; set PROTO_DIR to the repository's
// proto folder (an absolute path, e.g. -e PROTO_DIR=$PWD/proto) to load them instead.
import { check, sleep } from 'k6';
import grpc from 'k6/net/grpc';
import { Rate } from 'k6/metrics';
import type { Options } from 'k6/options';

const ROUTER_ADDR = __ENV.ROUTER_ADDR || '127.0.0.1:9090';
const PROTO_DIR = __ENV.PROTO_DIR || '';
const TLS = __ENV.TLS === 'true';
const API_KEY = __ENV.API_KEY || '';
const AUTHOR_ID = __ENV.AUTHOR_ID || '';
const P95_MS = Number(__ENV.P95_MS || 8000);
const MAX_ERROR_RATE = Number(__ENV.MAX_ERROR_RATE || 0.01);
const THINK_SECONDS = Number(__ENV.THINK_SECONDS || 0.5);
const METHOD = 'llmtwin.inference.v1.InferenceService/Generate';

const QUERIES = (
  __ENV.QUERIES ||
  [
    'What have I written about building data pipelines?',
    'How do I usually explain retrieval-augmented generation?',
    'Summarise my posts about fine-tuning small language models.',
  ].join('|')
).split('|');

const rpcErrors = new Rate('llmtwin_grpc_errors');

const client = new grpc.Client();
if (PROTO_DIR) client.load([PROTO_DIR], 'llmtwin/inference/v1/inference.proto');

export const options: Options = {
  scenarios: {
    generate: {
      executor: 'ramping-vus',
      startVUs: 1,
      stages: [
        { target: Number(__ENV.VUS || 10), duration: __ENV.RAMP || '30s' },
        { target: Number(__ENV.VUS || 10), duration: __ENV.DURATION || '2m' },
        { target: 0, duration: '15s' },
      ],
      gracefulRampDown: '1m',
    },
  },
  thresholds: {
    llmtwin_grpc_errors: [{ threshold: `rate<${MAX_ERROR_RATE}`, abortOnFail: true, delayAbortEval: '30s' }],
    'grpc_req_duration{rpc:Generate}': [`p(95)<${P95_MS}`],
    checks: [`rate>${1 - MAX_ERROR_RATE}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

interface GenerateResponse {
  answer?: string;
  generationId?: string;
}

let connected = false;

export default function (): void {
  if (!connected) {
    // One HTTP/2 connection per virtual user, kept for all its iterations.
    client.connect(ROUTER_ADDR, { plaintext: !TLS, reflect: !PROTO_DIR, timeout: '10s' });
    connected = true;
  }
  const request: Record<string, unknown> = {
    query: QUERIES[Math.floor(Math.random() * QUERIES.length)],
  };
  if (AUTHOR_ID) request.authorId = AUTHOR_ID;
  const metadata: Record<string, string> = {};
  if (API_KEY) metadata.authorization = `Bearer ${API_KEY}`;

  const res = client.invoke(METHOD, request, { metadata, tags: { rpc: 'Generate' }, timeout: '120s' });
  const message = res.message as GenerateResponse | null;
  check(res, {
    'status is OK': (r) => r.status === grpc.StatusOK,
    'has an answer': () => typeof message?.answer === 'string' && message.answer.length > 0,
  });
  rpcErrors.add(res.status !== grpc.StatusOK);
  // Closed model: each virtual user waits a little between questions, as a person would.
  sleep(THINK_SECONDS);
}
