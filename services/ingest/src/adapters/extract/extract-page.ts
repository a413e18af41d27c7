// The one entry point for a fetched or saved page: decode it as a browser would, build an inert DOM, and
// hand it to the parser for its platform (by host, then by the platform's own markers for custom domains),
// falling back to a generic article reader.
import { decodeHtml } from '@llmtwin/html-encoding';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import { platformOf, type PlatformName } from '../../domain/authors.js';
import { pageCanonicalUrl } from './html-document.js';
import { parseHtml } from './inert-dom.js';
import { parseGenericPage } from './generic-page.js';
import { parseLinkedInPage } from './linkedin-page.js';
import { isMediumPage, parseMediumPage } from './medium-page.js';
import { ExtractError, type PageContext } from './page-context.js';
import { isSubstackPage, parseSubstackPage } from './substack-page.js';

export interface ExtractOptions {
  /** The response's Content-Type header, whose charset outranks a <meta charset>. */
  contentType?: string;
}

export function extractPage(
  html: string | Uint8Array,
  url: string,
  options: ExtractOptions = {},
): ExtractedDocument {
  let pageUrl: URL;
  try {
    pageUrl = new URL(url);
  } catch {
    throw new ExtractError(`"${url}" is not an absolute URL: give the address the page was saved from`);
  }
  if (pageUrl.protocol !== 'http:' && pageUrl.protocol !== 'https:') {
    throw new ExtractError(`the page URL must be http(s), not ${pageUrl.protocol}`);
  }
  // Text is taken as it is (a string has no encoding left to find); bytes are decoded as a browser would.
  const bytes = typeof html === 'string' ? new TextEncoder().encode(html) : html;
  const decoded =
    typeof html === 'string' ? { text: html, encoding: 'utf-8' } : decodeHtml(html, options.contentType);
  const ctx: PageContext = {
    doc: parseHtml(decoded.text, pageUrl.href),
    text: decoded.text,
    url: pageUrl,
    bytes,
    encoding: decoded.encoding,
  };
  switch (detectPlatform(ctx)) {
    case 'medium':
      return parseMediumPage(ctx);
    case 'substack':
      return parseSubstackPage(ctx);
    case 'linkedin':
      return parseLinkedInPage(ctx);
    default:
      return parseGenericPage(ctx);
  }
}

export function detectPlatform(ctx: PageContext): PlatformName {
  const byHost = platformOf(ctx.url);
  if (byHost === 'medium' || byHost === 'substack' || byHost === 'linkedin') return byHost;
  // LinkedIn has no custom domains, so a page elsewhere claiming a linkedin.com address is a copy of one
  // (a saved page, a mirror, the test fixture server) and parses like one.
  const claimed = pageCanonicalUrl(ctx.doc, ctx.url.href);
  if (claimed !== ctx.url.href && platformOf(new URL(claimed)) === 'linkedin') return 'linkedin';
  if (isMediumPage(ctx.doc, ctx.text)) return 'medium';
  if (isSubstackPage(ctx.doc, ctx.text)) return 'substack';
  return 'web';
}

export { ExtractError };
