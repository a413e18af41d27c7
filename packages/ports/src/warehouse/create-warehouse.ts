// Chooses the warehouse adapter from one URL. The scheme decides, never the environment: an unknown or
// missing scheme is a configuration error, not a reason to fall back to another adapter.

import { invalidArgument } from '../errors.js';
import { EmbeddedWarehouse, parseSqliteUrl, type EmbeddedWarehouseOptions } from './embedded-warehouse.js';
import { MongoWarehouse, type MongoWarehouseOptions } from './mongo-warehouse.js';
import type { Warehouse } from './warehouse.port.js';

export interface CreateWarehouseOptions {
  /** Embedded adapter settings (the path comes from the URL). */
  embedded?: Omit<EmbeddedWarehouseOptions, 'path'>;
  /** MongoDB adapter settings (the URL is the one given). */
  mongodb?: Omit<MongoWarehouseOptions, 'url'>;
}

export const WAREHOUSE_URL_FORMS = [
  'sqlite:<path>  (embedded file, e.g. sqlite:./data/warehouse.db; sqlite::memory: for tests)',
  'mongodb://[user:pass@]host[:port][,host…]/<database>[?options]  (MongoDB or FerretDB; database defaults to llmtwin)',
  'mongodb+srv://[user:pass@]host/<database>[?options]',
];

/**
 * Opens the warehouse named by `url`. The embedded file is opened at once (errors surface here); the
 * MongoDB client connects on first use, so a service can start while the server is down and report
 * NOT_SERVING through ping() until it answers.
 */
export async function createWarehouse(url: string, options?: CreateWarehouseOptions): Promise<Warehouse> {
  if (typeof url === 'string' && url.startsWith('sqlite:')) {
    return new EmbeddedWarehouse({ ...options?.embedded, path: parseSqliteUrl(url) });
  }
  if (typeof url === 'string' && (url.startsWith('mongodb://') || url.startsWith('mongodb+srv://'))) {
    return new MongoWarehouse({ ...options?.mongodb, url });
  }
  throw invalidArgument(
    `unsupported warehouse URL ${JSON.stringify(redact(url))}; accepted forms:\n  ${WAREHOUSE_URL_FORMS.join('\n  ')}`,
    [{ field: 'warehouse url', message: 'unsupported scheme' }],
  );
}

/** Hides a password so the error can be logged. */
function redact(url: unknown): string {
  return typeof url === 'string' ? url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@') : String(url);
}
