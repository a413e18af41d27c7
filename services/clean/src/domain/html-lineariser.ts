// Linearising a page: the DOM walked once into text blocks (headings, paragraphs, list items, code) that
// remember the element they came from, skipping furniture on the way. The blocks are what main-content.ts
// scores; walking and scoring are separate so either can change without the other.
import type { AnyNode, Element } from 'domhandler';
import {
  BLOCK_TAGS,
  NEGATIVE_TOKENS,
  POSITIVE_TOKENS,
  SKIP_ROLES,
  SKIP_TAGS,
  WEIGHTS,
} from './main-content-vocabulary.js';

export interface RawBlock {
  kind: 'heading' | 'paragraph' | 'list-item' | 'code';
  text: string;
  linkChars: number;
  owner: Element;
  level: number;
  ordered: boolean;
  index: number;
  depth: number;
  quote: number;
  language?: string;
  list?: Element;
  /** Inside an element whose class/id names furniture (walked only when the lineariser marks such hints). */
  hinted: boolean;
}

interface ListFrame {
  el: Element;
  ordered: boolean;
  next: number;
  current: number;
}

function classTokens(el: Element): string[] {
  // Most elements carry neither; they need no string built and split.
  if (el.attribs['class'] === undefined && el.attribs['id'] === undefined) return [];
  const value = `${el.attribs['class'] ?? ''} ${el.attribs['id'] ?? ''}`.toLowerCase();
  return value.split(/[\s_-]+/).filter(Boolean);
}

function isHidden(el: Element): boolean {
  const a = el.attribs;
  if (a['hidden'] !== undefined || a['aria-hidden'] === 'true') return true;
  const style = a['style'];
  return style !== undefined && /(?:display\s*:\s*none|visibility\s*:\s*hidden)/i.test(style);
}

export function elementText(node: AnyNode): string {
  if (node.type === 'text') return node.data;
  if ('children' in node) {
    let s = '';
    for (const child of node.children) {
      if (child.type === 'tag' && child.name === 'br') s += '\n';
      else s += elementText(child);
    }
    return s;
  }
  return '';
}

function codeLanguage(pre: Element): string | undefined {
  const candidates: Element[] = [pre];
  for (const c of pre.children) if (c.type === 'tag' && c.name === 'code') candidates.push(c);
  let parent = pre.parent;
  for (let i = 0; i < 2 && parent && parent.type === 'tag'; i++, parent = parent.parent)
    candidates.push(parent);
  for (const el of candidates) {
    const lang = el.attribs['data-lang'] ?? el.attribs['data-language'];
    if (lang) return lang.toLowerCase();
    const m = /(?:^|\s)(?:language|lang|highlight-source|brush:?)-?([a-z0-9+#]+)/i.exec(
      el.attribs['class'] ?? '',
    );
    if (m) return m[1]!.toLowerCase();
  }
  return undefined;
}

// Whitespace that collapses in rendered HTML, plus the no-break space, which we normalise too.
export const SPACES = /[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+/g;
const INVISIBLE = /[\u200b\u00ad\ufeff]/g;

/** Whether a UTF-16 code unit is one that `\s` (and so SPACES) matches. */
function isSpace(c: number): boolean {
  return (
    c === 32 ||
    (c >= 9 && c <= 13) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** `s.replace(SPACES, '').length` without building the string: the visible characters of a text node. */
export function nonSpaceLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c > 32 && c < 127) || !isSpace(c)) n++;
  }
  return n;
}

export function normaliseInline(s: string): string {
  // Text is mostly ASCII with source indentation: collapse its whitespace in one scan, copying the stretches
  // between irregular runs whole. ASCII is already NFC and holds no invisible characters, so the result is
  // what the general path below gives; anything else takes that path.
  let out = '';
  let from = 0;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c > 32 && c < 127) {
      i++;
      continue;
    }
    if (c >= 127) return s.replace(INVISIBLE, '').replace(SPACES, ' ').trim().normalize('NFC');
    if (c === 32 && !(i + 1 < n && s.charCodeAt(i + 1) <= 32)) {
      i++; // a single plain space stays as it is
      continue;
    }
    if (c !== 32 && !(c >= 9 && c <= 13)) {
      return s.replace(INVISIBLE, '').replace(SPACES, ' ').trim().normalize('NFC');
    }
    let j = i + 1;
    while (j < n) {
      const d = s.charCodeAt(j);
      if (d === 32 || (d >= 9 && d <= 13)) j++;
      else break;
    }
    out += `${s.slice(from, i)} `;
    from = j;
    i = j;
  }
  return (from === 0 ? s : out + s.slice(from)).trim();
}

/** One line of a block: whitespace collapsed, then inline code marks tidied — empty ones go, inner padding
 * goes (only lines that have any need the regexes). */
function tidyLine(line: string): string {
  const l = normaliseInline(line);
  return l.includes('`')
    ? l
        .replace(/`\s*`/g, '')
        .replace(/` ([^`]*?) `/g, '`$1`')
        .trim()
    : l;
}

// Stands for <br> in the inline buffer, so that source newlines (plain whitespace) are not taken for breaks.
const LINE_BREAK = '\u0001';

export class Lineariser {
  readonly blocks: RawBlock[] = [];
  private buffer = '';
  private linkChars = 0;
  private linkDepth = 0;
  private owner: Element | undefined;
  private readonly lists: ListFrame[] = [];
  private quote = 0;
  private headingLevel = 0;
  private hinted = 0;

  /** With `markHints`, a block-level element that class hints call furniture is walked, its blocks marked
   * `hinted`, instead of skipped: the rules then leave them out, and the learnt scorer can still weigh them. */
  constructor(
    private readonly proseTextTotal: number,
    private readonly proseText: Map<Element, number>,
    private readonly useClassHints: boolean,
    private readonly markHints = false,
  ) {}

  walk(node: AnyNode, owner: Element): void {
    if (node.type === 'text') {
      this.owner ??= owner;
      this.buffer += node.data;
      if (this.linkDepth > 0) this.linkChars += nonSpaceLength(node.data);
      return;
    }
    if (node.type !== 'tag') {
      if (node.type === 'root') for (const c of node.children) this.walk(c, owner);
      return;
    }
    const el = node;
    const name = el.name;
    if (name === 'br') {
      this.buffer += LINE_BREAK;
      return;
    }
    if (this.shouldSkip(el)) return;
    if (this.useClassHints && this.hintedFurniture(el)) {
      // Inline furniture (a byline <span> inside a paragraph) is always skipped: walking it would change the
      // paragraph's own text.
      if (!this.markHints || !BLOCK_TAGS.has(name)) return;
      // Walked aside: the text around it goes on as if it had been skipped (same blocks, same list numbers),
      // and its own blocks come out marked.
      const saved = { buffer: this.buffer, linkChars: this.linkChars, owner: this.owner };
      const frame = this.lists[this.lists.length - 1];
      const numbering = frame && { next: frame.next, current: frame.current };
      this.buffer = '';
      this.linkChars = 0;
      this.owner = undefined;
      this.hinted++;
      this.walkTag(el, owner);
      this.flush();
      this.hinted--;
      this.buffer = saved.buffer;
      this.linkChars = saved.linkChars;
      this.owner = saved.owner;
      if (frame && numbering) Object.assign(frame, numbering);
      return;
    }
    this.walkTag(el, owner);
  }

  private walkTag(el: Element, owner: Element): void {
    const name = el.name;
    if (name === 'pre') {
      this.flush();
      let text = elementText(el);
      if (text.startsWith('\n')) text = text.slice(1); // the parser drops a newline right after <pre>
      if (text.trim()) {
        this.blocks.push({
          kind: 'code',
          text,
          linkChars: 0,
          owner: el,
          level: 0,
          ordered: false,
          index: 0,
          depth: this.lists.length,
          quote: this.quote,
          language: codeLanguage(el),
          list: undefined,
          hinted: this.hinted > 0,
        });
      }
      return;
    }
    if (!BLOCK_TAGS.has(name)) {
      if (name === 'a') this.linkDepth++;
      const inlineCode = name === 'code' || name === 'kbd' || name === 'samp';
      if (inlineCode) this.buffer += ' `';
      for (const c of el.children) this.walk(c, owner);
      if (inlineCode) this.buffer += '` ';
      if (name === 'a') this.linkDepth--;
      return;
    }
    this.flush();
    const heading = /^h([1-6])$/.exec(name);
    if (heading) this.headingLevel = Number(heading[1]);
    if (name === 'ul' || name === 'ol' || name === 'menu' || name === 'dir') {
      this.lists.push({
        el,
        ordered: name === 'ol',
        next: Number(el.attribs['start'] ?? 1) || 1,
        current: 0,
      });
    }
    const frame = this.lists[this.lists.length - 1];
    if (name === 'li' && frame) frame.current = frame.next++;
    if (name === 'blockquote') this.quote++;
    for (const c of el.children) this.walk(c, el);
    this.flush();
    if (name === 'blockquote') this.quote--;
    if (name === 'ul' || name === 'ol' || name === 'menu' || name === 'dir') this.lists.pop();
    if (heading) this.headingLevel = 0;
  }

  private shouldSkip(el: Element): boolean {
    const name = el.name;
    if (SKIP_TAGS.has(name)) {
      // <nav>/<aside>/<footer> inside the article are furniture too, but a page that wraps its whole
      // text in one of them (it happens) must not lose it.
      if (name === 'nav' || name === 'aside' || name === 'footer') return !this.holdsMostText(el);
      return true;
    }
    if (name === 'body' || name === 'html' || name === 'article' || name === 'main') return false;
    if (isHidden(el)) return true;
    const role = el.attribs['role'];
    if (role && SKIP_ROLES.has(role)) return !this.holdsMostText(el);
    return false;
  }

  private hintedFurniture(el: Element): boolean {
    const name = el.name;
    if (name === 'body' || name === 'html' || name === 'article' || name === 'main') return false;
    const tokens = classTokens(el);
    if (tokens.length === 0) return false;
    let negative = false;
    let positive = false;
    for (const t of tokens) {
      if (NEGATIVE_TOKENS.has(t)) negative = true;
      else if (POSITIVE_TOKENS.has(t)) positive = true;
    }
    if (!negative) return false;
    // "widget Blog", "post-sharing": a positive word next to a negative one is trusted only when the
    // element holds a real share of the page's prose.
    return !this.holdsMostText(el, positive ? WEIGHTS.mixedHintProseShare : WEIGHTS.negativeHintProseShare);
  }

  private holdsMostText(el: Element, share: number = WEIGHTS.landmarkProseShare): boolean {
    return (this.proseText.get(el) ?? 0) > share * this.proseTextTotal;
  }

  private flush(): void {
    if (!this.buffer) return;
    const raw = this.buffer;
    const owner = this.owner;
    const linkChars = this.linkChars;
    this.buffer = '';
    this.linkChars = 0;
    this.owner = undefined;
    if (!owner) return;
    // Most blocks hold no <br>: one line, tidied without the arrays the general case builds.
    const text = raw.includes(LINE_BREAK)
      ? raw.split(LINE_BREAK).map(tidyLine).filter(Boolean).join('\n')
      : tidyLine(raw);
    if (!text) return;
    const list = this.lists[this.lists.length - 1];
    const inItem = list !== undefined && this.nearestListItem(owner, list.el);
    if (this.headingLevel > 0) {
      this.push({
        kind: 'heading',
        text: text.replace(/\n/g, ' '),
        linkChars,
        owner,
        level: this.headingLevel,
      });
    } else if (list && inItem) {
      this.push({
        kind: 'list-item',
        text,
        linkChars,
        owner,
        ordered: list.ordered,
        index: list.current,
        list: list.el,
      });
    } else {
      this.push({ kind: 'paragraph', text, linkChars, owner });
    }
  }

  private nearestListItem(owner: Element, list: Element): boolean {
    for (let e: Element | null = owner; e && e !== list; e = e.parent as Element | null) {
      if (e.name === 'li') return true;
    }
    return false;
  }

  private push(b: Partial<RawBlock> & Pick<RawBlock, 'kind' | 'text' | 'linkChars' | 'owner'>): void {
    // Every block built with the same fields in the same order: one object shape keeps the scoring and
    // feature loops that read blocks fast.
    this.blocks.push({
      kind: b.kind,
      text: b.text,
      linkChars: b.linkChars,
      owner: b.owner,
      level: b.level ?? 0,
      ordered: b.ordered ?? false,
      index: b.index ?? 0,
      depth: Math.max(0, this.lists.length - 1),
      quote: this.quote,
      language: undefined,
      list: b.list,
      hinted: this.hinted > 0,
    });
  }
}
