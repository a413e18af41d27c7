// What every page parser receives: the page decoded once, its DOM, and where it came from.
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import { htmlContentType } from './html-document.js';

export interface PageContext {
  doc: Document;
  /** The decoded source text, for platform state that lives in script bodies. */
  text: string;
  /** The address the page was fetched from (or claims to be from, for a saved page). */
  url: URL;
  bytes: Uint8Array;
  encoding: string;
}

export class ExtractError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExtractError';
  }
}

export function rawOf(ctx: PageContext): Pick<ExtractedDocument, 'raw' | 'rawContentType'> {
  return { raw: ctx.bytes, rawContentType: htmlContentType(ctx.encoding) };
}
