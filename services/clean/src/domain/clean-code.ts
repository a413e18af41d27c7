// Code is cleaned by not touching it: the fine-tuning snapshot keeps source byte for byte (indentation,
// trailing spaces, CRLF, tabs, non-ASCII identifiers), with its language. Only the decoding to text happens
// here, and it refuses to guess: bytes that are not UTF-8 stay recoverable as latin1 and are flagged.
export interface CleanedCode {
  text: string;
  language: string;
  /** False when the bytes were not valid UTF-8 and were read as latin1 (each byte one character). */
  utf8: boolean;
}

const BY_EXTENSION: Record<string, string> = {
  ts: 'typescript',
  tsx: 'typescript',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  py: 'python',
  go: 'go',
  rs: 'rust',
  java: 'java',
  kt: 'kotlin',
  rb: 'ruby',
  c: 'c',
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  hpp: 'cpp',
  cs: 'csharp',
  swift: 'swift',
  php: 'php',
  sh: 'shell',
  bash: 'shell',
  sql: 'sql',
  md: 'markdown',
  yml: 'yaml',
  yaml: 'yaml',
  json: 'json',
  toml: 'toml',
  html: 'html',
  css: 'css',
  scala: 'scala',
  proto: 'protobuf',
  ipynb: 'json',
  r: 'r',
  lua: 'lua',
  dart: 'dart',
};

export function languageFromPath(path: string): string | undefined {
  const base = path.split('/').pop() ?? path;
  if (base === 'Dockerfile') return 'dockerfile';
  if (base === 'Makefile') return 'makefile';
  const ext = /\.([A-Za-z0-9]+)$/.exec(base)?.[1]?.toLowerCase();
  return ext ? BY_EXTENSION[ext] : undefined;
}

export function cleanCode(
  raw: string | Uint8Array,
  opts: { language?: string; path?: string } = {},
): CleanedCode {
  const language = opts.language || (opts.path ? languageFromPath(opts.path) : undefined) || 'text';
  if (typeof raw === 'string') return { text: raw, language, utf8: true };
  try {
    // ignoreBOM keeps a BOM as U+FEFF so that re-encoding gives the same bytes back.
    return {
      text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw),
      language,
      utf8: true,
    };
  } catch {
    return { text: Buffer.from(raw).toString('latin1'), language, utf8: false };
  }
}
