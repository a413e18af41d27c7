import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { MongoClient, MongoServerError } from 'mongodb';

import type { FerretDbHandle } from './backend.js';
import { startFerretDb } from './ferretdb.js';
import { testBackendUrl } from './test-env.js';

// Private servers start and restart inside tests; jest ignores testTimeout set per project.
jest.setTimeout(120_000);

describe('the MongoDB-compatible server started by the harness', () => {
  let client: MongoClient;
  beforeAll(async () => {
    client = new MongoClient(testBackendUrl('mongodb'), { serverSelectionTimeoutMS: 5000 });
    await client.connect();
  });
  afterAll(async () => {
    await client.close();
  });

  test('inserts and finds documents', async () => {
    const docs = client
      .db(`infra_${Date.now()}`)
      .collection<{ _id: string; title: string; tags: string[] }>('documents');
    await docs.insertMany([
      { _id: 'a', title: 'Kafka in practice', tags: ['kafka'] },
      { _id: 'b', title: 'Vectors', tags: ['weaviate', 'rag'] },
    ]);
    const found = await docs.find({ tags: 'rag' }).toArray();
    expect(found).toEqual([{ _id: 'b', title: 'Vectors', tags: ['weaviate', 'rag'] }]);
  });

  test('enforces a unique index with the duplicate-key code (11000)', async () => {
    const sources = client.db(`infra_${Date.now()}`).collection('sources');
    await sources.createIndex({ url: 1 }, { unique: true });
    await sources.insertOne({ url: 'https://example.org/a' });
    const duplicate = sources.insertOne({ url: 'https://example.org/a' });
    await expect(duplicate).rejects.toBeInstanceOf(MongoServerError);
    await expect(duplicate).rejects.toMatchObject({ code: 11000 });
  });

  test('upserts with $set/$inc/$addToSet and groups with an aggregation', async () => {
    const counters = client
      .db(`infra_${Date.now()}`)
      .collection<{ _id: string; author: string; n: number; tags: string[] }>('counters');
    for (const tag of ['x', 'y', 'x']) {
      await counters.updateOne(
        { _id: 'c1' },
        { $set: { author: 'ana' }, $inc: { n: 1 }, $addToSet: { tags: tag } },
        { upsert: true },
      );
    }
    await counters.updateOne({ _id: 'c2' }, { $set: { author: 'ana' }, $inc: { n: 5 } }, { upsert: true });
    expect(await counters.findOne({ _id: 'c1' })).toEqual({
      _id: 'c1',
      author: 'ana',
      n: 3,
      tags: ['x', 'y'],
    });
    const totals = await counters
      .aggregate([{ $match: { author: 'ana' } }, { $group: { _id: '$author', total: { $sum: '$n' } } }])
      .toArray();
    expect(totals).toEqual([{ _id: 'ana', total: 8 }]);
  });

  describe('a private server', () => {
    let ferretdb: FerretDbHandle | undefined;
    afterAll(async () => {
      await ferretdb?.dispose();
    });

    test('killed, it refuses clients; restarted on the same port, its data is still there', async () => {
      ferretdb = await startFerretDb();
      const own = new MongoClient(ferretdb.url, { serverSelectionTimeoutMS: 1000 });
      try {
        await own
          .db('app')
          .collection('docs')
          .insertOne({ _id: 'kept' } as never);
        await ferretdb.kill();
        await expect(own.db('admin').command({ ping: 1 })).rejects.toThrow();
        await ferretdb.restart();
        expect(await own.db('app').collection('docs').findOne({})).toEqual({ _id: 'kept' });
      } finally {
        await own.close();
      }
    });
  });
});
