// Token-aware, structure-aware chunking of cleaned documents. See docs/chunking.md for the strategies and
// the invariants every chunk keeps (fits the limit, exact substring, deterministic id).
import { createHash } from 'node:crypto';
import { codeUnits } from './code-units.js';
import type { TokenCounter } from './tokenizer.js';

export type Category = 'article' | 'post' | 'code';

export interface ChunkInput {
  readonly documentId: string;
  readonly version: number | bigint;
  readonly authorId: string;
  readonly category: Category;
  /** The cleaned text; offsets of the chunks are UTF-16 code unit indices into it. */
  readonly text: string;
  /** Programming language of a code document (as services/clean names it: typescript, python, go, …). */
  readonly language?: string;
}

export interface ChunkingPolicy {
  readonly category: Category;
  /** Most tokens per chunk, the counter's per-input overhead included. */
  readonly maxTokens: number;
  /** Tokens of the previous chunk repeated at the start of the next one when a section is split. */
  readonly overlapTokens: number;
  readonly strategy: string;
  readonly tokenizer: string;
}

/** The fields of `chunkv1.Chunk`, as a plain object (`create(chunkv1.ChunkSchema, chunk)` accepts it). */
export interface Chunk {
  id: string;
  ref: { documentId: string; version: bigint; authorId: string };
  position: number;
  text: string;
  tokenCount: number;
  section: string;
  startOffset: number;
  endOffset: number;
}

const STRATEGY: Record<Category, string> = {
  article: 'sections-paragraphs-overlap',
  post: 'whole-or-sentences',
  code: 'syntax-units-line-windows',
};
const OVERLAP_SHARE: Record<Category, number> = { article: 0.15, post: 0.15, code: 0.1 };

export function defaultPolicy(category: Category, counter: TokenCounter): ChunkingPolicy {
  return {
    category,
    maxTokens: counter.maxTokens,
    overlapTokens: Math.round(counter.maxTokens * OVERLAP_SHARE[category]),
    strategy: STRATEGY[category],
    tokenizer: counter.model ?? 'unknown',
  };
}

export const defaultPolicies = (counter: TokenCounter): ChunkingPolicy[] =>
  (['article', 'post', 'code'] as const).map((c) => defaultPolicy(c, counter));

export function chunkId(documentId: string, version: number | bigint, position: number): string {
  // NUL cannot occur in the parts, so the encoding is unambiguous.
  const digest = createHash('sha256')
    .update(`${documentId}\0${String(version)}\0${position}`)
    .digest('hex');
  return `chk_${digest.slice(0, 32)}`;
}

export function chunkDocument(input: ChunkInput, policy: ChunkingPolicy, counter: TokenCounter): Chunk[] {
  if (policy.maxTokens > counter.maxTokens) {
    throw new RangeError(
      `chunking policy for ${policy.category}: maxTokens ${policy.maxTokens} exceeds the tokenizer's limit ${counter.maxTokens}`,
    );
  }
  const ctx = new Context(input.text, counter, policy);
  if (ctx.overhead >= policy.maxTokens) {
    throw new RangeError(
      `chunking policy: maxTokens ${policy.maxTokens} leaves no room after ${ctx.overhead} special tokens`,
    );
  }
  if (policy.overlapTokens < 0 || policy.overlapTokens * 2 > policy.maxTokens) {
    throw new RangeError(`chunking policy: overlapTokens must be between 0 and half of maxTokens`);
  }
  if (input.text.trim() === '') return [];

  let spans: Span[];
  switch (input.category) {
    case 'article':
      spans = articleGroups(ctx).flatMap((g) => ctx.pack(g));
      break;
    case 'post':
      spans = postSpans(ctx);
      break;
    case 'code':
      spans = ctx.merge(codeGroups(ctx, input.language));
      break;
  }

  const version = BigInt(input.version);
  return spans.map((s, position) => ({
    id: chunkId(input.documentId, version, position),
    ref: { documentId: input.documentId, version, authorId: input.authorId },
    position,
    text: input.text.slice(s.start, s.end),
    tokenCount: s.tokens,
    section: s.sections.join(', '),
    startOffset: s.start,
    endOffset: s.end,
  }));
}

// ---------------------------------------------------------------------------------------------------------

type Kind = 'prose' | 'code' | 'heading';

/** A span that fits alone and that packing never cuts; `tokens` excludes the per-input overhead. */
interface Atom {
  start: number;
  end: number;
  kind: Kind;
  tokens: number;
}

/** Atoms packed together under one section; overlap is used only where a group is cut into chunks. */
export interface Group {
  section: string;
  atoms: Atom[];
}

interface Span {
  start: number;
  end: number;
  /** More than one where neighbouring units were merged into one chunk. */
  sections: string[];
  tokens: number;
}

const SENTENCE_END = /(?:[.!?…]+["'”’)\]]*\s+)|(?:[。！？]+[」』”’）]*\s*)/gu;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

class Context {
  readonly overhead: number;
  readonly max: number;
  readonly overlap: number;

  constructor(
    readonly text: string,
    private readonly counter: TokenCounter,
    policy: ChunkingPolicy,
  ) {
    this.overhead = counter.countTokens('');
    this.max = policy.maxTokens;
    this.overlap = policy.overlapTokens;
  }

  /** Tokens of text[start, end), overhead included. */
  count(start: number, end: number): number {
    return this.counter.countTokens(this.text.slice(start, end));
  }

  /** [start, end) without surrounding whitespace; `keepIndent` keeps the first line's indentation (code). */
  trim(start: number, end: number, keepIndent = false): [number, number] {
    const t = this.text;
    while (end > start && /\s/u.test(t[end - 1] ?? '')) end--;
    if (keepIndent) {
      // Skip whole blank lines only, so the first line keeps its indentation.
      let s = start;
      for (;;) {
        const nl = t.indexOf('\n', s);
        if (nl < 0 || nl >= end || t.slice(s, nl).trim() !== '') break;
        s = nl + 1;
      }
      start = s;
    } else {
      while (start < end && /\s/u.test(t[start] ?? '')) start++;
    }
    return [start, end];
  }

  /**
   * Atoms covering [start, end): the span itself when it fits, else its lines, then (prose) sentences,
   * then words, then grapheme runs cut as long as they fit.
   */
  atomize(start: number, end: number, kind: Kind, level = 0): Atom[] {
    const [s, e] = this.trim(start, end, kind === 'code');
    if (s >= e) return [];
    const n = this.count(s, e);
    if (n <= this.max) return [{ start: s, end: e, kind, tokens: n - this.overhead }];
    const levels = kind === 'code' ? [lines, words] : [lines, sentences, words];
    for (let l = level; l < levels.length; l++) {
      const parts = levels[l]!(this.text, s, e);
      if (parts.length > 1) return parts.flatMap(([ps, pe]) => this.atomize(ps, pe, kind, l + 1));
    }
    return this.hardSplit(s, e, kind);
  }

  private hardSplit(start: number, end: number, kind: Kind): Atom[] {
    const bounds: number[] = [];
    for (const g of segmenter.segment(this.text.slice(start, end))) bounds.push(start + g.index);
    bounds.push(end);
    const out: Atom[] = [];
    let from = 0;
    while (from < bounds.length - 1) {
      // bounds[lo] is known to fit; a token count is not monotone in the length, so the result is checked.
      let lo = from;
      let hi = bounds.length - 1;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (this.count(bounds[from]!, bounds[mid]!) <= this.max) lo = mid;
        else hi = mid - 1;
      }
      if (lo === from) {
        throw new RangeError(`one character at offset ${bounds[from]} does not fit in ${this.max} tokens`);
      }
      const s = bounds[from]!;
      const e = bounds[lo]!;
      out.push({ start: s, end: e, kind, tokens: this.count(s, e) - this.overhead });
      from = lo;
    }
    return out;
  }

  /** Greedy packing of a group's atoms into chunks that fit, each next chunk starting with an overlap. */
  pack(group: Group): Span[] {
    const { atoms, section } = group;
    const out: Span[] = [];
    let i = 0;
    let ovStart = -1;
    let ovTokens = 0;
    while (i < atoms.length) {
      let start = ovStart >= 0 ? ovStart : atoms[i]!.start;
      let estimate = (ovStart >= 0 ? ovTokens : 0) + atoms[i]!.tokens;
      let j = i;
      while (j + 1 < atoms.length && this.overhead + estimate + atoms[j + 1]!.tokens <= this.max) {
        j++;
        estimate += atoms[j]!.tokens;
      }
      // The estimate adds the atoms' counts; the chunk's own count decides.
      let tokens = this.count(start, atoms[j]!.end);
      while (tokens > this.max) {
        if (j > i) j--;
        else if (ovStart >= 0) {
          ovStart = -1;
          start = atoms[i]!.start;
        } else throw new Error('unreachable: an atom that fits alone does not fit');
        tokens = this.count(start, atoms[j]!.end);
      }
      const end = atoms[j]!.end;
      out.push({ start, end, sections: [section], tokens });
      const first = i;
      i = j + 1;
      ovStart = -1;
      ovTokens = 0;
      if (i < atoms.length && this.overlap > 0) {
        [ovStart, ovTokens] = this.overlapStart(atoms, first, j, start, end, atoms[i]!.tokens);
      }
    }
    return out;
  }

  /** The earliest sentence, line or atom start in the chunk whose tail fits the overlap budget. */
  private overlapStart(
    atoms: Atom[],
    first: number,
    last: number,
    chunkStart: number,
    chunkEnd: number,
    next: number,
  ): [number, number] {
    let best: [number, number] = [-1, 0];
    for (let k = last; k >= first; k--) {
      const atom = atoms[k]!;
      const starts = atom.kind === 'prose' ? innerStarts(this.text, atom.start, atom.end) : [];
      starts.push(atom.start);
      for (const p of starts) {
        if (p <= chunkStart) return best;
        const t = this.count(p, chunkEnd) - this.overhead;
        if (t > this.overlap || this.overhead + t + next > this.max) return best;
        best = [p, t];
      }
    }
    return best;
  }

  /**
   * Packs each group, then joins neighbouring groups that were each one chunk while the join fits: small
   * functions share a chunk, a split unit keeps its own chunks.
   */
  merge(groups: Group[]): Span[] {
    const out: Span[] = [];
    let openable = false;
    for (const g of groups) {
      const spans = this.pack(g);
      const only = spans.length === 1 ? spans[0]! : undefined;
      const prev = out[out.length - 1];
      // Spans' counts include the overhead once each; the joined text has it once.
      if (only && prev && openable && prev.tokens + only.tokens - this.overhead <= this.max) {
        const tokens = this.count(prev.start, only.end);
        if (tokens <= this.max) {
          out[out.length - 1] = {
            start: prev.start,
            end: only.end,
            tokens,
            sections: joinSections(prev.sections, only.sections),
          };
          continue;
        }
      }
      out.push(...spans);
      openable = only !== undefined;
    }
    return out;
  }
}

/** Sections of a merged chunk: each distinct path once, a parent dropped when a child of it is listed. */
function joinSections(a: string[], b: string[]): string[] {
  const distinct = [...new Set([...a, ...b].filter((s) => s !== ''))];
  return distinct.filter((s) => !distinct.some((o) => o !== s && o.startsWith(`${s} > `)));
}

type Cut = (text: string, start: number, end: number) => [number, number][];

const lines: Cut = (text, start, end) => {
  const out: [number, number][] = [];
  let s = start;
  while (s < end) {
    const nl = text.indexOf('\n', s);
    const e = nl < 0 || nl >= end ? end : nl;
    if (text.slice(s, e).trim() !== '') out.push([s, e]);
    s = e + 1;
  }
  return out;
};

const sentences: Cut = (text, start, end) => {
  const out: [number, number][] = [];
  let s = start;
  for (const p of innerStarts(text, start, end, false).reverse()) {
    out.push([s, p]);
    s = p;
  }
  out.push([s, end]);
  return out;
};

const words: Cut = (text, start, end) => {
  const out: [number, number][] = [];
  const re = /\S+/gu;
  re.lastIndex = start;
  for (let m = re.exec(text); m && m.index < end; m = re.exec(text)) {
    out.push([m.index, Math.min(end, m.index + m[0].length)]);
  }
  return out;
};

/** Offsets inside (start, end) where a sentence (or, with `withLines`, a line) begins. */
function innerStarts(text: string, start: number, end: number, withLines = true): number[] {
  const slice = text.slice(start, end);
  const found = new Set<number>();
  for (const m of slice.matchAll(SENTENCE_END)) {
    const p = start + (m.index ?? 0) + m[0].length;
    if (p < end) found.add(p);
  }
  if (withLines) {
    for (let nl = slice.indexOf('\n'); nl >= 0; nl = slice.indexOf('\n', nl + 1)) {
      let p = start + nl + 1;
      while (p < end && /[ \t]/.test(text[p] ?? '')) p++;
      if (p < end) found.add(p);
    }
  }
  return [...found].sort((a, b) => b - a);
}

// ---- articles ----------------------------------------------------------------------------------------------

const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

interface Block {
  start: number;
  end: number;
  kind: Kind;
  level?: number;
  title?: string;
}

/** Headings, fenced code blocks, and runs of non-blank lines (paragraphs, lists, quotes). */
function blocks(text: string): Block[] {
  const out: Block[] = [];
  let para: Block | undefined;
  let fence: { block: Block; marker: string } | undefined;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const lineEnd = nl < 0 ? text.length : nl;
    const next = nl < 0 ? text.length : nl + 1;
    const line = text.slice(pos, lineEnd).replace(/\r$/, '');
    if (fence) {
      fence.block.end = lineEnd;
      const close = FENCE.exec(line);
      if (
        close &&
        close[1]![0] === fence.marker[0] &&
        close[1]!.length >= fence.marker.length &&
        line.trim() === close[1]
      ) {
        fence = undefined;
      }
    } else if (FENCE.test(line)) {
      para = undefined;
      const block: Block = { start: pos, end: lineEnd, kind: 'code' };
      out.push(block);
      fence = { block, marker: FENCE.exec(line)![1]! };
    } else if (HEADING.test(line)) {
      para = undefined;
      const m = HEADING.exec(line)!;
      out.push({ start: pos, end: lineEnd, kind: 'heading', level: m[1]!.length, title: m[2]! });
    } else if (line.trim() === '') {
      para = undefined;
    } else if (para) {
      para.end = lineEnd;
    } else {
      para = { start: pos, end: lineEnd, kind: 'prose' };
      out.push(para);
    }
    pos = next;
  }
  return out;
}

function articleGroups(ctx: Context): Group[] {
  const groups: Group[] = [];
  const path: { level: number; title: string }[] = [];
  let current: Group = { section: '', atoms: [] };
  // A heading directly followed by another heading has no body of its own: it rides with the next section.
  let pending: Atom[] = [];
  const flush = () => {
    if (current.atoms.length > pending.length) {
      groups.push(current);
      pending = [];
    }
  };
  for (const b of blocks(ctx.text)) {
    if (b.kind === 'heading') {
      const heading = ctx.atomize(b.start, b.end, 'heading');
      const bodyless = current.atoms.length === pending.length;
      flush();
      if (bodyless) pending.push(...heading);
      else pending = heading;
      while (path.length > 0 && path[path.length - 1]!.level >= b.level!) path.pop();
      path.push({ level: b.level!, title: b.title! });
      current = { section: path.map((h) => h.title).join(' > '), atoms: [...pending] };
    } else {
      current.atoms.push(...ctx.atomize(b.start, b.end, b.kind));
    }
  }
  if (current.atoms.length > 0) groups.push(current);
  return groups;
}

// ---- posts ---------------------------------------------------------------------------------------------------

function postSpans(ctx: Context): Span[] {
  const atoms = blocks(ctx.text).flatMap((b) =>
    ctx.atomize(b.start, b.end, b.kind === 'code' ? 'code' : 'prose'),
  );
  if (atoms.length === 0) return [];
  const start = atoms[0]!.start;
  const end = atoms[atoms.length - 1]!.end;
  const whole = ctx.count(start, end);
  if (whole <= ctx.max) return [{ start, end, sections: [''], tokens: whole }];
  return ctx.pack({ section: '', atoms });
}

// ---- code ----------------------------------------------------------------------------------------------------

function codeGroups(ctx: Context, language: string | undefined): Group[] {
  const groups: Group[] = [];
  const visit = (units: ReturnType<typeof codeUnits>, parent: string) => {
    for (const u of units) {
      const section = u.signature ? (parent ? `${parent} > ${u.signature}` : u.signature) : parent;
      const [s, e] = ctx.trim(u.start, u.end, true);
      if (s >= e) continue;
      if (ctx.count(s, e) <= ctx.max || u.children.length === 0) {
        groups.push({ section, atoms: ctx.atomize(s, e, 'code') });
      } else {
        visit(u.children, section);
      }
    }
  };
  visit(codeUnits(ctx.text, language), '');
  return groups;
}
