import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { Tokenization } from './embedder.port.js';

/**
 * A Hugging Face tokenizer (tokenizer.json) with the few operations the embedders and the chunker need.
 * Special tokens are added here rather than by transformers.js because its truncation cuts the end of the
 * sequence, dropping the closing [SEP] that sentence-transformers keeps; we truncate the text and then wrap it.
 */
export class HfTokenizer {
  readonly leading: readonly number[];
  readonly trailing: readonly number[];
  readonly padId: number;
  private readonly vocab: readonly string[] | undefined;

  constructor(private readonly tokenizer: PreTrainedTokenizer) {
    const probe = 'a';
    const bare = tokenizer.encode(probe, { add_special_tokens: false });
    const wrapped = tokenizer.encode(probe, { add_special_tokens: true });
    const at = indexOfRun(wrapped, bare);
    if (at < 0) throw new Error('tokenizer: cannot locate the text between its special tokens');
    this.leading = wrapped.slice(0, at);
    this.trailing = wrapped.slice(at + bare.length);
    this.padId = tokenizer.pad_token_id ?? 0;
    this.vocab = vocabulary(tokenizer);
  }

  get specialTokenCount(): number {
    return this.leading.length + this.trailing.length;
  }

  /** Tokens of the text alone. */
  ids(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false });
  }

  /** The model's input for one text: prefix + text cut to fit, wrapped in the special tokens. */
  modelInput(text: string, maxTokens: number): number[] {
    const room = Math.max(0, maxTokens - this.specialTokenCount);
    return [...this.leading, ...this.ids(text).slice(0, room), ...this.trailing];
  }

  tokenize(text: string): Tokenization {
    const ids = this.ids(text);
    const offsets = this.vocab
      ? alignOffsets(
          text,
          ids.map((id) => this.vocab?.[id] ?? ''),
        )
      : undefined;
    return offsets ? { ids, offsets } : { ids };
  }
}

function indexOfRun(haystack: readonly number[], needle: readonly number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function vocabulary(tokenizer: PreTrainedTokenizer): string[] | undefined {
  // transformers.js keeps the id → token table on the model object; it is not part of its typed API.
  const model = (tokenizer as unknown as { model?: { vocab?: unknown } }).model;
  return Array.isArray(model?.vocab) ? (model.vocab as string[]) : undefined;
}

/** Folds what WordPiece/SentencePiece normalisers fold, one source character at a time, keeping the map. */
function foldChar(c: string): string {
  return c.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

const pieceText = (token: string): string => foldChar(token.replace(/^(##|▁|Ġ)/u, '')).trim();

/**
 * Character spans of tokens in the original text, by walking the tokens over a case- and accent-folded
 * copy of it. Returns undefined when any token cannot be placed (e.g. an unknown-token placeholder), since
 * wrong offsets would be worse than none for a chunker cutting text.
 */
export function alignOffsets(text: string, tokens: readonly string[]): [number, number][] | undefined {
  let folded = '';
  const origin: number[] = [];
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i) ?? 0;
    const ch = String.fromCodePoint(cp);
    for (const f of foldChar(ch)) {
      folded += f;
      origin.push(i);
    }
    i += ch.length;
  }
  origin.push(text.length);
  const out: [number, number][] = [];
  let cursor = 0;
  for (const token of tokens) {
    const piece = pieceText(token);
    if (piece.length === 0 || /^\[[A-Z]+\]$/.test(token)) return undefined;
    while (cursor < folded.length && /\s/u.test(folded[cursor] ?? '')) cursor++;
    if (!folded.startsWith(piece, cursor)) return undefined;
    const start = origin[cursor] ?? text.length;
    cursor += piece.length;
    // A folded character may come from a longer source sequence; end at the next source character.
    const end = origin[cursor] ?? text.length;
    out.push([start, end]);
  }
  return out;
}
