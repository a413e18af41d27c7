// What the learnt block scorer (block-model.ts) sees of each block: general signals only — the rules' own
// verdict, length, link density, sentence shape, the block's position relative to the rules' container, its
// neighbours, the tags around it — plus two open vocabularies whose weights are learnt from many pages rather
// than listed by hand: the class/id tokens of the block's nearest ancestors and the words of short blocks
// (where "Share", "Kontakt" or "Leave a reply" live). A token gets a weight only when it was seen on enough
// training pages (bench/extraction-model.ts), so one site's class names cannot become a rule.
import type { AnyNode, Element } from 'domhandler';
import type { RawBlock } from './html-lineariser.js';
import { SENTENCE_END } from './main-content-vocabulary.js';

/** Names of the dense features, in the order of `BlockFeatures.dense`; the model's weights are keyed by them. */
export const DENSE_FEATURES = [
  'ruleKept',
  'inContainer',
  'beforeContainer',
  'afterContainer',
  'edgeDistance',
  'heading',
  'listItem',
  'code',
  'logLength',
  'lengthUnder15',
  'lengthUnder40',
  'lengthUnder80',
  'lengthUnder160',
  'lengthUnder320',
  'linkDensity',
  'noLinks',
  'mostlyLinks',
  'sentenceEnd',
  'endsWithColon',
  'commaRate',
  'digitShare',
  'upperShare',
  'pipeOrBullet',
  'repeated',
  'quote',
  'nestedList',
  'listLinkShare',
  'position',
  'ownerP',
  'ownerDiv',
  'ownerCell',
  'ownerLi',
  'inArticle',
  'inMain',
  'inHeader',
  'inForm',
  'inTable',
  'inFigure',
  'prevRuleKept',
  'nextRuleKept',
  'prevLinkDensity',
  'nextLinkDensity',
  'prevLogLength',
  'nextLogLength',
  // The rules' verdict crossed with what it most often gets wrong: the model can trust it more for some
  // kinds of block than for others, which a linear model cannot learn from the two features apart.
  'ruleKeptHeading',
  'ruleKeptListItem',
  'ruleKeptShort',
  'ruleKeptLinkDensity',
  'outsideLong',
  'hinted',
] as const;

export interface BlockFeatures {
  /** Whether the hand-written rules (container choice and clean-up) keep the block. */
  ruleKept: boolean;
  /** One value per DENSE_FEATURES name (blockFeatures gives a row of one table per page). */
  dense: ArrayLike<number>;
  /** Open-vocabulary features present on the block: `c:<class/id token>`, `w:<word of a short block>`.
   * Blocks of one element may share this list: read it, never change it. */
  sparse: readonly string[];
}

/** Class/id tokens are read from the block's element and this many ancestors above it. */
const CLASS_TOKEN_DEPTH = 4;
/** Words are features only in blocks shorter than this (stock lines are short; prose words carry no signal). */
const SHORT_BLOCK_CHARS = 80;
/** Letter case is counted in the first this many characters of a block. */
const CASE_SAMPLE_CHARS = 120;
const SAMPLE_CHARS = 400;

const WORD = /[\p{L}\p{N}]+/gu;
const LETTER = /^\p{L}$/u;
const UPPER = /^\p{Lu}$/u;

const NO_TOKENS: string[] = [];

function classTokens(el: Element, cache: Map<Element, string[]>): string[] {
  let tokens = cache.get(el);
  if (!tokens) {
    if (el.attribs['class'] === undefined && el.attribs['id'] === undefined) {
      cache.set(el, NO_TOKENS);
      return NO_TOKENS;
    }
    const value = `${el.attribs['class'] ?? ''} ${el.attribs['id'] ?? ''}`;
    tokens = [];
    // Split on separators and camelCase humps; digits and one-letter pieces say nothing about any page.
    for (const piece of value.replace(/([a-z])([A-Z])/g, '$1 $2').split(/[^A-Za-z]+/)) {
      const t = piece.toLowerCase();
      if (t.length >= 2 && t.length <= 24) tokens.push(`c:${t}`);
    }
    cache.set(el, tokens);
  }
  return tokens;
}

// Which of article, main, header, form, table, figure enclose an element (bits 1, 2, 4, 8, 16, 32).
const FLAG_OF = new Map([
  ['article', 1],
  ['main', 2],
  ['header', 4],
  ['form', 8],
  ['table', 16],
  ['figure', 32],
]);

function ancestorFlags(el: AnyNode | null, cache: Map<AnyNode, number>): number {
  if (!el || el.type !== 'tag') return 0;
  let flags = cache.get(el);
  if (flags === undefined) {
    flags = (FLAG_OF.get(el.name) ?? 0) | ancestorFlags(el.parent, cache);
    cache.set(el, flags);
  }
  return flags;
}

/** The class/id tokens of an element and its CLASS_TOKEN_DEPTH nearest ancestors, each once. */
function windowTokens(
  el: Element,
  tokenCache: Map<Element, string[]>,
  cache: Map<Element, string[]>,
): string[] {
  let tokens = cache.get(el);
  if (!tokens) {
    tokens = [];
    let depth = 0;
    for (let e: AnyNode | null = el; e && e.type === 'tag' && depth <= CLASS_TOKEN_DEPTH; e = e.parent) {
      for (const t of classTokens(e, tokenCache)) if (!tokens.includes(t)) tokens.push(t);
      depth++;
    }
    cache.set(el, tokens);
  }
  return tokens;
}

const logLength = (n: number): number => Math.log1p(n) / 8;

/** `w:<word>` for each word (a run of Unicode letters and digits, lower-cased) of a short block, in order.
 * ASCII text is split by character code; other text by the Unicode classes. */
function wordKeys(text: string): string[] {
  const keys: string[] = [];
  let start = -1;
  for (let k = 0; k <= text.length; k++) {
    const c = k < text.length ? text.charCodeAt(k) : 32;
    if (c >= 128) {
      return (text.match(WORD) ?? []).map((w) => `w:${w.toLowerCase()}`);
    }
    const word = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (word) {
      if (start < 0) start = k;
    } else if (start >= 0) {
      keys.push(`w:${text.slice(start, k).toLowerCase()}`);
      start = -1;
    }
  }
  return keys;
}

// Letter case per non-ASCII code point (0 not a letter, 1 a letter, 2 a capital), asked of the Unicode
// classes once per code point rather than by a regex match over every block.
const caseOf = new Map<number, number>();
function nonAsciiCase(cp: number): number {
  let kind = caseOf.get(cp);
  if (kind === undefined) {
    const ch = String.fromCodePoint(cp);
    kind = UPPER.test(ch) ? 2 : LETTER.test(ch) ? 1 : 0;
    if (caseOf.size < 65536) caseOf.set(cp, kind);
  }
  return kind;
}

/** Letters and capitals (Unicode \p{L}, \p{Lu}) in a block's first CASE_SAMPLE_CHARS UTF-16 units; a
 * surrogate pair cut by that limit counts as no letter, as it would in the cut string. */
function letterCase(text: string): [number, number] {
  const end = Math.min(text.length, CASE_SAMPLE_CHARS);
  let letters = 0;
  let upper = 0;
  for (let k = 0; k < end; k++) {
    const c = text.charCodeAt(k);
    if (c < 128) {
      if (c >= 65 && c <= 90) {
        letters++;
        upper++;
      } else if (c >= 97 && c <= 122) letters++;
      continue;
    }
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff) {
      const low = k + 1 < end ? text.charCodeAt(k + 1) : 0;
      if (low < 0xdc00 || low > 0xdfff) continue; // a lone high surrogate is no letter
      cp = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
      k++;
    } else if (c >= 0xdc00 && c <= 0xdfff) continue;
    const kind = nonAsciiCase(cp);
    if (kind > 0) letters++;
    if (kind === 2) upper++;
  }
  return [letters, upper];
}

export function blockFeatures(
  blocks: RawBlock[],
  kept: Set<RawBlock>,
  container: Element | undefined,
): BlockFeatures[] {
  const n = blocks.length;
  const insideCache = new Map<AnyNode, boolean>();
  const inContainer = blocks.map((b) => container !== undefined && within(b.owner, container, insideCache));
  let first = -1;
  let last = -1;
  inContainer.forEach((inside, i) => {
    if (inside) {
      if (first < 0) first = i;
      last = i;
    }
  });
  const textCount = new Map<string, number>();
  for (const b of blocks) textCount.set(b.text, (textCount.get(b.text) ?? 0) + 1);
  const listLinks = new Map<Element, [number, number]>();
  for (const b of blocks) {
    if (!b.list) continue;
    const acc = listLinks.get(b.list) ?? [0, 0];
    acc[0] += b.linkChars;
    acc[1] += b.text.length;
    listLinks.set(b.list, acc);
  }
  const density = (b: RawBlock | undefined): number =>
    b && b.text.length > 0 ? Math.min(1, b.linkChars / b.text.length) : 0;
  const tokenCache = new Map<Element, string[]>();
  const flagCache = new Map<AnyNode, number>();
  const windowCache = new Map<Element, string[]>();
  const D = DENSE_FEATURES.length;
  const table = new Float64Array(n * D);

  return blocks.map((b, i) => {
    const text = b.text;
    const len = text.length;
    const ld = density(b);
    let digits = 0;
    let commas = 0;
    let separators = 0;
    // Shares of digits, commas and separators: the first SAMPLE_CHARS characters tell them well enough.
    const sample = Math.min(len, SAMPLE_CHARS);
    for (let k = 0; k < sample; k++) {
      const c = text.charCodeAt(k);
      if (c >= 48 && c <= 57) digits++;
      else if (c === 44 || c === 0xff0c || c === 0x3001) commas++;
      else if (c === 124 || c === 0x2022 || c === 0xb7 || c === 0xbb) separators++;
    }
    // Capitals matter in short lines ("READ MORE"); the head of a long block says as much as all of it.
    const [letters, upper] = letterCase(text);
    const flags = ancestorFlags(b.owner, flagCache);
    // Long blocks share their element window's token list (read only); short ones add their words to a copy.
    let sparse: readonly string[] = windowTokens(b.owner, tokenCache, windowCache);
    if (len < SHORT_BLOCK_CHARS) {
      const own = sparse.slice();
      sparse = own;
      for (const key of wordKeys(text)) if (!own.includes(key)) own.push(key);
    }
    const owner = b.owner.name;
    const list = b.list ? listLinks.get(b.list) : undefined;
    const prev = blocks[i - 1];
    const next = blocks[i + 1];
    const edgeDistance = first < 0 ? 1 : i < first ? first - i : i > last ? i - last : 0;
    const ruleKept = kept.has(b);
    // One row of the page's feature table (one allocation per page, not an array per block).
    const dense = table.subarray(i * D, (i + 1) * D);
    let k = 0;
    dense[k++] = ruleKept ? 1 : 0;
    dense[k++] = inContainer[i] ? 1 : 0;
    dense[k++] = first >= 0 && i < first ? 1 : 0;
    dense[k++] = last >= 0 && i > last ? 1 : 0;
    dense[k++] = Math.min(1, edgeDistance / 20);
    dense[k++] = b.kind === 'heading' ? 1 : 0;
    dense[k++] = b.kind === 'list-item' ? 1 : 0;
    dense[k++] = b.kind === 'code' ? 1 : 0;
    dense[k++] = logLength(len);
    dense[k++] = len < 15 ? 1 : 0;
    dense[k++] = len < 40 ? 1 : 0;
    dense[k++] = len < 80 ? 1 : 0;
    dense[k++] = len < 160 ? 1 : 0;
    dense[k++] = len < 320 ? 1 : 0;
    dense[k++] = ld;
    dense[k++] = b.linkChars === 0 ? 1 : 0;
    dense[k++] = ld > 0.5 ? 1 : 0;
    dense[k++] = SENTENCE_END.test(text) ? 1 : 0;
    dense[k++] = text.endsWith(':') ? 1 : 0;
    dense[k++] = sample > 0 ? Math.min(1, (commas * 40) / sample) : 0;
    dense[k++] = sample > 0 ? digits / sample : 0;
    dense[k++] = letters > 0 ? upper / letters : 0;
    dense[k++] = Math.min(1, separators / 3);
    dense[k++] = (textCount.get(text) ?? 0) > 1 ? 1 : 0;
    dense[k++] = b.quote > 0 ? 1 : 0;
    dense[k++] = b.depth > 0 ? 1 : 0;
    dense[k++] = list && list[1] > 0 ? list[0] / list[1] : 0;
    dense[k++] = n > 1 ? i / (n - 1) : 0;
    dense[k++] = owner === 'p' ? 1 : 0;
    dense[k++] = owner === 'div' ? 1 : 0;
    dense[k++] = owner === 'td' || owner === 'th' ? 1 : 0;
    dense[k++] = owner === 'li' ? 1 : 0;
    dense[k++] = flags & 1 ? 1 : 0;
    dense[k++] = flags & 2 ? 1 : 0;
    dense[k++] = flags & 4 ? 1 : 0;
    dense[k++] = flags & 8 ? 1 : 0;
    dense[k++] = flags & 16 ? 1 : 0;
    dense[k++] = flags & 32 ? 1 : 0;
    dense[k++] = prev && kept.has(prev) ? 1 : 0;
    dense[k++] = next && kept.has(next) ? 1 : 0;
    dense[k++] = density(prev);
    dense[k++] = density(next);
    dense[k++] = prev ? logLength(prev.text.length) : 0;
    dense[k++] = next ? logLength(next.text.length) : 0;
    dense[k++] = ruleKept && b.kind === 'heading' ? 1 : 0;
    dense[k++] = ruleKept && b.kind === 'list-item' ? 1 : 0;
    dense[k++] = ruleKept && len < 40 ? 1 : 0;
    dense[k++] = ruleKept ? ld : 0;
    dense[k++] = !inContainer[i] && len >= 160 ? 1 : 0;
    dense[k++] = b.hinted ? 1 : 0;
    return { ruleKept, dense, sparse };
  });
}

/** Whether `el` lies inside `container` (or is it); `cache` remembers the answer for every element climbed
 * through, so blocks that share ancestors do not climb the same path again. One cache per container. */
export function within(el: Element, container: Element, cache: Map<AnyNode, boolean>): boolean {
  const path: AnyNode[] = [];
  let found = false;
  for (let e: AnyNode | null = el; e; e = e.parent) {
    const known = cache.get(e);
    if (known !== undefined) {
      found = known;
      break;
    }
    if (e === container) {
      found = true;
      break;
    }
    path.push(e);
  }
  for (const e of path) cache.set(e, found);
  return found;
}
