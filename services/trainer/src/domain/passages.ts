// Splits a cleaned document into passages: whole paragraphs (fenced code blocks and lists count as one)
// packed in order up to a target size, never above max_tokens, with a heading starting a new passage and
// never left dangling at the end of one. A paragraph longer than max_tokens is cut at sentence (prose) or
// line (code) boundaries, and a single sentence or line longer than that at word boundaries. A short last
// passage joins the one before when they fit together. Passages are measured in the target tokenizer.
import type { Tokenizer } from './tokenizer.port.js';

export interface PassageBounds {
  minTokens: number;
  maxTokens: number;
}

export interface PassageText {
  text: string;
  tokens: number;
}

interface Block {
  text: string;
  tokens: number;
  heading: boolean;
}

/** Passages are packed up to a quarter of max_tokens (256 with the defaults), within [min, max]. */
export const targetTokens = ({ minTokens, maxTokens }: PassageBounds): number =>
  Math.min(maxTokens, Math.max(minTokens, Math.floor(maxTokens / 4)));

/** Paragraphs separated by blank lines; a fenced code block stays whole even if it holds blank lines. */
export function paragraphs(text: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  let fenced = false;
  const flush = () => {
    const p = current.join('\n').trim();
    if (p) out.push(p);
    current = [];
  };
  for (const line of text.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      if (!fenced) flush();
      current.push(line);
      if (fenced) flush();
      fenced = !fenced;
      continue;
    }
    if (!fenced && line.trim() === '') {
      flush();
      continue;
    }
    current.push(line);
  }
  flush();
  return out;
}

const isHeading = (p: string) => /^#{1,6}\s/.test(p) && !p.includes('\n');
const isCode = (p: string) => /^(```|~~~)/.test(p);

/** Sentence ends: . ! ? (and their CJK forms) followed by space, or a line break. */
export function sentences(text: string): string[] {
  return text
    .split(/(?<=[.!?。！？])\s+|\n+/u)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Packs units (in order) into pieces of at most `max` tokens, joined by `sep`. */
function pack(units: string[], sep: string, max: number, tokenizer: Tokenizer): string[] {
  const out: string[] = [];
  let current: string[] = [];
  for (const unit of units) {
    if (tokenizer.count(unit) > max) {
      if (current.length) out.push(current.join(sep));
      current = [];
      // One sentence or line above the bound: cut between words.
      out.push(...pack(unit.split(/\s+/).filter(Boolean), ' ', max, tokenizer));
      continue;
    }
    const candidate = [...current, unit].join(sep);
    if (current.length && tokenizer.count(candidate) > max) {
      out.push(current.join(sep));
      current = [unit];
    } else current.push(unit);
  }
  if (current.length) out.push(current.join(sep));
  return out;
}

function blocks(text: string, bounds: PassageBounds, tokenizer: Tokenizer): Block[] {
  const out: Block[] = [];
  for (const p of paragraphs(text)) {
    const tokens = tokenizer.count(p);
    if (tokens <= bounds.maxTokens) {
      out.push({ text: p, tokens, heading: isHeading(p) });
      continue;
    }
    const units = isCode(p) ? p.split('\n') : sentences(p);
    for (const piece of pack(units, isCode(p) ? '\n' : ' ', bounds.maxTokens, tokenizer)) {
      out.push({ text: piece, tokens: tokenizer.count(piece), heading: false });
    }
  }
  return out;
}

export function splitPassages(text: string, bounds: PassageBounds, tokenizer: Tokenizer): PassageText[] {
  const target = targetTokens(bounds);
  const groups: Block[][] = [];
  let current: Block[] = [];
  let size = 0;
  const flush = () => {
    // A heading belongs to what follows it: carry trailing headings over to the next passage.
    const carried: Block[] = [];
    while (current.length && current[current.length - 1]!.heading) carried.unshift(current.pop()!);
    if (current.length) groups.push(current);
    current = carried;
    size = carried.reduce((n, b) => n + b.tokens, 0);
  };
  for (const block of blocks(text, bounds, tokenizer)) {
    const onlyHeadings = current.every((b) => b.heading);
    if (
      current.length &&
      !onlyHeadings &&
      (size + block.tokens > bounds.maxTokens ||
        size >= target ||
        (block.heading && size >= bounds.minTokens))
    ) {
      flush();
    }
    current.push(block);
    size += block.tokens;
  }
  if (current.length) groups.push(current);

  const passages = groups.map((g) => {
    const joined = g.map((b) => b.text).join('\n\n');
    return { text: joined, tokens: tokenizer.count(joined) };
  });
  const last = passages[passages.length - 1];
  const before = passages[passages.length - 2];
  if (last && before && last.tokens < bounds.minTokens) {
    const joined = `${before.text}\n\n${last.text}`;
    const tokens = tokenizer.count(joined);
    if (tokens <= bounds.maxTokens) passages.splice(-2, 2, { text: joined, tokens });
  }
  return passages;
}
