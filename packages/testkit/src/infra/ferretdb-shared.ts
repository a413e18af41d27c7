// What the local FerretDB (ferretdb.ts) and the container (testcontainers.ts) share: the start options, the
// pinned version, the URL and the readiness probe. A leaf, so that neither of the two imports the other.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { MongoClient } from 'mongodb';

import type { InfraLog } from './backend.js';
import { toolsDir } from './paths.js';

export interface FerretDbStartOptions {
  /** MongoDB wire-protocol port on 127.0.0.1; a free one by default. */
  readonly port?: number;
  /** Folder for the SQLite files, kept after the run; a temporary one by default. Local mode only. */
  readonly dataDir?: string;
  readonly startTimeoutMs?: number;
  readonly log?: InfraLog;
}

const FERRETDB_MODULE = 'github.com/FerretDB/FerretDB';

/** The FerretDB version required in tools/ferretdb/go.mod, the single place to change it. */
export function pinnedFerretDbVersion(): string {
  const goMod = readFileSync(path.join(toolsDir('ferretdb'), 'go.mod'), 'utf8');
  const match = new RegExp(`${FERRETDB_MODULE.replace(/\./g, '\\.')}\\s+(v[^\\s]+)`).exec(goMod);
  if (match?.[1] === undefined) throw new Error(`tools/ferretdb/go.mod does not require ${FERRETDB_MODULE}`);
  return match[1];
}

export function mongoUrl(host: string, port: number): string {
  return `mongodb://${host}:${port}/?directConnection=true&retryWrites=false`;
}

/**
 * Ready means a driver's ping succeeds. Returns the server's own version: FerretDB's (`v1.24.2`) where it
 * says, else the MongoDB version it reports (`mongodb 7.0.x`).
 */
export async function mongoServerVersion(url: string): Promise<string> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    const info = await client.db('admin').command({ buildInfo: 1 });
    if (typeof info.ferretdbVersion === 'string') return info.ferretdbVersion;
    return `mongodb ${String(info.version)}`;
  } finally {
    await client.close();
  }
}
