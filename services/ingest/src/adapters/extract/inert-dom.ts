// The one place jsdom is loaded: every page parser works on the inert Document built here.
import { JSDOM, VirtualConsole } from 'jsdom';

/** An inert DOM: no scripts run, no subresources load, CSS errors are not printed. */
export function parseHtml(text: string, url: string): Document {
  const dom = new JSDOM(text, { url, contentType: 'text/html', virtualConsole: new VirtualConsole() });
  return dom.window.document;
}
