// How much of a source a crawl can reach, said plainly: some platforms list only part of what an author
// wrote (Medium's feed has the latest posts; LinkedIn's public pages show some of them), and the rest is in
// the platform's own export archive, which `llmtwin import` reads.
import type { PlatformName, SourceKind } from './authors.js';

export interface Coverage {
  /** True when the crawl cannot reach everything the author published there. */
  partial: boolean;
  note: string;
  /** How to get the rest ('' when nothing is missing). */
  importHint: string;
}

const importCommand = (file: string) => `llmtwin import --author <id> ${file}`;

export function coverageOf(source: { kind: SourceKind; platform: PlatformName }): Coverage {
  if (source.kind === 'archive')
    return { partial: false, note: 'everything the export archive holds', importHint: '' };
  if (source.kind === 'single-url') return { partial: false, note: 'this one page', importHint: '' };
  if (source.kind === 'repository')
    return {
      partial: false,
      note: 'every tracked text file at the ref, within the crawl limits (see github-crawler.md)',
      importHint: '',
    };
  switch (source.platform) {
    case 'medium':
      return {
        partial: true,
        note: "Medium's feed lists only the latest posts (about ten); older posts cannot be crawled",
        importHint:
          'for every post, download your Medium export (Settings → Security and apps → Download your ' +
          `information) and run: ${importCommand('medium-export.zip')}`,
      };
    case 'linkedin':
      return {
        partial: true,
        note: "LinkedIn's public pages show only part of a profile's posts and articles without signing in",
        importHint:
          'for every post and article, request your LinkedIn data archive (Settings → Data privacy → Get a ' +
          `copy of your data) and run: ${importCommand('Basic_LinkedInDataExport.zip')}`,
      };
    case 'substack':
      return {
        partial: false,
        note: "Substack's archive lists every public post; paid posts give only their free preview",
        importHint: `paid posts in full come with your Substack export (Settings → Exports): ${importCommand('substack-export.zip')}`,
      };
    default:
      return {
        partial: true,
        note:
          'a site is read through its Substack archive when it has one (every public post), else through ' +
          'its feed, which lists only the latest posts',
        importHint:
          "import the platform's export archive with llmtwin import, or crawl older pages one by one: " +
          'llmtwin crawl --author <id> <url>',
      };
  }
}
