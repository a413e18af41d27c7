// What the local Kafka (kafka.ts) and the container (testcontainers.ts) share: the start options, the pinned
// version and the readiness probe. A leaf, so that neither of the two imports the other.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Kafka, logLevel } from 'kafkajs';

import type { InfraLog } from './backend.js';
import { toolsDir } from './paths.js';
import { portAccepts } from './ports.js';

export interface KafkaStartOptions {
  /** Broker (PLAINTEXT) port on 127.0.0.1; a free one by default. */
  readonly port?: number;
  /** KRaft controller port; a free one by default. Local mode only. */
  readonly controllerPort?: number;
  /** Data folder, kept after the run; a temporary one (deleted on dispose/exit) by default. Local mode only. */
  readonly dataDir?: string;
  /** Maximum JVM heap. The default, 512 MiB, is plenty for tests on a small machine. */
  readonly heapMb?: number;
  readonly startTimeoutMs?: number;
  readonly log?: InfraLog;
}

/** The Kafka version pinned in tools/kafka/pom.xml, the single place to change it. */
export function pinnedKafkaVersion(): string {
  const pom = readFileSync(path.join(toolsDir('kafka'), 'pom.xml'), 'utf8');
  const match = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom);
  if (match?.[1] === undefined) throw new Error('tools/kafka/pom.xml has no <kafka.version> property');
  return match[1].trim();
}

/** Ready means the broker answers a metadata request through a client, not just that its port is bound. */
export async function kafkaAnswers(brokers: readonly string[]): Promise<boolean> {
  const [first] = brokers;
  if (first === undefined) return false;
  const [host = '127.0.0.1', port = '9092'] = first.split(':');
  if (!(await portAccepts(Number(port), host))) return false;
  const admin = new Kafka({
    clientId: 'llmtwin-infra-readiness',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } finally {
    await admin.disconnect();
  }
}
