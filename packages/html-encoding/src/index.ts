// How a browser turns an HTML page's bytes into text, shared by ingest (which extracts fetched and saved
// pages) and clean (which cleans the raw HTML ingest stored). Pure: no I/O and no dependencies.
export {
  charsetFromContentType,
  decodeHtml,
  decodeWindows1252,
  prescanMetaCharset,
  resolveEncodingLabel,
  type DecodedHtml,
} from './html-encoding.js';
