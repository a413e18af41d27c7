// Main-content extraction: raw article HTML → the article's own text, as markdown-like blocks.
//
// The approach (see docs/cleaning.md): parse with htmlparser2, skip what is never content (scripts, forms'
// controls, hidden nodes, navigation landmarks, elements whose class/id say comments, share bars, related
// links, cookie banners ...), linearise the rest into text blocks that remember the element they came from,
// then score every element by the text under it: well-formed, link-poor blocks count for it, short or
// link-heavy blocks count against it. The best-scoring element is the article's container; its blocks,
// minus link lists and stock boilerplate lines, are the output. A long JSON-LD articleBody replaces the
// result when the DOM gave much less text than the publisher's own structured data.
import { parseDocument } from 'htmlparser2';
import type { AnyNode, Element } from 'domhandler';
import { decodeHtml } from './html-encoding.js';

export type ContentBlock =
  | { type: 'heading'; level: number; text: string; quote: number }
  | { type: 'paragraph'; text: string; quote: number }
  | { type: 'list-item'; text: string; ordered: boolean; index: number; depth: number; quote: number }
  | { type: 'code'; text: string; language?: string; quote: number };

export interface MainContent {
  title: string;
  /** The body as markdown-like text (the title is not repeated in it). */
  text: string;
  blocks: ContentBlock[];
}

// ---------------------------------------------------------------------------------------------- tag sets

const SKIP_TAGS = new Set([
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'iframe',
  'object',
  'embed',
  'canvas',
  'video',
  'audio',
  'picture',
  'img',
  'button',
  'input',
  'select',
  'option',
  'textarea',
  'label',
  'nav',
  'aside',
  'footer',
  'dialog',
  'figcaption',
  'title',
  'base',
  'link',
  'meta',
  'map',
  'area',
  'source',
  'track',
]);

const LANDMARK_TAGS = new Set(['nav', 'aside', 'footer']);

const BLOCK_TAGS = new Set([
  'address',
  'article',
  'blockquote',
  'body',
  'center',
  'dd',
  'details',
  'dir',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'form',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hgroup',
  'hr',
  'html',
  'li',
  'main',
  'menu',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tbody',
  'thead',
  'tfoot',
  'tr',
  'td',
  'th',
  'ul',
  'caption',
  'legend',
]);

const PARAGRAPH_LIKE = new Set([
  'p',
  'pre',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'li',
  'dt',
  'dd',
  'figcaption',
  'caption',
  'summary',
  'legend',
  'blockquote',
  'tr',
  'td',
  'th',
  'ul',
  'ol',
  'dl',
  'menu',
  'dir',
]);

const SKIP_ROLES = new Set([
  'navigation',
  'complementary',
  'banner',
  'contentinfo',
  'menu',
  'menubar',
  'dialog',
  'alertdialog',
  'search',
  'toolbar',
  'tablist',
]);

// Class/id tokens that name page furniture. Matched per token (split on space, '-' and '_'), so "ad"
// matches "ad-slot" but not "header" or "download".
const NEGATIVE_TOKENS = new Set([
  'comment',
  'comments',
  'commentlist',
  'disqus',
  'respond',
  'replies',
  'share',
  'sharing',
  'shares',
  'sharebar',
  'social',
  'sociable',
  'related',
  'recommended',
  'recommendations',
  'footer',
  'nav',
  'navbar',
  'navigation',
  'menu',
  'sidebar',
  'cookie',
  'cookies',
  'consent',
  'gdpr',
  'banner',
  'advert',
  'advertisement',
  'ad',
  'ads',
  'adv',
  'advertising',
  'dfp',
  'promo',
  'promotion',
  'sponsor',
  'sponsored',
  'newsletter',
  'subscribe',
  'subscription',
  'breadcrumb',
  'breadcrumbs',
  'popup',
  'modal',
  'masthead',
  'toolbar',
  'pagination',
  'pager',
  'tagcloud',
  'skip',
  'signup',
  'login',
  'outbrain',
  'taboola',
  'rss',
  'byline',
  'bio',
  'jump',
  'trending',
  'popular',
  'readmore',
  'paywall',
  'offscreen',
  'hidden',
  'hide',
  'sr',
  'visually',
  'screenreader',
  'print',
  'tagcloud',
  'taglist',
  'keywords',
  'author',
  'dateline',
  'timestamp',
  'date',
  'caption',
  'credit',
  'credits',
  'copyright',
  'disclaimer',
  'lightbox',
  'overlay',
  'teaser',
  'teasers',
  'follow',
]);
const POSITIVE_TOKENS = new Set([
  'article',
  'articlebody',
  'body',
  'content',
  'entry',
  'main',
  'post',
  'story',
  'text',
  'prose',
  'blog',
  'markdown',
  'richtext',
  'page',
]);

// Short lines that are furniture wherever they appear.
const BOILERPLATE_LINE =
  /^(?:advertisement|advertising|anzeige|publicité|publicidad|sponsored|share( this( article| story)?)?|tweet|print|email|e-mail|read more|continue reading|related( articles| stories)?|sign up|subscribe( now)?|follow us.*|comments?|leave a (comment|reply)|photo|image|click here.*|back to top|skip to content)\s*[:.!]?$/i;

// ------------------------------------------------------------------------------------------ linearising

interface RawBlock {
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
}

interface ListFrame {
  el: Element;
  ordered: boolean;
  next: number;
  current: number;
}

function classTokens(el: Element): string[] {
  const value = `${el.attribs['class'] ?? ''} ${el.attribs['id'] ?? ''}`.toLowerCase();
  return value.split(/[\s_-]+/).filter(Boolean);
}

function isHidden(el: Element): boolean {
  const a = el.attribs;
  if (a['hidden'] !== undefined || a['aria-hidden'] === 'true') return true;
  const style = a['style'];
  return style !== undefined && /(?:display\s*:\s*none|visibility\s*:\s*hidden)/i.test(style);
}

function elementText(node: AnyNode): string {
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
const SPACES = /[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+/g;
const INVISIBLE = /[\u200b\u00ad\ufeff]/g;

function normaliseInline(s: string): string {
  return s.replace(INVISIBLE, '').replace(SPACES, ' ').trim().normalize('NFC');
}

// Stands for <br> in the inline buffer, so that source newlines (plain whitespace) are not taken for breaks.
const LINE_BREAK = '\u0001';

class Lineariser {
  readonly blocks: RawBlock[] = [];
  private buffer = '';
  private linkChars = 0;
  private linkDepth = 0;
  private owner: Element | undefined;
  private readonly lists: ListFrame[] = [];
  private quote = 0;
  private headingLevel = 0;

  constructor(
    private readonly proseTextTotal: number,
    private readonly proseText: Map<Element, number>,
    private readonly useClassHints: boolean,
  ) {}

  walk(node: AnyNode, owner: Element): void {
    if (node.type === 'text') {
      this.owner ??= owner;
      this.buffer += node.data;
      if (this.linkDepth > 0) this.linkChars += node.data.replace(SPACES, '').length;
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
          ...(codeLanguage(el) ? { language: codeLanguage(el)! } : {}),
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
    if (!this.useClassHints) return false;
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
    return !this.holdsMostText(el, positive ? 0.15 : 0.7);
  }

  private holdsMostText(el: Element, share = 0.4): boolean {
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
    const lines = raw
      .split(LINE_BREAK)
      .map(normaliseInline)
      .map((l) =>
        l
          .replace(/`\s*`/g, '')
          .replace(/` ([^`]*?) `/g, '`$1`')
          .trim(),
      )
      .filter(Boolean);
    if (lines.length === 0) return;
    const text = lines.join('\n');
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
    this.blocks.push({
      level: 0,
      ordered: false,
      index: 0,
      depth: Math.max(0, this.lists.length - 1),
      quote: this.quote,
      ...b,
    });
  }
}

// --------------------------------------------------------------------------------------------- scoring

/** Text outside links per element: how much of the page's reading matter an element holds, for the skip
 * safety net (navigation is mostly links, an article mostly not). */
function proseTextByElement(root: AnyNode): { byElement: Map<Element, number>; total: number } {
  const byElement = new Map<Element, number>();
  let total = 0;
  const visit = (node: AnyNode, inLink: boolean): number => {
    if (node.type === 'text') return inLink ? 0 : node.data.replace(SPACES, '').length;
    if (!('children' in node)) return 0;
    if (node.type === 'script' || node.type === 'style') return 0;
    if (node.type === 'tag' && SKIP_TAGS.has(node.name) && !LANDMARK_TAGS.has(node.name)) return 0;
    const link = inLink || (node.type === 'tag' && node.name === 'a');
    let sum = 0;
    for (const c of node.children) sum += visit(c, link);
    if (node.type === 'tag') byElement.set(node, sum);
    if (node.type === 'root') total = sum;
    return sum;
  };
  visit(root, false);
  return { byElement, total };
}

const SENTENCE_END = /[.!?。！？…:;"”»)\]]$/;

function blockWeight(b: RawBlock): number {
  const len = b.text.length;
  if (b.kind === 'code') return len;
  if (b.kind === 'heading') return 0;
  const density = len > 0 ? Math.min(1, b.linkChars / len) : 0;
  const sentence = SENTENCE_END.test(b.text);
  const good =
    density < 0.34 &&
    (len >= 100 || (len >= 40 && sentence) || (b.owner.name === 'p' && len >= 25 && sentence));
  return good ? len * (1 - density) : -0.8 * len;
}

function scoreElements(blocks: RawBlock[]): Map<Element, number> {
  const score = new Map<Element, number>();
  for (const b of blocks) {
    const w = blockWeight(b);
    if (w === 0) continue;
    // A paragraph is never the article: scores start at the first element that can hold several blocks.
    let start: AnyNode | null = b.owner;
    while (start && start.type === 'tag' && (PARAGRAPH_LIKE.has(start.name) || !BLOCK_TAGS.has(start.name))) {
      start = start.parent;
    }
    for (let e: AnyNode | null = start; e && e.type === 'tag'; e = e.parent) {
      score.set(e, (score.get(e) ?? 0) + w);
    }
  }
  return score;
}

function chooseContainer(score: Map<Element, number>): Element | undefined {
  let best: Element | undefined;
  let bestScore = 0;
  for (const [el, s] of score) {
    if (s > bestScore) {
      best = el;
      bestScore = s;
    }
  }
  return best;
}

function within(el: Element, container: Element): boolean {
  for (let e: AnyNode | null = el; e; e = e.parent) if (e === container) return true;
  return false;
}

function dropFurniture(blocks: RawBlock[]): RawBlock[] {
  // Lists made mostly of links (related stories, tag clouds, "more from") go whole.
  const listLinks = new Map<Element, [number, number]>();
  for (const b of blocks) {
    if (!b.list) continue;
    const acc = listLinks.get(b.list) ?? [0, 0];
    acc[0] += b.linkChars;
    acc[1] += b.text.length;
    listLinks.set(b.list, acc);
  }
  const kept = blocks.filter((b) => {
    if (b.kind === 'code') return true;
    if (b.list) {
      const [links, chars] = listLinks.get(b.list)!;
      if (chars > 0 && links / chars > 0.5) return false;
    }
    const len = b.text.length;
    if (len > 0 && b.linkChars / len > 0.6) return false;
    if (len < 60 && BOILERPLATE_LINE.test(b.text)) return false;
    return true;
  });
  // A heading whose section was all furniture ("More from us" over a dropped link list) heads nothing.
  return kept.filter((b, i) => {
    if (b.kind !== 'heading') return true;
    const next = kept[i + 1];
    return next !== undefined && !(next.kind === 'heading' && next.level <= b.level);
  });
}

// ------------------------------------------------------------------------------------------- metadata

function findFirst(node: AnyNode, test: (el: Element) => boolean): Element | undefined {
  if (node.type === 'tag' && test(node)) return node;
  if ('children' in node) {
    for (const c of node.children) {
      const hit = findFirst(c, test);
      if (hit) return hit;
    }
  }
  return undefined;
}

function findAll(node: AnyNode, test: (el: Element) => boolean, out: Element[] = []): Element[] {
  if ((node.type === 'tag' || node.type === 'script') && test(node as Element)) out.push(node as Element);
  if ('children' in node) for (const c of node.children) findAll(c, test, out);
  return out;
}

function pageTitle(root: AnyNode): string {
  const og = findFirst(
    root,
    (e) =>
      e.name === 'meta' && (e.attribs['property'] === 'og:title' || e.attribs['name'] === 'twitter:title'),
  );
  const ogTitle = og?.attribs['content'] ? normaliseInline(og.attribs['content']) : '';
  if (ogTitle) return ogTitle;
  const title = findFirst(root, (e) => e.name === 'title');
  const h1 = findFirst(root, (e) => e.name === 'h1');
  const h1Text = h1 ? normaliseInline(elementText(h1)) : '';
  const titleText = title ? normaliseInline(elementText(title)) : '';
  if (h1Text && titleText.includes(h1Text)) return h1Text;
  // "Headline | Site name": keep the longest part.
  const parts = titleText.split(/\s+[|–—»·:-]\s+/);
  return parts.reduce((a, b) => (b.length > a.length ? b : a), '') || h1Text;
}

function jsonLdArticleBody(root: AnyNode): string | undefined {
  let best: string | undefined;
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === 'articleBody' && typeof x === 'string') {
          if (!best || x.length > best.length) best = x;
        } else visit(x);
      }
    }
  };
  for (const s of findAll(root, (e) => e.name === 'script' && /ld\+json/i.test(e.attribs['type'] ?? ''))) {
    try {
      visit(JSON.parse(elementText(s)));
    } catch {
      // Publishers ship broken JSON-LD often enough; it is only a hint.
    }
  }
  return best;
}

// ------------------------------------------------------------------------------------------- rendering

export function renderBlocks(blocks: ContentBlock[]): string {
  const out: string[] = [];
  let prev: ContentBlock | undefined;
  for (const b of blocks) {
    let body: string;
    switch (b.type) {
      case 'heading':
        body = `${'#'.repeat(b.level)} ${b.text}`;
        break;
      case 'list-item': {
        const marker = b.ordered ? `${b.index}. ` : '- ';
        const indent = '  '.repeat(b.depth);
        body = b.text
          .split('\n')
          .map((l, i) => (i === 0 ? indent + marker + l : indent + ' '.repeat(marker.length) + l))
          .join('\n');
        break;
      }
      case 'code': {
        const longestTicks = Math.max(2, ...(b.text.match(/`+/g) ?? []).map((t) => t.length));
        const fence = '`'.repeat(longestTicks + 1);
        body = `${fence}${b.language ?? ''}\n${b.text}${b.text.endsWith('\n') ? '' : '\n'}${fence}`;
        break;
      }
      default:
        body = b.text;
    }
    if (b.quote > 0) {
      const prefix = '> '.repeat(b.quote);
      body = body
        .split('\n')
        .map((l) => (prefix + l).trimEnd())
        .join('\n');
    }
    const tight = prev?.type === 'list-item' && b.type === 'list-item';
    if (out.length > 0) out.push(tight ? '\n' : '\n\n');
    out.push(body);
    prev = b;
  }
  return out.join('');
}

function toContentBlock(b: RawBlock): ContentBlock {
  switch (b.kind) {
    case 'heading':
      return { type: 'heading', level: b.level, text: b.text, quote: b.quote };
    case 'list-item':
      return {
        type: 'list-item',
        text: b.text,
        ordered: b.ordered,
        index: b.index,
        depth: b.depth,
        quote: b.quote,
      };
    case 'code':
      return { type: 'code', text: b.text, ...(b.language ? { language: b.language } : {}), quote: b.quote };
    default:
      return { type: 'paragraph', text: b.text, quote: b.quote };
  }
}

const tokenCount = (s: string): number => (s.match(/[\p{L}\p{N}_]+/gu) ?? []).length;

// ------------------------------------------------------------------------------------------------ entry

function chosenLength(blocks: RawBlock[]): number {
  let n = 0;
  for (const b of blocks) n += b.text.length;
  return n;
}

function selectBlocks(
  root: AnyNode,
  prose: { byElement: Map<Element, number>; total: number },
  useClassHints: boolean,
  title: string,
): RawBlock[] {
  const lin = new Lineariser(prose.total, prose.byElement, useClassHints);
  if (root.type === 'tag') lin.walk(root, root);
  else if ('children' in root) {
    for (const c of root.children) if (c.type === 'tag') lin.walk(c, c);
  }
  const scores = scoreElements(lin.blocks);
  const container = chooseContainer(scores);
  let chosen = container ? lin.blocks.filter((b) => within(b.owner, container)) : lin.blocks;
  chosen = dropFurniture(chosen);
  // The headline usually sits at the top of the container; it is the title, not body text.
  const first = chosen[0];
  if (first?.kind === 'heading' && title && first.text === title) chosen = chosen.slice(1);
  return chosen;
}

export function extractMainContent(
  html: string | Uint8Array,
  _url: string,
  contentType?: string,
): MainContent {
  const source = typeof html === 'string' ? html : decodeHtml(html, contentType).text;
  const doc = parseDocument(source, {
    decodeEntities: true,
    lowerCaseTags: true,
    lowerCaseAttributeNames: true,
  });
  const title = pageTitle(doc);
  const body = findFirst(doc, (e) => e.name === 'body') ?? findFirst(doc, (e) => e.name === 'html');
  const prose = proseTextByElement(doc);
  const root = body ?? doc;
  let chosen = selectBlocks(root, prose, true, title);
  // Class names mislead sometimes ("karma-below-banner" around a whole article): when trusting them left
  // little, try again without them and keep whichever found more.
  if (chosenLength(chosen) < 500) {
    const retry = selectBlocks(root, prose, false, title);
    if (chosenLength(retry) > 2 * chosenLength(chosen) + 100) chosen = retry;
  }
  let blocks = chosen.map(toContentBlock);

  const ld = jsonLdArticleBody(doc);
  if (ld) {
    const ldText = ld.replace(/<[^>]+>/g, ' ');
    const ldTokens = tokenCount(ldText);
    const ours = tokenCount(blocks.map((b) => b.text).join(' '));
    if (ldTokens > 100 && ours < 0.6 * ldTokens) {
      blocks = ldText
        .split(/\n\s*\n|\r\n\s*\r\n/)
        .map(normaliseInline)
        .filter(Boolean)
        .map((text) => ({ type: 'paragraph' as const, text, quote: 0 }));
    }
  }
  return { title, text: renderBlocks(blocks), blocks };
}
