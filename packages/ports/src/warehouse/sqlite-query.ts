// The port's filters, sorts and projections compiled to SQLite SQL over json_extract, with bound values. Field
// names were checked against a strict pattern before they get here (quoted) into JSON path literals, which
// keeps the paths indexable; MongoDB's type bracketing is reproduced so both adapters answer alike.
import type { FieldCondition, normalizeExclude, normalizeFind } from './warehouse-validation.js';

function jsonPath(segments: readonly string[]): string {
  // Segments matched a pattern without quotes or backslashes, so quoting them is enough.
  return `'$${segments.map((s) => `."${s}"`).join('')}'`;
}

export interface FieldSql {
  value: string;
  type: string;
  isId: boolean;
}

export function fieldSql(segments: readonly string[]): FieldSql {
  if (segments.length === 1 && segments[0] === '_id') return { value: '_id', type: "'text'", isId: true };
  const p = jsonPath(segments);
  return { value: `json_extract(doc, ${p})`, type: `json_type(doc, ${p})`, isId: false };
}

/** SQL text plus its bound values, in order. */
export interface Sql {
  text: string;
  params: unknown[];
}

// Each predicate checks the JSON type as well as the value, which gives MongoDB's type bracketing:
// 1 never equals true or '1', and $gt: 5 never matches a string.
function eqSql(f: FieldSql, value: number | string | boolean | null, params: unknown[]): string {
  if (value === null) return f.isId ? '0' : `${f.value} IS NULL`;
  if (typeof value === 'boolean') return f.isId ? '0' : `${f.type} = '${value ? 'true' : 'false'}'`;
  if (typeof value === 'number') {
    if (f.isId) return '0';
    params.push(value);
    return `(${f.value} = ? AND ${f.type} IN ('integer', 'real'))`;
  }
  params.push(value);
  return f.isId ? `_id = ?` : `(${f.value} = ? AND ${f.type} = 'text')`;
}

function inSql(
  f: FieldSql,
  values: readonly (number | string | boolean | null)[],
  params: unknown[],
): string {
  const strings = values.filter((v): v is string => typeof v === 'string');
  const numbers = values.filter((v): v is number => typeof v === 'number');
  const parts: string[] = [];
  const list = (vs: unknown[]) => {
    params.push(...vs);
    return vs.map(() => '?').join(', ');
  };
  if (strings.length > 0) {
    const unique = [...new Set(strings)];
    parts.push(
      f.isId ? `_id IN (${list(unique)})` : `(${f.value} IN (${list(unique)}) AND ${f.type} = 'text')`,
    );
  }
  if (numbers.length > 0 && !f.isId) {
    parts.push(`(${f.value} IN (${list([...new Set(numbers)])}) AND ${f.type} IN ('integer', 'real'))`);
  }
  if (values.includes(true) && !f.isId) parts.push(`${f.type} = 'true'`);
  if (values.includes(false) && !f.isId) parts.push(`${f.type} = 'false'`);
  if (values.includes(null) && !f.isId) parts.push(`${f.value} IS NULL`);
  if (parts.length === 0) return '0';
  return parts.length === 1 ? (parts[0] as string) : `(${parts.join(' OR ')})`;
}

const RANGE: { [op: string]: string } = { gt: '>', gte: '>=', lt: '<', lte: '<=' };

function conditionSql(c: FieldCondition, params: unknown[]): string {
  const f = fieldSql(c.segments);
  const parts = c.ops.map((op): string => {
    switch (op.op) {
      case 'eq':
        return eqSql(f, op.value, params);
      case 'ne':
        return op.value === null
          ? f.isId
            ? '1'
            : `${f.value} IS NOT NULL`
          : `NOT IFNULL(${eqSql(f, op.value, params)}, 0)`;
      case 'in':
        return inSql(f, op.values, params);
      case 'nin':
        return `NOT IFNULL(${inSql(f, op.values, params)}, 0)`;
      case 'exists':
        return f.isId ? (op.value ? '1' : '0') : `${f.type} IS ${op.value ? 'NOT ' : ''}NULL`;
      default: {
        const cmp = RANGE[op.op] as string;
        if (f.isId && typeof op.value === 'number') return '0';
        params.push(op.value);
        if (f.isId) return `_id ${cmp} ?`;
        const kind = typeof op.value === 'number' ? `IN ('integer', 'real')` : `= 'text'`;
        return `(${f.value} ${cmp} ? AND ${f.type} ${kind})`;
      }
    }
  });
  return parts.join(' AND ');
}

export function whereSql(conditions: readonly FieldCondition[]): Sql {
  const params: unknown[] = [];
  const parts = conditions.map((c) => conditionSql(c, params));
  return { text: parts.length === 0 ? '1' : parts.join(' AND '), params };
}

// MongoDB orders values of different types by type first: null/missing < numbers < strings < objects <
// arrays < binary < booleans. Within numbers and strings SQLite's order (numeric; UTF-8 bytes) is MongoDB's.
export function sortSql(sort: ReturnType<typeof normalizeFind>['sort']): string {
  return sort
    .map(({ segments, direction }) => {
      const dir = direction === 1 ? 'ASC' : 'DESC';
      const f = fieldSql(segments);
      if (f.isId) return `_id ${dir}`;
      const rank =
        `CASE ${f.type} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2 ` +
        `WHEN 'object' THEN (CASE WHEN json_type(doc, ${jsonPath([...segments, '$binary'])}) = 'text' THEN 5 ELSE 3 END) ` +
        `WHEN 'array' THEN 4 WHEN 'false' THEN 6 WHEN 'true' THEN 6 ELSE 0 END`;
      return `${rank} ${dir}, ${f.value} ${dir}`;
    })
    .join(', ');
}

export function docSql(exclude: ReturnType<typeof normalizeExclude>): string {
  if (exclude.length === 0) return 'doc';
  return `json_remove(doc, ${exclude.map((e) => jsonPath(e.segments)).join(', ')})`;
}
