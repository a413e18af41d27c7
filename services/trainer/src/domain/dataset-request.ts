// A BuildDataset request, checked and with its defaults filled in, before any job starts: every problem is
// reported at once, as field violations.
import { timestampMs } from '@bufbuild/protobuf/wkt';
import { commonv1, registryv1, type trainerv1 } from '@llmtwin/contracts';
import { invalidArgument } from '@llmtwin/runtime/errors';
import { EXTRACTIVE } from './example-generators.js';
import type { SplitStrategy } from './splits.js';

export const DEFAULT_TEST_FRACTION = 0.1;
export const DEFAULT_MIN_TOKENS = 32;
export const DEFAULT_MAX_TOKENS = 1024;
export const MAX_MAX_TOKENS = 32_768;
export const DEFAULT_NEAR_DUPLICATE_THRESHOLD = 0.8;

export type DatasetKindName = 'instruct' | 'preference';

export interface DatasetRequest {
  authorId: string;
  kind: DatasetKindName;
  dataset: string;
  testFraction: number;
  /** "extractive" or a model id the router serves. */
  generatorModel: string;
  categories: commonv1.Category[];
  platforms: commonv1.Platform[];
  publishedAfter?: number;
  publishedBefore?: number;
  seed: bigint;
  minTokens: number;
  maxTokens: number;
  nearDuplicateThreshold: number;
  languages: string[];
  splitBy: SplitStrategy;
}

export const kindEnum: Record<DatasetKindName, registryv1.DatasetKind> = {
  instruct: registryv1.DatasetKind.INSTRUCT,
  preference: registryv1.DatasetKind.PREFERENCE,
};

const known = <E extends Record<string, string | number>>(e: E, v: number) =>
  v !== 0 && Object.values(e).includes(v);

/** `defaultGenerator`: what an empty generator_model means here ("extractive" or a model id). */
export function resolveDatasetRequest(
  req: Pick<
    trainerv1.BuildDatasetRequest,
    | 'authorId'
    | 'kind'
    | 'dataset'
    | 'testFraction'
    | 'generatorModel'
    | 'categories'
    | 'platforms'
    | 'publishedAfter'
    | 'publishedBefore'
    | 'seed'
    | 'minTokens'
    | 'maxTokens'
    | 'nearDuplicateThreshold'
    | 'languages'
    | 'splitBy'
  >,
  defaultGenerator: string,
  defaultSplitBy: SplitStrategy = 'document',
): DatasetRequest {
  const problems: { field: string; message: string }[] = [];
  const authorId = req.authorId.trim();
  if (!authorId) problems.push({ field: 'author_id', message: 'required' });

  let kind: DatasetKindName = 'instruct';
  if (req.kind === registryv1.DatasetKind.PREFERENCE) kind = 'preference';
  else if (req.kind !== registryv1.DatasetKind.UNSPECIFIED && req.kind !== registryv1.DatasetKind.INSTRUCT) {
    problems.push({ field: 'kind', message: 'instruct or preference' });
  }

  let splitBy: SplitStrategy = defaultSplitBy;
  if (req.splitBy === 'document' || req.splitBy === 'time') splitBy = req.splitBy;
  else if (req.splitBy !== '') problems.push({ field: 'split_by', message: '"document" or "time"' });

  const dataset = req.dataset.trim() || `${authorId}-${kind}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(dataset)) {
    problems.push({ field: 'dataset', message: 'letters, digits, ".", "_" and "-", at most 128' });
  }

  const testFraction = req.testFraction === 0 ? DEFAULT_TEST_FRACTION : req.testFraction;
  if (!(testFraction > 0 && testFraction < 1)) {
    problems.push({ field: 'test_fraction', message: 'between 0 and 1 (0 means 0.1)' });
  }

  const minTokens = req.minTokens === 0n ? DEFAULT_MIN_TOKENS : Number(req.minTokens);
  const maxTokens = req.maxTokens === 0n ? DEFAULT_MAX_TOKENS : Number(req.maxTokens);
  if (!(minTokens >= 1)) problems.push({ field: 'min_tokens', message: 'at least 1 (0 means 32)' });
  if (!(maxTokens > minTokens && maxTokens <= MAX_MAX_TOKENS)) {
    problems.push({
      field: 'max_tokens',
      message: `above min_tokens, at most ${MAX_MAX_TOKENS} (0 means 1024)`,
    });
  }

  const threshold =
    req.nearDuplicateThreshold === 0 ? DEFAULT_NEAR_DUPLICATE_THRESHOLD : req.nearDuplicateThreshold;
  if (!(threshold > 0 && threshold <= 1)) {
    problems.push({ field: 'near_duplicate_threshold', message: 'above 0, at most 1 (0 means 0.8)' });
  }

  const languages = [...new Set(req.languages.map((l) => l.trim().toLowerCase()))].sort();
  if (languages.some((l) => !/^[a-z]{2}$/.test(l))) {
    problems.push({ field: 'languages', message: 'ISO 639-1 codes such as "en"' });
  }
  if (req.categories.some((c) => !known(commonv1.Category, c))) {
    problems.push({ field: 'categories', message: 'article, post or code' });
  }
  if (req.platforms.some((p) => !known(commonv1.Platform, p))) {
    problems.push({ field: 'platforms', message: 'a known platform' });
  }

  const publishedAfter = req.publishedAfter ? timestampMs(req.publishedAfter) : undefined;
  const publishedBefore = req.publishedBefore ? timestampMs(req.publishedBefore) : undefined;
  if (publishedAfter !== undefined && publishedBefore !== undefined && publishedAfter >= publishedBefore) {
    problems.push({ field: 'published_before', message: 'after published_after' });
  }

  const generatorModel = req.generatorModel.trim() || defaultGenerator || EXTRACTIVE;

  if (problems.length > 0) {
    throw invalidArgument(
      `BuildDataset: ${problems.map((p) => `${p.field} (${p.message})`).join(', ')}`,
      problems,
    );
  }
  return {
    authorId,
    kind,
    dataset,
    testFraction,
    generatorModel,
    categories: [...new Set(req.categories)].sort((a, b) => a - b),
    platforms: [...new Set(req.platforms)].sort((a, b) => a - b),
    ...(publishedAfter !== undefined ? { publishedAfter } : {}),
    ...(publishedBefore !== undefined ? { publishedBefore } : {}),
    seed: req.seed,
    minTokens,
    maxTokens,
    nearDuplicateThreshold: threshold,
    languages,
    splitBy,
  };
}
