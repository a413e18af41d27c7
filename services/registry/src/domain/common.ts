// Small helpers shared by the registry's aggregates: ids, names, hashes, artifacts and timestamps.
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { registryv1 } from '@llmtwin/contracts';
import { invalidArgument } from '@llmtwin/runtime/errors';

export type Clock = () => number;

const randomHex = (bytes: number): string => {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('');
};

/**
 * `<prefix>_<time><random>`: ids sort by creation time (base-36 milliseconds, fixed width), so lists page
 * newest-first on `_id` alone and the shared page tokens (the last id) keep working.
 */
export function newId(prefix: string, now: number): string {
  return `${prefix}_${now.toString(36).padStart(9, '0')}${randomHex(6)}`;
}

export const newEventId = (): string => globalThis.crypto.randomUUID();

/** Dataset and model names: they appear in ids, aliases ("<name>@<alias>") and CLI arguments. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export function checkName(value: string, field: string, what: string): string {
  if (!value)
    throw invalidArgument(`${field} is required: the ${what} name`, [{ field, message: 'required' }]);
  if (!NAME.test(value)) {
    throw invalidArgument(
      `${field} "${value}" is not a valid ${what} name: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters`,
      [{ field, message: 'invalid name' }],
    );
  }
  return value;
}

export const isSha256Hex = (value: string): boolean => /^[0-9a-f]{64}$/.test(value);

export function checkSha256(value: string, field: string, required: boolean): string {
  if (!value && !required) return '';
  if (!isSha256Hex(value)) {
    throw invalidArgument(`${field} must be a SHA-256 digest: 64 lowercase hex characters`, [
      { field, message: value ? 'not 64 lowercase hex characters' : 'required' },
    ]);
  }
  return value;
}

export function requireText(value: string, field: string, what: string): string {
  if (!value.trim()) throw invalidArgument(`${field} is required: ${what}`, [{ field, message: 'required' }]);
  return value;
}

/** An artifact reference as stored (the bytes live in the artifact store). */
export type ArtifactRecord = {
  uri: string;
  sha256: string;
  sizeBytes: number;
  mediaType: string;
  name: string;
};

export function checkArtifact(a: registryv1.Artifact, field: string): ArtifactRecord {
  requireText(a.uri, `${field}.uri`, 'where the artifact store keeps it');
  requireText(a.name, `${field}.name`, 'what it is within its owner, e.g. "adapter.safetensors"');
  checkSha256(a.sha256, `${field}.sha256`, false);
  if (a.sizeBytes < 0n)
    throw invalidArgument(`${field}.size_bytes must not be negative`, [
      { field: `${field}.size_bytes`, message: '>= 0' },
    ]);
  return {
    uri: a.uri,
    sha256: a.sha256,
    sizeBytes: Number(a.sizeBytes),
    mediaType: a.mediaType,
    name: a.name,
  };
}

export const artifactProto = (a: ArtifactRecord): registryv1.Artifact =>
  create(registryv1.ArtifactSchema, { ...a, sizeBytes: BigInt(a.sizeBytes) });

/** Adds artifacts, replacing one of the same name (a retried update adds nothing twice). */
export function mergeArtifacts(current: readonly ArtifactRecord[], added: readonly ArtifactRecord[]) {
  const byName = new Map(current.map((a) => [a.name, a]));
  for (const a of added) byName.set(a.name, a);
  return [...byName.values()];
}

/** A map<string, double> as stored: metric names may hold '.' and '/', which field names may not. */
export type KeyValue = { key: string; value: number };
export const keyValues = (map: { [key: string]: number }): KeyValue[] =>
  Object.keys(map)
    .sort()
    .map((key) => ({ key, value: map[key]! }));
export const keyValueMap = (list: readonly KeyValue[]): { [key: string]: number } =>
  Object.fromEntries(list.map((kv) => [kv.key, kv.value]));

export const timestamp = (ms: number | null | undefined) =>
  ms === null || ms === undefined || ms === 0 ? undefined : timestampFromMs(ms);

/** `{ x: v }` when v is defined, else `{}`: for message inits under exactOptionalPropertyTypes habits. */
export const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
