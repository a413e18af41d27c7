// The port's filters, updates and values translated to MongoDB's query language and BSON, and back: the one
// place that knows how a validated filter or update plan looks to the driver.
import { Binary, type Document, type Filter as DriverFilter } from 'mongodb';
import { type FieldCondition, type UpdatePlan, plainBytes } from './warehouse-validation.js';

export const toBinary = (bytes: Uint8Array): unknown => new Binary(plainBytes(bytes));

export function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Binary) return plainBytes(value.buffer.subarray(0, value.position));
  if (Array.isArray(value)) return value.map(decodeValue);
  const out: Document = {};
  for (const [k, v] of Object.entries(value)) out[k] = decodeValue(v);
  return out;
}

export function mongoFilter(conditions: readonly FieldCondition[]): Query {
  const out: Document = {};
  for (const c of conditions) {
    const ops: Document = {};
    for (const op of c.ops) ops[`$${op.op}`] = 'values' in op ? op.values : op.value;
    out[c.path] = ops;
  }
  return out as Query;
}

export function withId(id: string, conditions: readonly FieldCondition[]): Query {
  if (conditions.length === 0) return { _id: id };
  const filter = mongoFilter(conditions);
  return ('_id' in filter ? { $and: [{ _id: id }, filter] } : { ...filter, _id: id }) as Query;
}

export function mongoUpdate(plan: UpdatePlan): Document {
  const out: Document = {};
  if (plan.set.length > 0) out['$set'] = Object.fromEntries(plan.set.map((s) => [s.path, s.value]));
  if (plan.unset.length > 0) out['$unset'] = Object.fromEntries(plan.unset.map((u) => [u.path, '']));
  if (plan.inc.length > 0) out['$inc'] = Object.fromEntries(plan.inc.map((i) => [i.path, i.amount]));
  return out;
}

/** Stored records: the string id is `_id` (never an ObjectId). */
export type Stored = { _id: string } & Document;
export type Query = DriverFilter<Stored>;

export function isPlainDoc(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Binary);
}
