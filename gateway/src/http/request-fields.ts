// Reading OpenAI request bodies field by field. OpenAI clients send `null` for options they leave unset, so
// null reads as absent; every rejection names the field (as OpenAI's `param`) and says what it should be.
import { invalidRequest } from './openai-errors.js';

export type JsonObject = Record<string, unknown>;

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function requireObject(value: unknown, param: string | null, what: string): JsonObject {
  if (!isObject(value)) throw invalidRequest(`${what} must be a JSON object`, param, 'invalid_type');
  return value;
}

const describe = (value: unknown) =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;

export function optString(obj: JsonObject, key: string, param = key): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw invalidRequest(`${param} must be a string, not ${describe(value)}`, param, 'invalid_type');
  }
  return value;
}

export function optBoolean(obj: JsonObject, key: string, param = key): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') {
    throw invalidRequest(`${param} must be true or false, not ${describe(value)}`, param, 'invalid_type');
  }
  return value;
}

export function optInteger(
  obj: JsonObject,
  key: string,
  range: { min: number; max?: number },
  param = key,
): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  const bounds = range.max === undefined ? `at least ${range.min}` : `between ${range.min} and ${range.max}`;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw invalidRequest(`${param} must be an integer ${bounds}`, param, 'invalid_type');
  }
  if (value < range.min || (range.max !== undefined && value > range.max)) {
    throw invalidRequest(`${param} must be ${bounds}, not ${value}`, param);
  }
  return value;
}

export function optNumber(
  obj: JsonObject,
  key: string,
  range: { min: number; max: number },
  param = key,
): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw invalidRequest(
      `${param} must be a number between ${range.min} and ${range.max}`,
      param,
      'invalid_type',
    );
  }
  if (value < range.min || value > range.max) {
    throw invalidRequest(`${param} must be between ${range.min} and ${range.max}, not ${value}`, param);
  }
  return value;
}

/** Fields of our own extension object are checked by name, so that a typo is an error and not a no-op. */
export function rejectUnknownKeys(obj: JsonObject, known: readonly string[], param: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      throw invalidRequest(
        `${param}.${key} is not a known field; ${param} takes ${known.join(', ')}`,
        `${param}.${key}`,
        'unknown_parameter',
      );
    }
  }
}
