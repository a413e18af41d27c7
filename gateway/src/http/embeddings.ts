// An OpenAI Embeddings request read into EmbedService.EmbedTexts, and its answer in OpenAI's list shape.
// The twin's embedder works on text, so token-id inputs are refused; `base64` is what the official clients
// ask for by default (little-endian float32, decoded by the client).
import { embedv1 } from '@llmtwin/contracts';
import { DEFAULT_MODEL_ALIASES } from './chat-request.js';
import { invalidRequest, modelNotFound, unsupported } from './openai-errors.js';
import { optInteger, optString, rejectUnknownKeys, requireObject } from './request-fields.js';

/** OpenAI's own limit on inputs per request. */
export const MAX_EMBEDDING_INPUTS = 2048;

export interface EmbeddingPlan {
  texts: string[];
  encoding: 'float' | 'base64';
  /** The model asked for, or undefined for the live embedder whatever it is. */
  model?: string;
  dimensions?: number;
  inputType: embedv1.InputType;
}

const inputTypes: Readonly<Record<string, embedv1.InputType>> = {
  query: embedv1.InputType.QUERY,
  passage: embedv1.InputType.PASSAGE,
};

function readInput(input: unknown): string[] {
  const tokenIds = () =>
    unsupported('input must be text: token ids are not supported, send the string instead', 'input');
  if (typeof input === 'string') {
    if (input === '') throw invalidRequest('input is empty: send the text to embed', 'input');
    return [input];
  }
  if (!Array.isArray(input)) {
    throw invalidRequest(
      'input must be a string or an array of strings',
      'input',
      input === undefined ? 'missing_required_parameter' : 'invalid_type',
    );
  }
  if (input.length === 0) throw invalidRequest('input is an empty array: send at least one text', 'input');
  if (input.length > MAX_EMBEDDING_INPUTS) {
    throw invalidRequest(`input takes at most ${MAX_EMBEDDING_INPUTS} texts per request`, 'input');
  }
  return input.map((item, i) => {
    if (typeof item === 'number' || Array.isArray(item)) throw tokenIds();
    if (typeof item !== 'string') {
      throw invalidRequest(`input[${i}] must be a string`, `input[${i}]`, 'invalid_type');
    }
    if (item === '') throw invalidRequest(`input[${i}] is empty: send text to embed`, `input[${i}]`);
    return item;
  });
}

export function parseEmbeddingRequest(value: unknown): EmbeddingPlan {
  const body = requireObject(value, null, 'the request body');
  const texts = readInput(body['input']);
  const encoding = optString(body, 'encoding_format') ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64') {
    throw invalidRequest("encoding_format must be 'float' or 'base64'", 'encoding_format');
  }
  const model = optString(body, 'model');
  const dimensions = optInteger(body, 'dimensions', { min: 1 });
  let inputType = embedv1.InputType.UNSPECIFIED;
  const ext = body['llmtwin'];
  if (ext !== undefined && ext !== null) {
    const obj = requireObject(ext, 'llmtwin', 'llmtwin');
    rejectUnknownKeys(obj, ['input_type'], 'llmtwin');
    const name = optString(obj, 'input_type', 'llmtwin.input_type');
    if (name !== undefined) {
      const found = inputTypes[name];
      if (found === undefined) {
        throw invalidRequest("llmtwin.input_type must be 'query' or 'passage'", 'llmtwin.input_type');
      }
      inputType = found;
    }
  }
  return {
    texts,
    encoding,
    ...(model !== undefined && model !== '' && !DEFAULT_MODEL_ALIASES.includes(model) ? { model } : {}),
    ...(dimensions !== undefined ? { dimensions } : {}),
    inputType,
  };
}

function base64Floats(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString('base64');
}

export function embeddingList(plan: EmbeddingPlan, res: embedv1.EmbedTextsResponse) {
  // Checked on the answer, which names the live embedder: a wrong name costs the caller one wasted request.
  if (plan.model !== undefined && plan.model !== res.model) throw modelNotFound(plan.model, [res.model]);
  const width = res.embeddings[0]?.values.length ?? 0;
  if (plan.dimensions !== undefined && plan.dimensions !== width) {
    throw unsupported(
      `dimensions must be ${width} (the embedder's size) or left out: ${res.model} cannot shorten its vectors`,
      'dimensions',
    );
  }
  const tokens = res.embeddings.reduce((sum, e) => sum + e.tokenCount, 0);
  return {
    object: 'list' as const,
    data: res.embeddings.map((e, index) => ({
      object: 'embedding' as const,
      index,
      embedding: plan.encoding === 'base64' ? base64Floats(e.values) : e.values,
    })),
    model: res.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}
