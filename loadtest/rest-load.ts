// Load test: an open model (requests arrive at a set rate whether or not earlier ones finished, as
// users do) ramps up to RATE generations per second through the gateway's REST/JSON mapping, holds,
// and ramps down. The thresholds decide pass or fail:
//   - error rate under MAX_ERROR_RATE (default 1%); k6 stops the run early once it is clearly over,
//   - p95 latency of Generate under P95_MS (default 8000 ms).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e API_KEY=... -e RATE=10 -e HOLD=5m loadtest/rest-load.ts
import { check, fail } from 'k6';
import http from 'k6/http';
import { Rate, Trend } from 'k6/metrics';
import type { Options } from 'k6/options';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const API_KEY = __ENV.API_KEY || '';
const RATE = Number(__ENV.RATE || 5);
const RAMP = __ENV.RAMP || '1m';
const HOLD = __ENV.HOLD || '3m';
const P95_MS = Number(__ENV.P95_MS || 8000);
const MAX_ERROR_RATE = Number(__ENV.MAX_ERROR_RATE || 0.01);
const MAX_VUS = Number(__ENV.MAX_VUS || 200);
const GENERATE_URL = `${BASE_URL}/llmtwin.inference.v1.InferenceService/Generate`;

// Questions vary so that caches along the way do not flatter the numbers.
const QUERIES = (
  __ENV.QUERIES ||
  [
    'What have I written about building data pipelines?',
    'How do I usually explain retrieval-augmented generation?',
    'Summarise my posts about fine-tuning small language models.',
    'What tools do I recommend for crawling public articles?',
    'How would I describe the trade-offs of vector databases?',
  ].join('|')
).split('|');

// What the router itself measured (usage.totalLatencyMs), next to what the client saw: the gap is the
// gateway, the network and queueing in front of the router.
const serverLatency = new Trend('llmtwin_generate_server_latency', true);
const cited = new Rate('llmtwin_generate_with_citations');

export const options: Options = {
  scenarios: {
    generate: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: '1s',
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(10, RATE * 4)),
      maxVUs: MAX_VUS,
      stages: [
        { target: RATE, duration: RAMP },
        { target: RATE, duration: HOLD },
        { target: 0, duration: '30s' },
      ],
      gracefulStop: '2m',
    },
  },
  thresholds: {
    http_req_failed: [{ threshold: `rate<${MAX_ERROR_RATE}`, abortOnFail: true, delayAbortEval: '30s' }],
    'http_req_duration{rpc:Generate}': [`p(95)<${P95_MS}`],
    checks: [`rate>${1 - MAX_ERROR_RATE}`],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup(): void {
  if (!API_KEY) fail('set API_KEY (-e API_KEY=...): the gateway rejects unauthenticated calls');
}

interface GenerateResponse {
  answer?: string;
  citations?: unknown[];
  usage?: { totalLatencyMs?: number };
}

export default function (): void {
  const query = QUERIES[Math.floor(Math.random() * QUERIES.length)];
  const res = http.post(GENERATE_URL, JSON.stringify({ query }), {
    headers: {
      'content-type': 'application/json',
      'connect-protocol-version': '1',
      authorization: `Bearer ${API_KEY}`,
    },
    tags: { rpc: 'Generate' },
    timeout: '120s',
  });
  const body = parse(res.body);
  check(res, {
    'status is 200': (r) => r.status === 200,
    'has an answer': () => typeof body?.answer === 'string' && body.answer.length > 0,
  });
  if (res.status === 200 && body) {
    if (typeof body.usage?.totalLatencyMs === 'number') serverLatency.add(body.usage.totalLatencyMs);
    cited.add(Array.isArray(body.citations) && body.citations.length > 0);
  }
}

function parse(body: unknown): GenerateResponse | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as GenerateResponse;
  } catch {
    return undefined;
  }
}
