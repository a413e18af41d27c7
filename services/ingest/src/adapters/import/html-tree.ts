// An inert HTML tree for export files (no scripts, no resource loading) with the few queries the importers
// need. htmlparser2 + domhandler, the light parser clean's extractor uses too: the exports are well-formed
// files their platforms generated, so the full WHATWG tree construction (parse5) buys nothing here, and a
// real DOM (jsdom) is kept for the one place that needs one, the page parsers' CSS selectors in
// adapters/extract/inert-dom.ts. Like parse5 it always gives an <html> root and no text for a <template>;
// on the 62 Medium and LinkedIn export files the tests read, it finds the same elements, attributes and text.
import { Element, isTag, isText, type AnyNode } from 'domhandler';
import { parseDocument } from 'htmlparser2';

export type HtmlElement = Element;

export function parseHtml(html: string): HtmlElement {
  const document = parseDocument(html);
  const elements = document.children.filter(isTag);
  const root = elements.length === 1 && elements[0]!.name === 'html' ? elements[0] : undefined;
  // A file without its own <html> element gets one around everything, as the HTML parser would add it.
  return root ?? new Element('html', {}, document.children);
}

export const attr = (el: HtmlElement, name: string): string | null => el.attribs[name] ?? null;

export const hasClass = (el: HtmlElement, name: string): boolean =>
  (attr(el, 'class') ?? '').split(/\s+/).includes(name);

/** Every element under `root` (itself excluded), in document order, that matches. */
export function findAll(root: HtmlElement, match: (el: HtmlElement) => boolean): HtmlElement[] {
  const found: HtmlElement[] = [];
  const visit = (node: HtmlElement): void => {
    for (const child of node.children) {
      if (isTag(child)) {
        if (match(child)) found.push(child);
        visit(child);
      }
    }
  };
  visit(root);
  return found;
}

export const findFirst = (root: HtmlElement, match: (el: HtmlElement) => boolean): HtmlElement | null =>
  findAll(root, match)[0] ?? null;

export const byTagClass =
  (tag: string | null, cls: string | null) =>
  (el: HtmlElement): boolean =>
    (tag === null || el.name === tag) && (cls === null || hasClass(el, cls));

export function textOf(node: AnyNode): string {
  if (isText(node)) return node.data;
  if (!isTag(node) || node.name === 'script' || node.name === 'style' || node.name === 'template') return '';
  return node.children.map(textOf).join('');
}
