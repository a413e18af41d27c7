// Cleaning dispatched by category, over the domain cleaners: articles → main content, posts → normalised
// text, code → byte-exact text with its language.
import { extractMainContent } from './main-content.js';
import { cleanPost } from './clean-post.js';
import { cleanCode } from './clean-code.js';

export type CategoryName = 'article' | 'post' | 'code';

/** Bumped whenever the cleaning rules change, so a snapshot says which rules made it. */
export const CLEANER_VERSION = 'clean-2';

export interface RawInput {
  category: CategoryName;
  raw: Uint8Array;
  rawContentType: string;
  url: string;
  title: string;
  codeLanguage?: string;
  codePath?: string;
}

export interface CleanOutput {
  title: string;
  text: string;
  language: string;
}

export type CleanRawFn = (input: RawInput) => CleanOutput;

export const cleanRaw: CleanRawFn = (input) => {
  switch (input.category) {
    case 'article': {
      const content = extractMainContent(input.raw, input.url, input.rawContentType);
      return { title: input.title || content.title, text: content.text, language: '' };
    }
    case 'post':
      return { title: input.title, text: cleanPost(input.raw, input.rawContentType).text, language: '' };
    case 'code': {
      const code = cleanCode(input.raw, {
        ...(input.codeLanguage ? { language: input.codeLanguage } : {}),
        ...(input.codePath ? { path: input.codePath } : {}),
      });
      return { title: input.title, text: code.text, language: code.language };
    }
  }
};
