// Smoke test: one virtual user asks a handful of questions through the gateway's REST/JSON mapping
// (the Connect protocol) and every answer must come back. Run it after each deploy, before load:
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e API_KEY=... loadtest/rest-smoke.ts
//
// Any failed request or check fails the run (non-zero exit), and so does a slow p95.
import { check, fail } from 'k6';
import http from 'k6/http';
import type { Options } from 'k6/options';

const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const API_KEY = __ENV.API_KEY || '';
const QUERY = __ENV.QUERY || 'What have I written about building data pipelines?';
const P95_MS = Number(__ENV.P95_MS || 15000);
const GENERATE_URL = `${BASE_URL}/llmtwin.inference.v1.InferenceService/Generate`;

export const options: Options = {
  vus: 1,
  iterations: Number(__ENV.ITERATIONS || 5),
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    'http_req_duration{rpc:Generate}': [`p(95)<${P95_MS}`],
  },
};

export function setup(): void {
  if (!API_KEY) fail('set API_KEY (-e API_KEY=...): the gateway rejects unauthenticated calls');
}

interface GenerateResponse {
  generationId?: string;
  answer?: string;
  citations?: unknown[];
}

export default function (): void {
  const res = http.post(GENERATE_URL, JSON.stringify({ query: QUERY }), {
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
    'has a generation id': () => typeof body?.generationId === 'string' && body.generationId.length > 0,
  });
}

function parse(body: unknown): GenerateResponse | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as GenerateResponse;
  } catch {
    return undefined;
  }
}
