const VARIABLES = {
  kafka: 'LLMTWIN_TEST_KAFKA_URL',
  mongodb: 'LLMTWIN_TEST_MONGODB_URL',
  weaviate: 'LLMTWIN_TEST_WEAVIATE_URL',
  s3: 'LLMTWIN_TEST_S3_URL',
} as const;

/**
 * The URL of a shared backend started by the integration project's global setup. Throws, saying how to
 * get one, when the test runs outside that project (a bare `jest path/to/x.int.test.ts` without it).
 */
export function testBackendUrl(backend: keyof typeof VARIABLES): string {
  const variable = VARIABLES[backend];
  const value = process.env[variable];
  if (value === undefined || value === '') {
    throw new Error(
      `${variable} is not set: run integration tests with --selectProjects integration (its global setup starts the backends)`,
    );
  }
  return value;
}

/** `kafka://host:port[,host:port]` → the broker list kafkajs wants. */
export function kafkaBrokers(url: string): string[] {
  const match = /^kafka:\/\/([^/?#]+)/.exec(url);
  if (match?.[1] === undefined) throw new Error(`not a kafka:// URL: ${url}`);
  return match[1].split(',');
}

/** `http://host:port?grpc=port` → what weaviate-client's connectToLocal/connectToCustom need. */
export function weaviateEndpoint(url: string): {
  host: string;
  port: number;
  grpcPort: number;
  secure: boolean;
} {
  const parsed = new URL(url);
  const secure = parsed.protocol === 'https:';
  const port = Number(parsed.port || (secure ? 443 : 80));
  const grpc = parsed.searchParams.get('grpc');
  if (grpc === null)
    throw new Error(`weaviate URL ${url} lacks ?grpc=PORT (weaviate-client needs the gRPC port too)`);
  return { host: parsed.hostname, port, grpcPort: Number(grpc), secure };
}
