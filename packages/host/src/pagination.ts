// Cursor pagination shared by every List RPC: the token is the last returned id, base64url-encoded so that
// clients treat it as opaque.
import { invalidArgument } from '@llmtwin/runtime';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface PageInput {
  pageSize?: number;
  pageToken?: string;
}

export function readPage(page: PageInput | undefined): { size: number; after: string } {
  const requested = page?.pageSize ?? 0;
  if (requested < 0) {
    throw invalidArgument('page.page_size must not be negative', [
      { field: 'page.page_size', message: '>= 0' },
    ]);
  }
  const size = requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
  let after = '';
  if (page?.pageToken) {
    after = Buffer.from(page.pageToken, 'base64url').toString('utf8');
    if (!after || Buffer.from(after, 'utf8').toString('base64url') !== page.pageToken) {
      throw invalidArgument('page.page_token is not a token this service returned: start again without it', [
        { field: 'page.page_token', message: 'invalid' },
      ]);
    }
  }
  return { size, after };
}

/** The next page token: empty when the page was not full. */
export function nextPageToken<T extends { _id: string }>(items: readonly T[], size: number): string {
  const last = items[items.length - 1];
  return items.length < size || !last ? '' : pageTokenAfter(last._id);
}

/** The token of the page that goes on after this id (for lists that decide themselves where a page ends). */
export function pageTokenAfter(id: string): string {
  return id ? Buffer.from(id, 'utf8').toString('base64url') : '';
}
