// What every page is given.
export interface Caller {
  admin: boolean;
  /** The author of an author key; empty for admin keys. */
  authorId: string;
  keyId: string;
}

export interface PageProps {
  caller: Caller;
  /** The part of the hash after the page's name, e.g. a record id: `#/generations/gen_1` → `gen_1`. */
  param: string;
}
