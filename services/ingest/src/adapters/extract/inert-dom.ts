// The one place the services load jsdom: every page parser works on the inert Document built here. A real DOM
// is needed here and nowhere else: the Medium, Substack, LinkedIn and generic page parsers read fetched and
// saved web pages (messy markup, parsed as a browser would) through the DOM API with CSS selectors
// (querySelector, :not(), attribute and descendant selectors, textContent). Everything else that reads
// HTML uses htmlparser2: clean's extractor and cleaners, and the export importers (adapters/import/html-tree.ts).
import { JSDOM, VirtualConsole } from 'jsdom';

/** An inert DOM: no scripts run, no subresources load, CSS errors are not printed. */
export function parseHtml(text: string, url: string): Document {
  const dom = new JSDOM(text, { url, contentType: 'text/html', virtualConsole: new VirtualConsole() });
  return dom.window.document;
}
