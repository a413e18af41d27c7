// The one place jsdom is loaded, so the pure helpers stay loadable where jsdom is not (Jest on Node 20).
import { JSDOM, VirtualConsole } from 'jsdom';

/** An inert DOM: no scripts run, no subresources load, CSS errors are not printed. */
export function parseHtml(text: string, url: string): Document {
  const dom = new JSDOM(text, { url, contentType: 'text/html', virtualConsole: new VirtualConsole() });
  return dom.window.document;
}
