// Posts (LinkedIn shares, Substack notes and threads, short social posts) → normalised text. Links,
// @mentions and #hashtags stay as the words the author wrote; HTML is reduced to its text with paragraph
// and line breaks kept; a JSON payload is opened at its body field.
import { parseDocument } from 'htmlparser2';
import type { AnyNode } from 'domhandler';
import { decodeHtml } from '@llmtwin/html-encoding';

export interface CleanedPost {
  text: string;
}

// The fields that carry a post's body in the payloads the crawlers store, most specific first.
const BODY_FIELDS = [
  'body_html',
  'bodyHtml',
  'body',
  'commentary',
  'text',
  'content',
  'description',
  'message',
  // A LinkedIn export's Shares.csv row, as ingest stores it ({ format, row }): the member's own words only;
  // Share Title / Share Description describe a shared link, not what the member wrote.
  'ShareCommentary',
  'Share Commentary',
];

const BLOCK = new Set([
  'p',
  'div',
  'section',
  'article',
  'blockquote',
  'li',
  'ul',
  'ol',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'pre',
  'tr',
  'table',
  'figure',
  'figcaption',
  'header',
  'footer',
]);
const DROP = new Set(['script', 'style', 'noscript', 'template', 'svg', 'button', 'iframe', 'head']);

function htmlToText(html: string): string {
  const doc = parseDocument(html, { decodeEntities: true, lowerCaseTags: true });
  const out: string[] = [];
  const visit = (node: AnyNode): void => {
    if (node.type === 'text') {
      out.push(node.data);
      return;
    }
    if (node.type !== 'tag' && node.type !== 'root') return;
    if (node.type === 'tag') {
      if (DROP.has(node.name)) return;
      if (node.name === 'br') {
        out.push('\n');
        return;
      }
      if (node.name === 'li') out.push('\n- ');
      else if (BLOCK.has(node.name)) out.push('\n\n');
    }
    for (const c of node.children) visit(c);
    if (node.type === 'tag' && BLOCK.has(node.name)) out.push('\n\n');
  };
  visit(doc);
  return out.join('');
}

function findBody(value: unknown, depth = 0): string | undefined {
  if (depth > 4 || !value || typeof value !== 'object') return undefined;
  const obj = value as Record<string, unknown>;
  for (const field of BODY_FIELDS) {
    const v = obj[field];
    if (typeof v === 'string' && v.trim()) return v;
    // LinkedIn nests text one level down: { commentary: { text } }.
    if (v && typeof v === 'object' && typeof (v as Record<string, unknown>)['text'] === 'string') {
      return (v as Record<string, string>)['text'];
    }
  }
  for (const key of ['post', 'data', 'share', 'item', 'row']) {
    const hit = findBody(obj[key], depth + 1);
    if (hit) return hit;
  }
  return undefined;
}

/** Collapses spaces within lines, keeps line breaks, allows at most one blank line between paragraphs. */
export function normaliseText(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u200b\u00ad\ufeff]/g, '')
    .split('\n')
    .map((line) => line.replace(/[^\S\n]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

const looksLikeHtml = (s: string): boolean =>
  /<(?:p|br|div|span|a|li|ul|strong|em|b|i|h[1-6])\b[^>]*>/i.test(s);

export function cleanPost(raw: string | Uint8Array, contentType = ''): CleanedPost {
  const text =
    typeof raw === 'string'
      ? raw
      : decodeHtml(raw, contentType.includes('html') ? contentType : `${contentType}; charset=utf-8`).text;
  let body = text;
  if (/json/i.test(contentType) || /^\s*[{[]/.test(text)) {
    try {
      body = findBody(JSON.parse(text)) ?? '';
    } catch {
      body = text; // not JSON after all: treat it as the post's text
    }
  }
  if (/html/i.test(contentType) || looksLikeHtml(body)) body = htmlToText(body);
  return { text: normaliseText(body) };
}
