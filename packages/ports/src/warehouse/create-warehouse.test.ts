import { describe, expect, it } from '@jest/globals';
import { isDomainError } from '../errors.js';
import { createWarehouse } from './create-warehouse.js';
import { databaseFromUrl } from './mongo-warehouse.js';

describe('createWarehouse', () => {
  it('opens the embedded adapter for sqlite: URLs', async () => {
    const warehouse = await createWarehouse('sqlite::memory:');
    expect(warehouse.adapter).toBe('embedded');
    await warehouse.collection('c').insert({ _id: 'a' });
    expect(await warehouse.collection('c').count()).toBe(1);
    await warehouse.close();
  });

  it('builds the MongoDB adapter for mongodb: and mongodb+srv: URLs without connecting yet', async () => {
    for (const url of ['mongodb://127.0.0.1:1/db', 'mongodb+srv://cluster.example.invalid/db']) {
      const warehouse = await createWarehouse(url, { mongodb: { serverSelectionTimeoutMs: 100 } });
      expect(warehouse.adapter).toBe('mongodb');
      await warehouse.close();
    }
  });

  it('fails loudly for anything else, listing the accepted forms and hiding passwords', async () => {
    for (const url of ['postgres://u:secret@h/db', 'warehouse.db', '', 'SQLITE:x', 'mongodb:/nohost']) {
      const err = await createWarehouse(url).catch((e: unknown) => e);
      expect(isDomainError(err, 'invalid-argument')).toBe(true);
      const message = (err as Error).message;
      expect(message).toContain('sqlite:<path>');
      expect(message).toContain('mongodb://');
      expect(message).not.toContain('secret');
    }
  });
});

describe('databaseFromUrl', () => {
  it('reads the database from the URL path, defaulting to llmtwin', () => {
    expect(databaseFromUrl('mongodb://127.0.0.1:27017/?directConnection=true')).toBe('llmtwin');
    expect(databaseFromUrl('mongodb://127.0.0.1:27017')).toBe('llmtwin');
    expect(databaseFromUrl('mongodb://u:p%2Fw@h1:1,h2:2/twin?replicaSet=rs')).toBe('twin');
    expect(databaseFromUrl('mongodb+srv://cluster.example.com/prod_db')).toBe('prod_db');
    expect(databaseFromUrl('mongodb://h/?authSource=admin/x')).toBe('llmtwin');
  });
});
