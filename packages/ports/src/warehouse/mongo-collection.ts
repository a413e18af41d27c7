// One collection of the MongoDB warehouse: the port's record operations as driver calls, including the races
// the port promises to hide (upserts that collide on a new id, conditional replaces, keyset scans).
import type { Db, Document, Collection as DriverCollection } from 'mongodb';
import { invalidArgument } from '../errors.js';
import type { Collection, Filter, FindOptions, IndexSpec, Record, Update } from './warehouse.port.js';
import {
  type UpdatePlan,
  applyUpdate,
  checkId,
  convertRecord,
  convertValue,
  isEmptyUpdate,
  normalizeBatchSize,
  normalizeExclude,
  normalizeFilter,
  normalizeFind,
  normalizeIndex,
  normalizeUpdate,
  throwIfAborted,
} from './warehouse-validation.js';
import { isDuplicateKey, translate } from './mongo-errors.js';
import {
  type Query,
  type Stored,
  decodeValue,
  isPlainDoc,
  mongoFilter,
  mongoUpdate,
  toBinary,
  withId,
} from './mongo-query.js';

const IN_CHUNK = 1000;

/** What a collection needs of its warehouse: the database, and the write serialisation FerretDB needs. */
export interface MongoDatabase {
  db(): Promise<Db>;
  write<R>(collection: string, fn: () => Promise<R>): Promise<R>;
}

export class MongoCollection<T extends Record> implements Collection<T> {
  constructor(
    private readonly wh: MongoDatabase,
    readonly name: string,
  ) {}

  private async run<R>(
    what: string,
    signal: AbortSignal | undefined,
    fn: (c: DriverCollection<Stored>) => Promise<R>,
    mode: 'read' | 'write' = 'read',
  ): Promise<R> {
    throwIfAborted(signal);
    try {
      const c = (await this.wh.db()).collection<Stored>(this.name);
      if (mode === 'read') return await fn(c);
      return await this.wh.write(this.name, () => {
        throwIfAborted(signal);
        return fn(c);
      });
    } catch (err) {
      throw translate(err, this.name, what, signal);
    }
  }

  private decode(doc: Document): T {
    return decodeValue(doc) as T;
  }

  private readOptions(signal: AbortSignal | undefined): { signal?: AbortSignal } {
    return signal === undefined ? {} : { signal };
  }

  async get(id: string, signal?: AbortSignal): Promise<T | undefined> {
    checkId(id, 'id');
    return this.run('get', signal, async (c) => {
      const doc = await c.findOne({ _id: id }, this.readOptions(signal));
      return doc === null ? undefined : this.decode(doc);
    });
  }

  async getMany(ids: readonly string[], signal?: AbortSignal): Promise<T[]> {
    if (!Array.isArray(ids)) throw invalidArgument('getMany needs an array of ids');
    const unique = [...new Set(ids.map((id) => checkId(id, 'id')))];
    return this.run('getMany', signal, async (c) => {
      const found = new Map<string, T>();
      for (let i = 0; i < unique.length; i += IN_CHUNK) {
        const docs = await c
          .find({ _id: { $in: unique.slice(i, i + IN_CHUNK) } }, this.readOptions(signal))
          .toArray();
        for (const d of docs) found.set(d._id, this.decode(d));
      }
      return unique.flatMap((id) => {
        const r = found.get(id);
        return r === undefined ? [] : [r];
      });
    });
  }

  async insert(record: T, signal?: AbortSignal): Promise<void> {
    const doc = convertRecord(record, toBinary);
    await this.run('insert', signal, (c) => c.insertOne(doc), 'write');
  }

  async put(record: T, signal?: AbortSignal): Promise<void> {
    const { _id, ...body } = convertRecord(record, toBinary);
    await this.run(
      'put',
      signal,
      async (c) => {
        try {
          await c.replaceOne({ _id }, body, { upsert: true });
        } catch (err) {
          // Two upserts of a new id can both try to insert; the loser's retry finds the record and replaces it.
          if (!isDuplicateKey(err)) throw err;
          await c.replaceOne({ _id }, body, { upsert: true });
        }
      },
      'write',
    );
  }

  async putMany(records: readonly T[], signal?: AbortSignal): Promise<void> {
    if (records.length === 0) return;
    const ops = records.map((record) => {
      const { _id, ...body } = convertRecord(record, toBinary);
      return { replaceOne: { filter: { _id }, replacement: body, upsert: true } };
    });
    await this.run(
      'putMany',
      signal,
      async (c) => {
        try {
          await c.bulkWrite(ops as never, { ordered: true });
        } catch (err) {
          // As in put(): a concurrent upsert of a new id lost the race; the retry replaces what it inserted.
          if (!isDuplicateKey(err)) throw err;
          await c.bulkWrite(ops as never, { ordered: true });
        }
      },
      'write',
    );
  }

  async replaceIf(record: T, expected: Filter | null, signal?: AbortSignal): Promise<boolean> {
    const { _id, ...body } = convertRecord(record, toBinary);
    if (expected === null) {
      return this.run(
        'replaceIf',
        signal,
        async (c) => {
          try {
            await c.insertOne({ _id, ...body });
            return true;
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
            // Taken by this id (someone else won) → false; by a unique index → the caller must know.
            if ((await c.countDocuments({ _id }, { limit: 1 })) > 0) return false;
            throw err;
          }
        },
        'write',
      );
    }
    const filter = withId(_id, normalizeFilter(expected, 'expected'));
    return this.run(
      'replaceIf',
      signal,
      async (c) => (await c.replaceOne(filter, body)).matchedCount === 1,
      'write',
    );
  }

  async update(
    id: string,
    update: Update,
    options?: { where?: Filter; upsert?: boolean },
    signal?: AbortSignal,
  ): Promise<T | undefined> {
    checkId(id, 'id');
    const plan = this.prepareUpdate(normalizeUpdate(update));
    const where = normalizeFilter(options?.where, 'where');
    const filter = withId(id, where);
    const upsert = options?.upsert === true;
    return this.run(
      'update',
      signal,
      async (c) => {
        const apply = async (): Promise<T | undefined> => {
          if (isEmptyUpdate(plan)) {
            const doc = await c.findOne(filter);
            return doc === null ? undefined : this.decode(doc);
          }
          const doc = await c.findOneAndUpdate(filter, mongoUpdate(plan), { returnDocument: 'after' });
          return doc === null ? undefined : this.decode(doc);
        };
        if (!upsert) return apply();
        if (where.length === 0 && !isEmptyUpdate(plan)) {
          const upsertOnce = () =>
            c.findOneAndUpdate(filter, mongoUpdate(plan), { returnDocument: 'after', upsert: true });
          let doc: Document | null;
          try {
            doc = await upsertOnce();
          } catch (err) {
            if (!isDuplicateKey(err)) throw err;
            doc = await upsertOnce(); // lost an insert race on this id: the record exists now
          }
          return doc === null ? undefined : this.decode(doc);
        }
        // With `where`, MongoDB's own upsert would try to insert when the record exists but does not match
        // (a duplicate-key error) and would copy the where-equalities into a new record; the port creates a
        // missing record from the id and the update only, so the two cases are handled separately.
        const updated = await apply();
        if (updated !== undefined) return updated;
        const fresh: Stored = { _id: id };
        applyUpdate(fresh, plan, isPlainDoc);
        try {
          await c.insertOne(fresh);
          return this.decode(fresh);
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          if ((await c.countDocuments({ _id: id }, { limit: 1 })) === 0) throw err;
          return apply(); // it exists (now): the update applies only if it matches `where`
        }
      },
      'write',
    );
  }

  async updateMany(filter: Filter, update: Update, signal?: AbortSignal): Promise<number> {
    const plan = this.prepareUpdate(normalizeUpdate(update));
    const query = mongoFilter(normalizeFilter(filter));
    if (isEmptyUpdate(plan)) return 0;
    return this.run(
      'updateMany',
      signal,
      async (c) => (await c.updateMany(query, mongoUpdate(plan))).modifiedCount,
      'write',
    );
  }

  async delete(id: string, signal?: AbortSignal): Promise<boolean> {
    checkId(id, 'id');
    return this.run(
      'delete',
      signal,
      async (c) => (await c.deleteOne({ _id: id })).deletedCount === 1,
      'write',
    );
  }

  async deleteMany(filter: Filter, signal?: AbortSignal): Promise<number> {
    const query = mongoFilter(normalizeFilter(filter));
    return this.run('deleteMany', signal, async (c) => (await c.deleteMany(query)).deletedCount, 'write');
  }

  async find(filter: Filter, options?: FindOptions, signal?: AbortSignal): Promise<T[]> {
    const query = mongoFilter(normalizeFilter(filter));
    const opts = normalizeFind(options);
    if (opts.limit === 0) return [];
    return this.run('find', signal, async (c) => {
      const docs = await c
        .find(query, {
          ...this.readOptions(signal),
          sort: Object.fromEntries(opts.sort.map((s) => [s.path, s.direction])),
          skip: opts.skip,
          ...(opts.limit === undefined ? {} : { limit: opts.limit }),
          ...(opts.exclude.length === 0
            ? {}
            : { projection: Object.fromEntries(opts.exclude.map((e) => [e.path, 0])) }),
        })
        .toArray();
      return docs.map((d) => this.decode(d));
    });
  }

  async *scan(
    filter: Filter,
    options?: { batchSize?: number; exclude?: string[] },
    signal?: AbortSignal,
  ): AsyncIterable<T> {
    const query = mongoFilter(normalizeFilter(filter));
    const batchSize = normalizeBatchSize(options?.batchSize);
    const exclude = normalizeExclude(options?.exclude);
    const projection = exclude.length === 0 ? undefined : Object.fromEntries(exclude.map((e) => [e.path, 0]));
    // Keyset pages over _id rather than one long cursor: no server cursor to time out between pages, and
    // records written during the scan never make it repeat or skip others.
    let after: string | undefined;
    for (;;) {
      const page: Query = after === undefined ? query : { $and: [query, { _id: { $gt: after } }] };
      const docs = await this.run('scan', signal, (c) =>
        c
          .find(page, {
            ...this.readOptions(signal),
            sort: { _id: 1 },
            limit: batchSize,
            ...(projection ? { projection } : {}),
          })
          .toArray(),
      );
      for (const d of docs) yield this.decode(d);
      if (docs.length < batchSize) return;
      after = (docs[docs.length - 1] as Stored)._id;
    }
  }

  async count(filter?: Filter, signal?: AbortSignal): Promise<number> {
    const query = mongoFilter(normalizeFilter(filter));
    return this.run('count', signal, (c) => c.countDocuments(query, this.readOptions(signal)));
  }

  async ensureIndex(spec: IndexSpec): Promise<void> {
    const index = normalizeIndex(spec);
    const keys = Object.fromEntries(index.fields.map((f) => [f.path, f.direction]));
    await this.run('ensureIndex', undefined, (c) =>
      c.createIndex(keys, { name: index.name, ...(index.unique ? { unique: true } : {}) }),
    );
  }

  private prepareUpdate(update: ReturnType<typeof normalizeUpdate>): UpdatePlan {
    return {
      set: update.set.map((s) => ({ ...s, value: convertValue(s.value, s.path, toBinary) })),
      unset: update.unset,
      inc: update.inc,
    };
  }
}
