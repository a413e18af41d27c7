// Entry point for "import archive": opens the upload (zip file, bytes or an unzipped folder) within limits,
// recognises which platform exported it (or that it holds saved pages) from the file layout alone, and runs
// that importer.
import { invalidArgument } from '@llmtwin/runtime';
import {
  DEFAULT_ARCHIVE_LIMITS,
  openDirectory,
  openZip,
  type ArchiveLimits,
  type ArchiveReader,
} from './archive.js';
import {
  emptyResult,
  mergeInto,
  uniqueDocuments,
  type ImportResult,
  type ImporterOptions,
} from './export-importer.js';
import { importLinkedinExport, isLinkedinExport } from './linkedin-export.js';
import { importMediumExport, isMediumExport } from './medium-export.js';
import { importSavedPages, isSavedPagesArchive } from './saved-pages.js';
import { importSubstackExport, isSubstackExport } from './substack-export.js';

export type ArchiveSource =
  { zipPath: string; fileName?: string } | { dir: string } | { bytes: Uint8Array; fileName: string };

export type ExportKind = 'medium' | 'substack' | 'linkedin' | 'saved-pages';

const importers: Record<
  ExportKind,
  (reader: ArchiveReader, options: ImporterOptions) => Promise<ImportResult>
> = {
  medium: importMediumExport,
  substack: importSubstackExport,
  linkedin: importLinkedinExport,
  'saved-pages': importSavedPages,
};

export interface ImportArchiveOptions extends ImporterOptions {
  limits?: Partial<ArchiveLimits>;
  /** Receives the reader, e.g. so a caller (or a test) can see which entries were opened. */
  onOpened?: (reader: ArchiveReader) => void;
}

export interface ImportArchiveResult extends ImportResult {
  kind: ExportKind;
}

/**
 * The layout decides: a pages.json manifest means saved pages (checked first: the pages it lists may sit in
 * any folder, posts/ included), posts.csv means Substack (whose archive also has posts/*.html, like Medium's),
 * Shares.csv or Articles/*.html means LinkedIn, posts/*.html alone means Medium.
 */
export function detectExportKind(paths: readonly string[]): ExportKind | null {
  if (isSavedPagesArchive(paths)) return 'saved-pages';
  if (isSubstackExport(paths)) return 'substack';
  if (isLinkedinExport(paths)) return 'linkedin';
  if (isMediumExport(paths)) return 'medium';
  return null;
}

export async function openArchive(source: ArchiveSource, limits: ArchiveLimits): Promise<ArchiveReader> {
  if ('dir' in source) return openDirectory(source.dir, limits);
  return openZip(source, limits);
}

function notAnExport(name: string) {
  return invalidArgument(
    `"${name}" is not a Medium, Substack or LinkedIn export, nor saved pages: expected ` +
      `posts/*.html (Medium), posts.csv (Substack), Shares.csv / Articles/*.html (LinkedIn) or a ` +
      `pages.json that lists saved pages with their URLs (saved pages)`,
  );
}

/**
 * What can be known of an upload without reading its entries: that it is a zip (or folder) within the
 * limits on entries and declared sizes, with safe names, laid out as a known export. Lets an upload be
 * refused while the caller waits, and deleted at once, instead of failing later in a job.
 */
export async function checkArchive(
  source: ArchiveSource,
  limits: Partial<ArchiveLimits> = {},
): Promise<{ kind: ExportKind; entries: number }> {
  const reader = await openArchive(source, { ...DEFAULT_ARCHIVE_LIMITS, ...limits });
  try {
    const kind = detectExportKind(reader.entries.map((e) => e.path));
    if (!kind) throw notAnExport(reader.name);
    return { kind, entries: reader.entries.length };
  } finally {
    await reader.close();
  }
}

export async function importArchive(
  source: ArchiveSource,
  options: ImportArchiveOptions = {},
): Promise<ImportArchiveResult> {
  const limits = { ...DEFAULT_ARCHIVE_LIMITS, ...options.limits };
  const reader = await openArchive(source, limits);
  try {
    options.onOpened?.(reader);
    const paths = reader.entries.map((e) => e.path);
    const kind = detectExportKind(paths);
    if (!kind) throw notAnExport(reader.name);
    const result = emptyResult();
    mergeInto(result, await importers[kind](reader, options));
    uniqueDocuments(result);
    return { kind, ...result };
  } finally {
    await reader.close();
  }
}
