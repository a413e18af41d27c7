// Test code, and long on purpose: one list of cases per port, kept in one file so that every adapter runs
// exactly the same list (splitting it would let an adapter's test file import only part of the contract).
// The one behaviour every warehouse adapter must show. Each adapter's test file calls
// describeWarehouseContract with a factory for its backend; a test here that passes on one adapter and
// fails on another is a bug in the adapter (or a gap to write down in docs/warehouse.md), never a reason to
// special-case the test.

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isDomainError } from '../errors.js';
import type { Collection, Record, Warehouse } from './warehouse.port.js';

export type WarehouseFactory = () => Promise<{ warehouse: Warehouse; cleanup: () => Promise<void> }>;

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return isDomainError(err) ? err.kind : `not a DomainError: ${String(err)}`;
  }
  return 'no error';
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

const ids = (records: readonly Record[]): string[] => records.map((r) => r._id);

export function describeWarehouseContract(name: string, factory: WarehouseFactory): void {
  describe(`warehouse contract: ${name}`, () => {
    let warehouse: Warehouse;
    let cleanup: () => Promise<void>;
    let counter = 0;
    const run = Date.now().toString(36);
    /** A collection no other test uses. */
    const fresh = <T extends Record = Record>(): Collection<T> =>
      warehouse.collection<T>(`ct_${run}_${++counter}`);

    beforeAll(async () => {
      ({ warehouse, cleanup } = await factory());
    });
    afterAll(async () => {
      await cleanup?.();
    });

    describe('basics', () => {
      it('pings and reports a version', async () => {
        await warehouse.ping();
        const version = await warehouse.version();
        expect(typeof version).toBe('string');
        expect(version.length).toBeGreaterThan(0);
        expect(['embedded', 'mongodb']).toContain(warehouse.adapter);
      });

      it('gets one record, or undefined when the id is unknown', async () => {
        const c = fresh();
        await c.insert({ _id: 'a', title: 'A', n: 1 });
        expect(await c.get('a')).toEqual({ _id: 'a', title: 'A', n: 1 });
        expect(await c.get('nope')).toBeUndefined();
        expect(c.name).toMatch(/^ct_/);
      });

      it('gets many records in the order asked, skipping unknown ids and repeats', async () => {
        const c = fresh();
        for (const id of ['a', 'b', 'c', 'd']) await c.insert({ _id: id, v: id.toUpperCase() });
        const got = await c.getMany(['c', 'x', 'a', 'c', 'd']);
        expect(got).toEqual([
          { _id: 'c', v: 'C' },
          { _id: 'a', v: 'A' },
          { _id: 'd', v: 'D' },
        ]);
        expect(await c.getMany([])).toEqual([]);
      });

      it('refuses to insert an id that exists, leaving the stored record alone', async () => {
        const c = fresh();
        await c.insert({ _id: 'a', v: 1 });
        expect(await kindOf(c.insert({ _id: 'a', v: 2 }))).toBe('already-exists');
        expect(await c.get('a')).toEqual({ _id: 'a', v: 1 });
      });

      it('puts: inserts, then replaces the whole record', async () => {
        const c = fresh();
        await c.put({ _id: 'a', keep: 1, drop: true });
        await c.put({ _id: 'a', keep: 2 });
        expect(await c.get('a')).toEqual({ _id: 'a', keep: 2 });
        expect(await c.count()).toBe(1);
      });

      it('puts many at once: inserts the new ones, replaces the stored ones whole', async () => {
        const c = fresh();
        await c.put({ _id: 'a', keep: 1, drop: true });
        await c.putMany([
          { _id: 'a', keep: 2 },
          { _id: 'b', keep: 3 },
        ]);
        await c.putMany([]);
        expect(await c.get('a')).toEqual({ _id: 'a', keep: 2 });
        expect(await c.get('b')).toEqual({ _id: 'b', keep: 3 });
        expect(await c.count()).toBe(2);
      });

      it('deletes one record and reports whether it existed', async () => {
        const c = fresh();
        await c.insert({ _id: 'a' });
        expect(await c.delete('a')).toBe(true);
        expect(await c.delete('a')).toBe(false);
        expect(await c.get('a')).toBeUndefined();
      });

      it('deletes many by filter and returns how many went', async () => {
        const c = fresh();
        for (let i = 0; i < 6; i++) await c.insert({ _id: `r${i}`, even: i % 2 === 0 });
        expect(await c.deleteMany({ even: true })).toBe(3);
        expect(ids(await c.find({}))).toEqual(['r1', 'r3', 'r5']);
        expect(await c.deleteMany({ even: true })).toBe(0);
        expect(await c.deleteMany({})).toBe(3);
        expect(await c.count()).toBe(0);
      });

      it('counts all records or those matching a filter', async () => {
        const c = fresh();
        expect(await c.count()).toBe(0);
        for (let i = 0; i < 5; i++) await c.insert({ _id: `r${i}`, n: i });
        expect(await c.count()).toBe(5);
        expect(await c.count({})).toBe(5);
        expect(await c.count({ n: { $gte: 3 } })).toBe(2);
      });

      it('keeps collections apart', async () => {
        const one = fresh();
        const two = fresh();
        await one.insert({ _id: 'same', from: 'one' });
        await two.insert({ _id: 'same', from: 'two' });
        await two.insert({ _id: 'only-two' });
        expect(await one.get('same')).toEqual({ _id: 'same', from: 'one' });
        expect(await one.get('only-two')).toBeUndefined();
        expect(await one.deleteMany({})).toBe(1);
        expect(await two.count()).toBe(2);
        expect(await two.get('same')).toEqual({ _id: 'same', from: 'two' });
      });
    });

    describe('values', () => {
      it('round-trips binary payloads byte for byte, including bytes that are not UTF-8', async () => {
        const c = fresh();
        const all = new Uint8Array(256).map((_, i) => i);
        const invalidUtf8 = new Uint8Array([
          0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0xff, 0xfe, 0x00,
        ]);
        const view = new Uint8Array(new Uint8Array([9, 9, 1, 2, 3, 9]).buffer, 2, 3); // a view into a larger buffer
        await c.insert({
          _id: 'bin',
          all,
          invalidUtf8,
          empty: new Uint8Array(0),
          view,
          nested: { list: [new Uint8Array([1]), 'text', new Uint8Array([0xff, 0x00])] },
        });
        const got = await c.get('bin');
        expect(got).toBeDefined();
        const check = (value: unknown, expected: number[]) => {
          expect(value).toBeInstanceOf(Uint8Array);
          expect(Array.from(value as Uint8Array)).toEqual(expected);
        };
        check(got?.['all'], Array.from(all));
        check(got?.['invalidUtf8'], Array.from(invalidUtf8));
        check(got?.['empty'], []);
        check(got?.['view'], [1, 2, 3]);
        const list = (got?.['nested'] as { list: unknown[] }).list;
        check(list[0], [1]);
        expect(list[1]).toBe('text');
        check(list[2], [0xff, 0x00]);

        await c.update('bin', { set: { 'nested.more': new Uint8Array([0x80, 0x81]) } });
        check(((await c.get('bin'))?.['nested'] as { more: unknown }).more, [0x80, 0x81]);
        const [found] = await c.find({ _id: 'bin' });
        check(found?.['invalidUtf8'], Array.from(invalidUtf8));
      });

      it('round-trips unicode strings and finds them by equality', async () => {
        const c = fresh();
        const strings = [
          'héllo wörld',
          '日本語のテキスト',
          '😀👍🏽👨‍👩‍👧',
          'עברית ومرحبا',
          'e\u0301 (combining) vs \u00e9',
          'nul\u0000inside',
          'quote\' "double" \\ back',
          '',
        ];
        for (const [i, s] of strings.entries()) await c.insert({ _id: `s${i}`, s, nested: { s } });
        for (const [i, s] of strings.entries()) {
          expect(await c.get(`s${i}`)).toEqual({ _id: `s${i}`, s, nested: { s } });
          expect(ids(await c.find({ s }))).toEqual([`s${i}`]);
          expect(ids(await c.find({ 'nested.s': s }))).toEqual([`s${i}`]);
        }
        await c.insert({ _id: 'ü-ñ-😀', v: 1 });
        expect(await c.get('ü-ñ-😀')).toEqual({ _id: 'ü-ñ-😀', v: 1 });
      });

      it('round-trips nested objects, arrays, numbers, booleans and nulls', async () => {
        const c = fresh();
        const record = {
          _id: 'n',
          int: 42,
          negative: -7,
          float: 0.1 + 0.2,
          big: Number.MAX_SAFE_INTEGER,
          huge: 1e21,
          tiny: 5e-324,
          yes: true,
          no: false,
          nothing: null,
          emptyObject: {},
          emptyArray: [],
          deep: { a: { b: { c: { d: [1, 'two', { three: 3, list: [4, { five: [5] }] }, null, true] } } } },
          rows: [{ cells: [1, 2] }, { cells: [3, 4] }],
        };
        await c.insert(record);
        expect(await c.get('n')).toEqual(record);
      });

      it('refuses arrays directly inside arrays (FerretDB v1 cannot store them)', async () => {
        const c = fresh();
        expect(await kindOf(c.insert({ _id: 'm', matrix: [[1, 2]] }))).toBe('invalid-argument');
        await c.insert({ _id: 'm', rows: [] });
        expect(await kindOf(c.update('m', { set: { rows: [[1]] } }))).toBe('invalid-argument');
        expect(await c.get('m')).toEqual({ _id: 'm', rows: [] });
      });

      it('drops undefined properties rather than storing them', async () => {
        const c = fresh();
        await c.insert({ _id: 'u', a: 1, b: undefined });
        const got = await c.get('u');
        expect(got).toEqual({ _id: 'u', a: 1 });
        expect(Object.keys(got ?? {})).not.toContain('b');
      });

      it('rejects values and names the port does not allow', async () => {
        const c = fresh();
        expect(await kindOf(c.insert({ _id: 'd', when: new Date() as never }))).toBe('invalid-argument');
        expect(await kindOf(c.insert({ _id: 'n', x: Number.NaN }))).toBe('invalid-argument');
        expect(await kindOf(c.insert({ _id: 'k', nested: { $binary: 'AA==' } }))).toBe('invalid-argument');
        expect(await kindOf(c.insert({ _id: 'k', 'a.b': 1 }))).toBe('invalid-argument');
        expect(await kindOf(c.insert({ _id: '' }))).toBe('invalid-argument');
        expect(await kindOf(c.insert({ _id: 5 as never }))).toBe('invalid-argument');
        expect(await kindOf(c.find({ "a') OR 1=1 --": 1 }))).toBe('invalid-argument');
        expect(await kindOf(c.find({ 'a."b': 1 }))).toBe('invalid-argument');
        expect(await kindOf(c.find({ a: { $regex: 'x' } as never }))).toBe('invalid-argument');
        expect(await kindOf(c.find({ a: { $in: 'x' } as never }))).toBe('invalid-argument');
        expect(await kindOf(c.find({ a: {} as never }))).toBe('invalid-argument');
        expect(await kindOf(c.find({}, { sort: [{ field: 'a; DROP TABLE x', direction: 'asc' }] }))).toBe(
          'invalid-argument',
        );
        expect(await kindOf(c.find({}, { limit: -1 }))).toBe('invalid-argument');
        expect(await kindOf(c.update('x', { set: { _id: 'y' } }))).toBe('invalid-argument');
        expect(() => warehouse.collection('bad name; --')).toThrow();
        expect(() => warehouse.collection('$cmd')).toThrow();
        expect(await c.count()).toBe(0);
      });

      it('reports cancellation when the signal is already aborted', async () => {
        const c = fresh();
        const controller = new AbortController();
        controller.abort();
        expect(await kindOf(c.insert({ _id: 'a' }, controller.signal))).toBe('cancelled');
        expect(await kindOf(c.get('a', controller.signal))).toBe('cancelled');
        expect(await kindOf(warehouse.ping(controller.signal))).toBe('cancelled');
        expect(await c.get('a')).toBeUndefined();
      });
    });

    describe('replaceIf', () => {
      it('replaces only when the stored record matches the expected filter (version CAS)', async () => {
        const c = fresh();
        await c.insert({ _id: 'doc', version: 1, body: 'one' });
        expect(await c.replaceIf({ _id: 'doc', version: 2, body: 'two' }, { version: 1 })).toBe(true);
        expect(await c.replaceIf({ _id: 'doc', version: 3, body: 'stale' }, { version: 1 })).toBe(false);
        expect(await c.get('doc')).toEqual({ _id: 'doc', version: 2, body: 'two' });
        expect(await c.replaceIf({ _id: 'doc', version: 3, body: 'three' }, { version: { $lt: 3 } })).toBe(
          true,
        );
        expect(await c.replaceIf({ _id: 'missing', version: 1 }, { version: 0 })).toBe(false);
        expect(await c.get('missing')).toBeUndefined();
        expect(await c.replaceIf({ _id: 'doc', version: 4 }, {})).toBe(true);
        expect(await c.get('doc')).toEqual({ _id: 'doc', version: 4 });
      });

      it('with expected null, writes only when no record exists', async () => {
        const c = fresh();
        expect(await c.replaceIf({ _id: 'a', v: 1 }, null)).toBe(true);
        expect(await c.replaceIf({ _id: 'a', v: 2 }, null)).toBe(false);
        expect(await c.get('a')).toEqual({ _id: 'a', v: 1 });
      });

      it('lets exactly one of many concurrent racers win', async () => {
        const c = fresh();
        await c.insert({ _id: 'doc', version: 1, by: 'nobody' });
        const racers = Array.from({ length: 12 }, (_, i) =>
          c.replaceIf({ _id: 'doc', version: 2, by: `racer${i}` }, { version: 1 }),
        );
        const results = await Promise.all(racers);
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        expect(await c.get('doc')).toEqual({ _id: 'doc', version: 2, by: `racer${winner}` });

        const creators = Array.from({ length: 12 }, (_, i) =>
          c.replaceIf({ _id: 'new', by: `creator${i}` }, null),
        );
        const created = await Promise.all(creators);
        expect(created.filter(Boolean)).toHaveLength(1);
        expect(await c.get('new')).toEqual({ _id: 'new', by: `creator${created.indexOf(true)}` });
      });

      it('still reports a unique-index violation as already-exists', async () => {
        const c = fresh();
        await c.ensureIndex({ fields: [{ field: 'url', direction: 'asc' }], unique: true });
        await c.insert({ _id: 'a', url: 'https://x' });
        expect(await kindOf(c.replaceIf({ _id: 'b', url: 'https://x' }, null))).toBe('already-exists');
        await c.insert({ _id: 'c', url: 'https://y', version: 1 });
        expect(await kindOf(c.replaceIf({ _id: 'c', url: 'https://x', version: 2 }, { version: 1 }))).toBe(
          'already-exists',
        );
        expect(await c.get('c')).toEqual({ _id: 'c', url: 'https://y', version: 1 });
      });
    });

    describe('update', () => {
      it('sets, unsets and increments, with dotted paths, and returns the record after', async () => {
        const c = fresh();
        await c.insert({ _id: 'a', n: 1, keep: 'k', meta: { drop: 1, stay: 2 }, gone: true });
        const after = await c.update('a', {
          set: { 'meta.added': 'x', 'fresh.deep.path': [1, 2], title: 'T' },
          unset: ['gone', 'meta.drop', 'never.there'],
          inc: { n: 2, counter: 5, 'stats.views': 1.5 },
        });
        const expected = {
          _id: 'a',
          n: 3,
          keep: 'k',
          meta: { stay: 2, added: 'x' },
          fresh: { deep: { path: [1, 2] } },
          title: 'T',
          counter: 5,
          stats: { views: 1.5 },
        };
        expect(after).toEqual(expected);
        expect(await c.get('a')).toEqual(expected);
      });

      it('applies only when the record also matches where', async () => {
        const c = fresh();
        await c.insert({ _id: 'a', status: 'pending', version: 1 });
        expect(
          await c.update('a', { set: { status: 'done' } }, { where: { status: 'running' } }),
        ).toBeUndefined();
        expect(await c.get('a')).toEqual({ _id: 'a', status: 'pending', version: 1 });
        expect(
          await c.update(
            'a',
            { set: { status: 'done' }, inc: { version: 1 } },
            { where: { status: 'pending', version: 1 } },
          ),
        ).toEqual({
          _id: 'a',
          status: 'done',
          version: 2,
        });
      });

      it('returns undefined for a missing record unless upsert is asked for', async () => {
        const c = fresh();
        expect(await c.update('ghost', { set: { a: 1 } })).toBeUndefined();
        expect(await c.get('ghost')).toBeUndefined();
        const created = await c.update(
          'ghost',
          { set: { a: 1, 'b.c': 'x' }, inc: { n: 3 }, unset: ['z'] },
          { upsert: true },
        );
        expect(created).toEqual({ _id: 'ghost', a: 1, b: { c: 'x' }, n: 3 });
        expect(await c.get('ghost')).toEqual(created);
        expect(await c.update('ghost', { inc: { n: 1 } }, { upsert: true })).toEqual({
          _id: 'ghost',
          a: 1,
          b: { c: 'x' },
          n: 4,
        });
      });

      it('with upsert and where: creates a missing record from the id and the update, never touches a non-matching one', async () => {
        const c = fresh();
        const created = await c.update(
          'a',
          { set: { version: 1, body: 'x' } },
          { where: { version: 0 }, upsert: true },
        );
        expect(created).toEqual({ _id: 'a', version: 1, body: 'x' });
        expect(
          await c.update('a', { set: { version: 9 } }, { where: { version: 0 }, upsert: true }),
        ).toBeUndefined();
        expect(await c.get('a')).toEqual({ _id: 'a', version: 1, body: 'x' });
        expect(await c.update('a', { set: { version: 2 } }, { where: { version: 1 }, upsert: true })).toEqual(
          { _id: 'a', version: 2, body: 'x' },
        );
      });

      it('with an empty update returns the record (and with upsert creates a bare one)', async () => {
        const c = fresh();
        expect(await c.update('a', {})).toBeUndefined();
        expect(await c.update('a', {}, { upsert: true })).toEqual({ _id: 'a' });
        expect(await c.update('a', {}, { where: { _id: 'a' } })).toEqual({ _id: 'a' });
      });

      it('increments atomically under concurrency', async () => {
        const c = fresh();
        await c.insert({ _id: 'counter', n: 0 });
        await Promise.all(Array.from({ length: 25 }, () => c.update('counter', { inc: { n: 1 } })));
        expect(await c.get('counter')).toEqual({ _id: 'counter', n: 25 });
      });

      it('refuses impossible or conflicting updates and leaves the record as it was', async () => {
        const c = fresh();
        await c.insert({ _id: 'a', s: 'text', n: 1, o: { x: 1 } });
        expect(await kindOf(c.update('a', { inc: { s: 1 } }))).toBe('failed-precondition');
        expect(await kindOf(c.update('a', { set: { 'n.sub': 1 } }))).toBe('failed-precondition');
        expect(await kindOf(c.update('a', { set: { o: 1, 'o.x': 2 } }))).toBe('invalid-argument');
        expect(await kindOf(c.update('a', { set: { n: 1 }, unset: ['n'] }))).toBe('invalid-argument');
        expect(await kindOf(c.update('a', { inc: { n: Number.POSITIVE_INFINITY } }))).toBe(
          'invalid-argument',
        );
        expect(await c.get('a')).toEqual({ _id: 'a', s: 'text', n: 1, o: { x: 1 } });
      });

      it('updates many and counts only the records that changed', async () => {
        const c = fresh();
        for (let i = 0; i < 6; i++) await c.insert({ _id: `r${i}`, group: i < 4 ? 'a' : 'b', flag: i === 0 });
        expect(await c.updateMany({ group: 'a' }, { set: { flag: true }, unset: ['nothing'] })).toBe(3);
        expect(await c.updateMany({ group: 'a' }, { set: { flag: true } })).toBe(0);
        expect(await c.updateMany({ group: 'b' }, { inc: { 'stats.n': 2 } })).toBe(2);
        expect(await c.find({ flag: true })).toHaveLength(4);
        expect(await c.get('r5')).toEqual({ _id: 'r5', group: 'b', flag: false, stats: { n: 2 } });
        expect(await c.updateMany({ group: 'zzz' }, { set: { x: 1 } })).toBe(0);
      });
    });

    describe('find', () => {
      const seed = async () => {
        const c = fresh();
        const records: Record[] = [
          { _id: 'a', n: 2, s: 'b', tag: 'x', nested: { level: 1 } },
          { _id: 'b', n: 1, s: 'b', tag: 'y', nested: { level: 2 } },
          { _id: 'c', n: 2, s: 'z', tag: 'x' },
          { _id: 'd', s: 'c', tag: null },
          { _id: 'e', n: null, s: 'a' },
          { _id: 'f', n: 'x', s: 'a' },
          { _id: 'g', n: 10, s: 'd', flag: true },
          { _id: 'h', n: -1.5, s: 'e', flag: false },
          { _id: 'i', n: '1', s: 'f', flag: 1 },
        ];
        for (const r of records) await c.insert(r);
        return c;
      };
      const byId = { sort: [] };

      it('matches equality, with MongoDB type bracketing (1 ≠ "1" ≠ true)', async () => {
        const c = await seed();
        expect(ids(await c.find({ n: 2 }, byId))).toEqual(['a', 'c']);
        expect(ids(await c.find({ n: { $eq: 2 } }))).toEqual(['a', 'c']);
        expect(ids(await c.find({ n: 1 }))).toEqual(['b']);
        expect(ids(await c.find({ n: '1' }))).toEqual(['i']);
        expect(ids(await c.find({ flag: true }))).toEqual(['g']);
        expect(ids(await c.find({ flag: 1 }))).toEqual(['i']);
        expect(ids(await c.find({ flag: false }))).toEqual(['h']);
        expect(ids(await c.find({ n: 2, s: 'z' }))).toEqual(['c']);
        expect(ids(await c.find({ 'nested.level': 2 }))).toEqual(['b']);
        expect(ids(await c.find({ _id: 'c' }))).toEqual(['c']);
        expect(ids(await c.find({ _id: 'nope' }))).toEqual([]);
      });

      it('treats null as "null or missing", like MongoDB', async () => {
        const c = await seed();
        expect(ids(await c.find({ n: null }))).toEqual(['d', 'e']);
        expect(ids(await c.find({ tag: null }))).toEqual(['d', 'e', 'f', 'g', 'h', 'i']);
        expect(ids(await c.find({ n: { $ne: null } }))).toEqual(['a', 'b', 'c', 'f', 'g', 'h', 'i']);
        expect(ids(await c.find({ 'nested.level': null }))).toEqual(['c', 'd', 'e', 'f', 'g', 'h', 'i']);
      });

      it('supports $ne, $in and $nin (including missing fields)', async () => {
        const c = await seed();
        expect(ids(await c.find({ tag: { $ne: 'x' } }))).toEqual(['b', 'd', 'e', 'f', 'g', 'h', 'i']);
        expect(ids(await c.find({ n: { $in: [1, 10, 'x'] } }))).toEqual(['b', 'f', 'g']);
        expect(ids(await c.find({ n: { $in: [null, -1.5] } }))).toEqual(['d', 'e', 'h']);
        expect(ids(await c.find({ flag: { $in: [true, false] } }))).toEqual(['g', 'h']);
        expect(ids(await c.find({ n: { $in: [] } }))).toEqual([]);
        expect(ids(await c.find({ n: { $nin: [2, null, 'x', '1'] } }))).toEqual(['b', 'g', 'h']);
        expect(ids(await c.find({ tag: { $nin: ['x'] } }))).toEqual(['b', 'd', 'e', 'f', 'g', 'h', 'i']);
        expect(ids(await c.find({ n: { $nin: [] } }))).toHaveLength(9);
        expect(ids(await c.find({ _id: { $in: ['a', 'c', 'zz'] } }))).toEqual(['a', 'c']);
        expect(ids(await c.find({ _id: { $nin: ['a', 'c'] } }))).toHaveLength(7);
      });

      it('compares ranges within one type only: numbers with numbers, strings with strings', async () => {
        const c = await seed();
        expect(ids(await c.find({ n: { $gt: 1 } }))).toEqual(['a', 'c', 'g']);
        expect(ids(await c.find({ n: { $gte: 1 } }))).toEqual(['a', 'b', 'c', 'g']);
        expect(ids(await c.find({ n: { $lt: 2 } }))).toEqual(['b', 'h']);
        expect(ids(await c.find({ n: { $lte: 2, $gt: -2 } }))).toEqual(['a', 'b', 'c', 'h']);
        expect(ids(await c.find({ n: { $gte: '' } }))).toEqual(['f', 'i']);
        expect(ids(await c.find({ s: { $gte: 'b', $lt: 'd' } }))).toEqual(['a', 'b', 'd']);
        expect(ids(await c.find({ _id: { $gt: 'f' } }))).toEqual(['g', 'h', 'i']);
        expect(ids(await c.find({ _id: { $lte: 'b' } }))).toEqual(['a', 'b']);
      });

      it('supports $exists on top-level and nested fields', async () => {
        const c = await seed();
        expect(ids(await c.find({ n: { $exists: false } }))).toEqual(['d']);
        expect(ids(await c.find({ n: { $exists: true } }))).toHaveLength(8);
        expect(ids(await c.find({ tag: { $exists: true } }))).toEqual(['a', 'b', 'c', 'd']);
        expect(ids(await c.find({ 'nested.level': { $exists: true } }))).toEqual(['a', 'b']);
        expect(ids(await c.find({ n: { $exists: true, $ne: null }, s: 'b' }))).toEqual(['a', 'b']);
      });

      it('sorts like MongoDB: missing and null first ascending, numbers before strings, _id breaks ties', async () => {
        const c = await seed();
        expect(ids(await c.find({}, { sort: [{ field: 'n', direction: 'asc' }] }))).toEqual([
          'd',
          'e',
          'h',
          'b',
          'a',
          'c',
          'g',
          'i',
          'f',
        ]);
        expect(ids(await c.find({}, { sort: [{ field: 'n', direction: 'desc' }] }))).toEqual([
          'f',
          'i',
          'g',
          'a',
          'c',
          'b',
          'h',
          'd',
          'e',
        ]);
        expect(
          ids(
            await c.find(
              { n: { $exists: true } },
              {
                sort: [
                  { field: 's', direction: 'desc' },
                  { field: 'n', direction: 'asc' },
                ],
              },
            ),
          ),
        ).toEqual(['c', 'i', 'h', 'g', 'b', 'a', 'e', 'f']);
        expect(ids(await c.find({}, { sort: [{ field: '_id', direction: 'desc' }], limit: 3 }))).toEqual([
          'i',
          'h',
          'g',
        ]);
        expect(
          ids(await c.find({}, { sort: [{ field: 'nested.level', direction: 'desc' }], limit: 3 })),
        ).toEqual(['b', 'a', 'c']);
      });

      it('orders strings by their UTF-8 bytes, as MongoDB does', async () => {
        const c = fresh();
        const values = ['😀', '\uff5e', 'é', 'a', 'Z', 'ab', ''];
        for (const [i, s] of values.entries()) await c.insert({ _id: `v${i}`, s });
        const sorted = await c.find({}, { sort: [{ field: 's', direction: 'asc' }] });
        expect(sorted.map((r) => r['s'])).toEqual(['', 'Z', 'a', 'ab', 'é', '\uff5e', '😀']);
        expect((await c.find({ s: { $gt: '\uff5e' } })).map((r) => r['s'])).toEqual(['😀']);
      });

      it('pages with skip and limit over a stable order', async () => {
        const c = fresh();
        for (let i = 0; i < 10; i++) await c.insert({ _id: `r${i}`, bucket: i % 3 });
        const sort = [{ field: 'bucket', direction: 'asc' as const }];
        expect(ids(await c.find({}, { sort, limit: 4 }))).toEqual(['r0', 'r3', 'r6', 'r9']);
        expect(ids(await c.find({}, { sort, skip: 4, limit: 4 }))).toEqual(['r1', 'r4', 'r7', 'r2']);
        expect(ids(await c.find({}, { sort, skip: 8 }))).toEqual(['r5', 'r8']);
        expect(ids(await c.find({}, { skip: 20 }))).toEqual([]);
        expect(ids(await c.find({}, { limit: 0 }))).toEqual([]);
        expect(ids(await c.find({}))).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9']);
      });

      it('leaves out excluded fields, including nested ones', async () => {
        const c = fresh();
        await c.insert({
          _id: 'a',
          title: 'T',
          payload: new Uint8Array([1, 2, 3]),
          meta: { big: 'x'.repeat(1000), small: 1 },
        });
        const [got] = await c.find({ _id: 'a' }, { exclude: ['payload', 'meta.big', 'notThere'] });
        expect(got).toEqual({ _id: 'a', title: 'T', meta: { small: 1 } });
        expect(await kindOf(c.find({}, { exclude: ['_id'] }))).toBe('invalid-argument');
      });

      it('applies $in to scalar fields; arrays are stored and returned whole', async () => {
        // The port promises $in (and every operator) for scalar fields only: MongoDB would also match
        // array elements, the embedded adapter does not. See docs/warehouse.md.
        const c = fresh();
        await c.insert({ _id: 'a', category: 'article', tags: ['x', 'y'] });
        await c.insert({ _id: 'b', category: 'post', tags: [] });
        await c.insert({ _id: 'c', category: 'code', tags: ['z'] });
        expect(ids(await c.find({ category: { $in: ['article', 'code'] } }))).toEqual(['a', 'c']);
        expect(ids(await c.find({ category: { $nin: ['article', 'code'] } }))).toEqual(['b']);
        expect((await c.get('a'))?.['tags']).toEqual(['x', 'y']);
        expect((await c.get('b'))?.['tags']).toEqual([]);
      });
    });

    describe('scan', () => {
      it('visits every match exactly once, in batches, over more records than a batch', async () => {
        const c = fresh();
        const total = 230;
        for (let i = 0; i < total; i++)
          await c.insert({ _id: `r${String(i).padStart(4, '0')}`, odd: i % 2 === 1, blob: 'x'.repeat(50) });
        const all = await collect(c.scan({}, { batchSize: 40 }));
        expect(all).toHaveLength(total);
        expect(new Set(ids(all)).size).toBe(total);
        const odd = await collect(c.scan({ odd: true }, { batchSize: 7, exclude: ['blob'] }));
        expect(odd).toHaveLength(total / 2);
        expect(odd.every((r) => r['odd'] === true && !('blob' in r))).toBe(true);
        const byDefault = await collect(c.scan({ _id: { $gte: 'r0100' } }));
        expect(byDefault).toHaveLength(130);
        expect(await collect(c.scan({ odd: 'never' }, { batchSize: 5 }))).toEqual([]);
      });

      it('is not thrown off by writes during the scan', async () => {
        const c = fresh();
        for (let i = 0; i < 30; i++) await c.insert({ _id: `r${String(i).padStart(2, '0')}`, seen: false });
        const visited: string[] = [];
        for await (const r of c.scan({}, { batchSize: 4 })) {
          visited.push(r._id);
          await c.update(r._id, { set: { seen: true, note: 'x'.repeat(200) } });
        }
        expect(visited).toHaveLength(30);
        expect(new Set(visited).size).toBe(30);
        expect(await c.count({ seen: true })).toBe(30);
      });
    });

    describe('indexes', () => {
      it('enforces unique indexes on insert, put and update', async () => {
        const c = fresh();
        await c.ensureIndex({ fields: [{ field: 'url', direction: 'asc' }], unique: true });
        await c.ensureIndex({ fields: [{ field: 'url', direction: 'asc' }], unique: true }); // idempotent
        await c.insert({ _id: 'a', url: 'https://a' });
        await c.insert({ _id: 'b', url: 'https://b' });
        expect(await kindOf(c.insert({ _id: 'c', url: 'https://a' }))).toBe('already-exists');
        expect(await kindOf(c.put({ _id: 'b', url: 'https://a' }))).toBe('already-exists');
        expect(await kindOf(c.update('b', { set: { url: 'https://a' } }))).toBe('already-exists');
        expect(await kindOf(c.updateMany({ _id: 'b' }, { set: { url: 'https://a' } }))).toBe(
          'already-exists',
        );
        expect(await c.get('b')).toEqual({ _id: 'b', url: 'https://b' });
        expect(await c.get('c')).toBeUndefined();
        // Uniqueness respects types, as in MongoDB.
        await c.insert({ _id: 'n', url: 1 });
        await c.insert({ _id: 's', url: '1' });
        await c.insert({ _id: 't', url: true });
        expect(ids(await c.find({ url: 'https://a' }))).toEqual(['a']);
      });

      it('enforces compound unique indexes on the combination', async () => {
        const c = fresh();
        await c.ensureIndex({
          name: 'author_slug',
          fields: [
            { field: 'author', direction: 'asc' },
            { field: 'meta.slug', direction: 'desc' },
          ],
          unique: true,
        });
        await c.insert({ _id: '1', author: 'ann', meta: { slug: 'x' } });
        await c.insert({ _id: '2', author: 'bob', meta: { slug: 'x' } });
        await c.insert({ _id: '3', author: 'ann', meta: { slug: 'y' } });
        expect(await kindOf(c.insert({ _id: '4', author: 'ann', meta: { slug: 'x' } }))).toBe(
          'already-exists',
        );
        expect(await c.count()).toBe(3);
      });

      it('refuses to build a unique index over duplicates, and to redefine an index name', async () => {
        const c = fresh();
        await c.insert({ _id: '1', k: 'same' });
        await c.insert({ _id: '2', k: 'same' });
        expect(
          await kindOf(c.ensureIndex({ fields: [{ field: 'k', direction: 'asc' }], unique: true })),
        ).toBe('already-exists');
        await c.ensureIndex({ name: 'by_k', fields: [{ field: 'k', direction: 'asc' }] });
        expect(
          await kindOf(c.ensureIndex({ name: 'by_k', fields: [{ field: 'other', direction: 'asc' }] })),
        ).toBe('failed-precondition');
        expect(ids(await c.find({ k: 'same' }))).toEqual(['1', '2']);
      });
    });
  });
}
