export {
  DEFAULT_ARCHIVE_LIMITS,
  checkEntryName,
  openDirectory,
  openZip,
  type ArchiveEntry,
  type ArchiveLimits,
  type ArchiveReader,
} from './archive.js';
export type { ImportIssue, ImportProgress, ImportResult, ImporterOptions } from './export-importer.js';
export {
  checkArchive,
  detectExportKind,
  importArchive,
  openArchive,
  type ArchiveSource,
  type ExportKind,
  type ImportArchiveOptions,
  type ImportArchiveResult,
} from './import-archive.js';
export { importLinkedinExport, parseLinkedinDate, stripLineQuotes } from './linkedin-export.js';
export { importMediumExport, parseMediumExportPost } from './medium-export.js';
export { importSubstackExport, isSubscriberFile } from './substack-export.js';
export {
  MAX_SAVED_PAGE_BYTES,
  SAVED_PAGES_MANIFEST,
  importSavedPages,
  isSavedPagesArchive,
  type SavedPageEntry,
  type SavedPagesManifest,
} from './saved-pages.js';
export { UploadArea, type UploadAreaOptions } from './upload-area.js';
export { writeZip, type ZipFileEntry } from './zip-writer.js';
