import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import Database from 'better-sqlite3';
import { isDomainError } from '../errors.js';
import { EmbeddedWarehouse, parseSqliteUrl } from './embedded-warehouse.js';
import { describeWarehouseContract } from './warehouse.contract.js';

const temps: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'llmtwin-warehouse-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describeWarehouseContract('embedded (SQLite file)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmtwin-warehouse-contract-'));
  const warehouse = new EmbeddedWarehouse({ path: join(dir, 'warehouse.db') });
  return {
    warehouse,
    cleanup: async () => {
      await warehouse.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('embedded warehouse', () => {
  it('parses sqlite URLs', () => {
    expect(parseSqliteUrl('sqlite:./data/w.db')).toBe('./data/w.db');
    expect(parseSqliteUrl('sqlite:///var/lib/w.db')).toBe('/var/lib/w.db');
    expect(parseSqliteUrl('sqlite::memory:')).toBe(':memory:');
    expect(() => parseSqliteUrl('sqlite:')).toThrow(/file path/);
  });

  it('keeps data in the file across reopening, and creates missing folders', async () => {
    const path = join(tempDir(), 'nested', 'deeper', 'w.db');
    const first = new EmbeddedWarehouse({ path });
    await first.collection('docs').insert({ _id: 'a', bytes: new Uint8Array([0xff, 0]) });
    await first
      .collection('docs')
      .ensureIndex({ fields: [{ field: 'url', direction: 'asc' }], unique: true });
    await first.close();
    const second = new EmbeddedWarehouse({ path });
    const docs = second.collection('docs');
    expect(await docs.get('a')).toEqual({ _id: 'a', bytes: new Uint8Array([0xff, 0]) });
    await docs.insert({ _id: 'b', url: 'u' });
    await expect(docs.insert({ _id: 'c', url: 'u' })).rejects.toMatchObject({ kind: 'already-exists' });
    await second.close();
  });

  it("shares one file between connections (WAL): each sees the other's committed writes", async () => {
    const path = join(tempDir(), 'w.db');
    const a = new EmbeddedWarehouse({ path });
    const b = new EmbeddedWarehouse({ path });
    await a.collection('c').insert({ _id: 'x', n: 1 });
    expect(await b.collection('c').get('x')).toEqual({ _id: 'x', n: 1 });
    await b.collection('c').update('x', { inc: { n: 1 } });
    expect(await a.collection('c').get('x')).toEqual({ _id: 'x', n: 2 });
    await a.close();
    await b.close();
  });

  it("reports a write blocked by another process's lock as unavailable, after the busy timeout", async () => {
    const path = join(tempDir(), 'w.db');
    const warehouse = new EmbeddedWarehouse({ path, busyTimeoutMs: 50 });
    const docs = warehouse.collection('c');
    await docs.insert({ _id: 'x', n: 1 });
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const err = await docs.update('x', { inc: { n: 1 } }).catch((e: unknown) => e);
      expect(isDomainError(err, 'unavailable')).toBe(true);
      expect(await docs.get('x')).toEqual({ _id: 'x', n: 1 });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await docs.update('x', { inc: { n: 1 } })).toEqual({ _id: 'x', n: 2 });
    await warehouse.close();
  });

  it('stores records as JSON text, bytes as {"$binary": base64}, one table per collection', async () => {
    const path = join(tempDir(), 'w.db');
    const warehouse = new EmbeddedWarehouse({ path });
    await warehouse
      .collection('raw.docs')
      .insert({ _id: 'a', title: 'T', bytes: new Uint8Array([1, 2, 255]) });
    await warehouse.close();
    const db = new Database(path, { readonly: true });
    const row = db.prepare('SELECT _id, doc FROM "c_raw.docs"').get() as { _id: string; doc: string };
    db.close();
    expect(row).toEqual({ _id: 'a', doc: '{"title":"T","bytes":{"$binary":"AQL/"}}' });
  });

  it('answers equality filters on an indexed field from the index', async () => {
    const path = join(tempDir(), 'w.db');
    const warehouse = new EmbeddedWarehouse({ path });
    const docs = warehouse.collection('docs');
    await docs.ensureIndex({
      name: 'by_url',
      fields: [{ field: 'source.url', direction: 'asc' }],
      unique: true,
    });
    await docs.ensureIndex({ name: 'by_author', fields: [{ field: 'author', direction: 'asc' }] });
    await warehouse.close();
    const db = new Database(path, { readonly: true });
    const plan = (sql: string) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x') as { detail: string }[])
        .map((r) => r.detail)
        .join('\n');
    // The same SQL the adapter generates for { 'source.url': 'x' } and { author: 'x' }.
    expect(
      plan(
        `SELECT _id FROM "c_docs" WHERE (json_extract(doc, '$."source"."url"') = ? AND json_type(doc, '$."source"."url"') = 'text')`,
      ),
    ).toMatch(/USING INDEX "?c_docs\$by_url/);
    expect(
      plan(
        `SELECT _id FROM "c_docs" WHERE (json_extract(doc, '$."author"') = ? AND json_type(doc, '$."author"') = 'text')`,
      ),
    ).toMatch(/USING INDEX "?c_docs\$by_author/);
    db.close();
  });

  it('fails with unavailable once closed', async () => {
    const warehouse = new EmbeddedWarehouse({ path: ':memory:' });
    const docs = warehouse.collection('c');
    await warehouse.ping();
    await warehouse.close();
    await expect(warehouse.ping()).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(docs.get('a')).rejects.toMatchObject({ kind: 'unavailable' });
    await warehouse.close(); // idempotent
  });
});
