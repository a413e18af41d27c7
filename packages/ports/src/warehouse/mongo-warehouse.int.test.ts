// The warehouse contract against a real MongoDB-compatible server (FerretDB v1 from the test harness, or
// MongoDB where LLMTWIN_TEST_MONGODB_URL points at one), plus what only a server can show: outages.

import { afterAll, describe, expect, it } from '@jest/globals';
import { poll } from '@llmtwin/runtime/poll.fixture';
import { startFerretDb, testBackendUrl, type FerretDbHandle } from '@llmtwin/testkit';
import { MongoClient } from 'mongodb';
import { isDomainError } from '../errors.js';
import { MongoWarehouse } from './mongo-warehouse.js';
import type { Warehouse } from './warehouse.port.js';
import { describeWarehouseContract } from './warehouse.contract.js';

const run = `${Date.now().toString(36)}_${process.pid}`;

describeWarehouseContract('mongodb', async () => {
  const url = testBackendUrl('mongodb');
  const databaseName = `wh_contract_${run}`;
  const warehouse = new MongoWarehouse({ url, databaseName });
  return {
    warehouse,
    cleanup: async () => {
      await warehouse.close();
      const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
      try {
        await client.db(databaseName).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
});

/** Settles with ping's outcome, or 'still waiting' when it takes longer than `ms`. */
async function pingOutcome(warehouse: Warehouse, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`still waiting after ${ms} ms`), ms);
  });
  const outcome = warehouse.ping().then(
    () => 'ok',
    (err: unknown) => (isDomainError(err) ? err.kind : `not a DomainError: ${String(err)}`),
  );
  try {
    return await Promise.race([outcome, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Pings until it succeeds (the server just restarted); past the deadline, fails with the last outcome. */
function pingUntilOk(warehouse: Warehouse): Promise<string> {
  return poll(() => pingOutcome(warehouse, 10_000), {
    what: 'a ping to succeed after the restart',
    timeoutMs: 60_000,
    intervalMs: 500,
    until: (outcome) => outcome === 'ok',
  });
}

describe('mongodb warehouse during a server outage', () => {
  let server: FerretDbHandle | undefined;
  const warehouses: Warehouse[] = [];
  afterAll(async () => {
    for (const w of warehouses) await w.close();
    await server?.dispose();
  });

  it('fails ping fast while the server is down and works again, with the same object, once it is back', async () => {
    server = await startFerretDb();
    const warehouse = new MongoWarehouse({ url: server.url, databaseName: 'outage' });
    warehouses.push(warehouse);
    const docs = warehouse.collection('docs');
    await warehouse.ping();
    await docs.put({ _id: 'kept', n: 1 });

    await server.stop();
    expect(await pingOutcome(warehouse, 5000)).toBe('unavailable');
    const during = await docs.get('kept').catch((e: unknown) => e);
    expect(isDomainError(during, 'unavailable')).toBe(true);

    await server.restart();
    expect(await pingUntilOk(warehouse)).toBe('ok');
    expect(await docs.get('kept')).toEqual({ _id: 'kept', n: 1 });
    expect(await docs.update('kept', { inc: { n: 1 } })).toEqual({ _id: 'kept', n: 2 });

    // A crash (SIGKILL) rather than a clean stop looks the same to the adapter.
    await server.kill();
    expect(await pingOutcome(warehouse, 5000)).toBe('unavailable');
    await server.restart();
    expect(await pingUntilOk(warehouse)).toBe('ok');
    expect(await docs.get('kept')).toEqual({ _id: 'kept', n: 2 });
  }, 180_000);

  it('starts while the server is down and connects once it comes up', async () => {
    server ??= await startFerretDb();
    await server.stop();
    const warehouse = new MongoWarehouse({ url: server.url, databaseName: 'late' });
    warehouses.push(warehouse);
    expect(await pingOutcome(warehouse, 5000)).toBe('unavailable');
    const early = await warehouse
      .collection('docs')
      .insert({ _id: 'a' })
      .catch((e: unknown) => e);
    expect(isDomainError(early, 'unavailable')).toBe(true);
    await server.restart();
    expect(await pingUntilOk(warehouse)).toBe('ok');
    await warehouse.collection('docs').insert({ _id: 'a' });
    expect(await warehouse.collection('docs').get('a')).toEqual({ _id: 'a' });
  }, 120_000);

  it('reports the server version', async () => {
    const warehouse = new MongoWarehouse({ url: testBackendUrl('mongodb') });
    warehouses.push(warehouse);
    expect(await warehouse.version()).toMatch(/^mongodb \d+\.\d+/);
  });
});
