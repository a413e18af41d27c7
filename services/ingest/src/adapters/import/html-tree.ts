// An inert HTML tree for export files (parse5: the WHATWG parsing algorithm, no scripts, no resource loading)
// with the few queries the importers need. jsdom is not used here because it cannot be loaded under the
// project's Jest ESM runner on Node 20 (its html-encoding-sniffer require()s an ES module).
import { parse, type DefaultTreeAdapterMap } from 'parse5';

export type HtmlElement = DefaultTreeAdapterMap['element'];
type HtmlNode = DefaultTreeAdapterMap['node'];

export function parseHtml(html: string): HtmlElement {
  const document = parse(html);
  const root = document.childNodes.find((n): n is HtmlElement => 'tagName' in n);
  if (!root) throw new Error('the HTML has no root element');
  return root;
}

export const attr = (el: HtmlElement, name: string): string | null =>
  el.attrs.find((a) => a.name === name)?.value ?? null;

export const hasClass = (el: HtmlElement, name: string): boolean =>
  (attr(el, 'class') ?? '').split(/\s+/).includes(name);

/** Every element under `root` (itself excluded), in document order, that matches. */
export function findAll(root: HtmlElement, match: (el: HtmlElement) => boolean): HtmlElement[] {
  const found: HtmlElement[] = [];
  const visit = (node: HtmlNode): void => {
    const children = 'childNodes' in node ? node.childNodes : [];
    for (const child of children) {
      if ('tagName' in child) {
        if (match(child)) found.push(child);
        visit('content' in child ? (child as DefaultTreeAdapterMap['template']).content : child);
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
    (tag === null || el.tagName === tag) && (cls === null || hasClass(el, cls));

export function textOf(node: HtmlNode): string {
  if (node.nodeName === '#text') return (node as DefaultTreeAdapterMap['textNode']).value;
  if (node.nodeName === 'script' || node.nodeName === 'style') return '';
  const children = 'childNodes' in node ? node.childNodes : [];
  return children.map(textOf).join('');
}
