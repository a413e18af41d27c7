// Syntax units of source code found by heuristics, not parsers: bracket depth (strings and comments
// skipped) for C-like languages, indentation for Python-like ones. Good enough to cut between top-level
// declarations and between methods; whatever it misses falls back to line windows in the chunker.

/** A run of whole lines: a declaration (with the comments and decorators above it) or other statements. */
export interface CodeUnit {
  start: number;
  end: number;
  /** e.g. "class Parser", "func main", "def parse"; '' for imports, fields, and other statements. */
  signature: string;
  /** Head, members and tail, covering the unit; empty when nothing inside could be told apart. */
  children: CodeUnit[];
}

type Family = 'brace' | 'indent';

const BRACE = new Set([
  'typescript',
  'javascript',
  'tsx',
  'jsx',
  'go',
  'rust',
  'java',
  'c',
  'cpp',
  'c++',
  'csharp',
  'c#',
  'kotlin',
  'swift',
  'scala',
  'php',
  'dart',
  'protobuf',
  'css',
  'json',
  'objective-c',
  'zig',
]);
// Languages where '…' is a one-character literal, so a lone quote (Rust lifetimes) opens nothing.
const CHAR_QUOTE = new Set([
  'go',
  'rust',
  'java',
  'c',
  'cpp',
  'c++',
  'csharp',
  'c#',
  'kotlin',
  'scala',
  'swift',
  'dart',
]);
const BACKTICK = new Set(['typescript', 'javascript', 'tsx', 'jsx', 'go']);
const HASH_COMMENT = new Set([
  'python',
  'ruby',
  'shell',
  'yaml',
  'toml',
  'makefile',
  'dockerfile',
  'r',
  'perl',
]);

interface Lang {
  family: Family;
  lang: string;
  slashComments: boolean;
  hashComments: boolean;
  charQuote: boolean;
  backtick: boolean;
  tripleQuotes: boolean;
}

function languageOf(language: string | undefined, text: string): Lang {
  let lang = (language ?? '').toLowerCase();
  if (!BRACE.has(lang) && !HASH_COMMENT.has(lang) && lang !== 'lua') {
    // Unknown or 'text': Python if it looks like it, else braces if there are any.
    lang = /^(?:async\s+)?(?:def|class)\s+\w+.*:\s*$/m.test(text) ? 'python' : text.includes('{') ? 'c' : '';
  }
  const family: Family = BRACE.has(lang) ? 'brace' : 'indent';
  return {
    family,
    lang,
    slashComments: family === 'brace',
    hashComments: HASH_COMMENT.has(lang),
    charQuote: CHAR_QUOTE.has(lang),
    backtick: BACKTICK.has(lang),
    tripleQuotes: lang === 'python',
  };
}

interface Line {
  start: number;
  end: number;
  indent: number;
  blank: boolean;
  /** Open braces, and open parentheses/brackets, at the start of the line. */
  brace: number;
  paren: number;
  /** The line starts inside a multi-line string or comment. */
  inside: boolean;
  trimmed: string;
}

function scanLines(text: string, lang: Lang): Line[] {
  const out: Line[] = [];
  let brace = 0;
  let paren = 0;
  let multi: string | undefined; // closing token of the open multi-line string or comment
  let pos = 0;
  while (pos <= text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl;
    const raw = text.slice(pos, end);
    const trimmed = raw.trim();
    const indentMatch = /^[ \t]*/.exec(raw)![0];
    out.push({
      start: pos,
      end,
      indent: indentMatch.replace(/\t/g, '    ').length,
      blank: trimmed === '',
      brace,
      paren,
      inside: multi !== undefined,
      trimmed,
    });
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (multi) {
        if (c === '\\' && multi !== '*/') i++;
        else if (raw.startsWith(multi, i)) {
          i += multi.length - 1;
          multi = undefined;
        }
        continue;
      }
      if (lang.slashComments && c === '/' && raw[i + 1] === '/') break;
      if (lang.slashComments && c === '/' && raw[i + 1] === '*') {
        multi = '*/';
        i++;
        continue;
      }
      if (lang.hashComments && c === '#') break;
      if (lang.tripleQuotes && (raw.startsWith('"""', i) || raw.startsWith("'''", i))) {
        multi = raw.slice(i, i + 3);
        i += 2;
        continue;
      }
      if (c === '`' && lang.backtick) {
        multi = '`';
        continue;
      }
      if (c === '"' || (c === "'" && !lang.charQuote)) {
        // One-line strings: an unclosed one ends at the end of the line rather than swallowing the file.
        let j = i + 1;
        while (j < raw.length && raw[j] !== c) j += raw[j] === '\\' ? 2 : 1;
        i = j;
        continue;
      }
      if (c === "'" && lang.charQuote) {
        const m = /^'(?:\\[^']{1,10}|[^\\'])'/u.exec(raw.slice(i));
        if (m) i += m[0].length - 1;
        continue;
      }
      if (c === '{') brace++;
      else if (c === '}') brace = Math.max(0, brace - 1);
      else if (c === '(' || c === '[') paren++;
      else if (c === ')' || c === ']') paren = Math.max(0, paren - 1);
    }
    // A one-line string never spans lines; only the multi-line kinds stay open.
    if (nl < 0) break;
    pos = nl + 1;
  }
  return out;
}

const CONTINUATION =
  /^(?:[})\].,?:]|&&|\|\||else\b|elif\b|except\b|finally\b|catch\b|end\b|when\b|rescue\b|ensure\b)/;

function isCommentOrDecoration(line: Line, lang: Lang): boolean {
  const t = line.trimmed;
  if (line.inside) return true;
  if (lang.slashComments && /^(?:\/\/|\/\*|\*)/.test(t)) return true;
  if (lang.hashComments && t.startsWith('#')) return true;
  if (lang.family === 'brace' && /^#\[/.test(t)) return true; // Rust attributes
  if (/^@\w/.test(t)) return true; // decorators and annotations
  if (lang.lang === 'csharp' && /^\[[A-Z]\w*(?:\(.*\))?\]$/.test(t)) return true;
  return false;
}

export function codeUnits(text: string, language?: string): CodeUnit[] {
  const lang = languageOf(language, text);
  const lines = scanLines(text, lang);
  const indent = Math.min(...lines.filter((l) => !l.blank && !l.inside).map((l) => l.indent), Infinity);
  const top = statements(lines, lang, 0, lines.length - 1, 0, Number.isFinite(indent) ? indent : 0);
  if (top.length === 0) return [{ start: 0, end: text.length, signature: '', children: [] }];
  return top.map(([a, b]) => unit(lines, lang, a, b, 0));
}

/** Line ranges [first, last] of the statements in lines[from..to] that start at this brace depth and indent. */
function statements(
  lines: Line[],
  lang: Lang,
  from: number,
  to: number,
  brace: number,
  indent: number,
): [number, number][] {
  const starts: number[] = [];
  for (let i = from; i <= to; i++) {
    const l = lines[i]!;
    if (l.blank || l.inside || l.paren > 0 || l.brace !== brace || l.indent !== indent) continue;
    if (CONTINUATION.test(l.trimmed)) continue;
    starts.push(i);
  }
  const ranges: [number, number][] = starts.map((s, k) => [s, (starts[k + 1] ?? to + 1) - 1]);
  // Comments and decorators belong to what follows them.
  const out: [number, number][] = [];
  let carry: number | undefined;
  for (const [a, b] of ranges) {
    const onlyDecoration = lines.slice(a, b + 1).every((l) => l.blank || isCommentOrDecoration(l, lang));
    if (onlyDecoration && b < to) {
      carry ??= a;
      continue;
    }
    out.push([carry ?? a, b]);
    carry = undefined;
  }
  if (carry !== undefined) out.push([carry, to]);
  if (out.length > 0 && out[0]![0] > from) out[0]![0] = from;
  return out;
}

function unit(lines: Line[], lang: Lang, a: number, b: number, depth: number): CodeUnit {
  const first = lines[a]!;
  const last = lines[b]!;
  const head = lines.slice(a, b + 1).find((l) => !l.blank && !isCommentOrDecoration(l, lang));
  const u: CodeUnit = {
    start: first.start,
    end: last.end,
    signature: head ? signature(head.trimmed) : '',
    children: [],
  };
  if (head && depth < 4 && b > a) u.children = members(lines, lang, a, lines.indexOf(head, a), b, depth);
  return u;
}

/** Head, member statements and tail of the unit on lines [a, b] whose declaration is on line h. */
function members(lines: Line[], lang: Lang, a: number, h: number, b: number, depth: number): CodeUnit[] {
  const decl = lines[h]!;
  const brace = lang.family === 'brace' ? decl.brace + 1 : decl.brace;
  const eligible = (l: Line) =>
    !l.blank &&
    !l.inside &&
    l.paren === 0 &&
    l.brace === brace &&
    !CONTINUATION.test(l.trimmed) &&
    (lang.family === 'brace' || l.indent > decl.indent);
  const body = lines.slice(h + 1, b + 1).filter(eligible);
  if (body.length === 0) return [];
  const indent = Math.min(...body.map((l) => l.indent));
  const firstBody = lines.indexOf(
    body.find((l) => l.indent === indent)!,
    h + 1,
  );
  // The tail: closing lines indented less than the members (a lone "}" or "end").
  let tailStart = b + 1;
  while (tailStart - 1 > firstBody) {
    const l = lines[tailStart - 1]!;
    if (l.blank || (l.indent < indent && !l.inside)) tailStart--;
    else break;
  }
  const ranges = statements(lines, lang, firstBody, tailStart - 1, brace, indent);
  if (ranges.length === 0) return [];
  const out: CodeUnit[] = [];
  out.push({ start: lines[a]!.start, end: lines[firstBody - 1]!.end, signature: '', children: [] });
  for (const [a2, b2] of ranges) out.push(unit(lines, lang, a2, b2, depth + 1));
  if (tailStart <= b)
    out.push({ start: lines[tailStart]!.start, end: lines[b]!.end, signature: '', children: [] });
  return out;
}

const MODIFIERS =
  /^(?:(?:export|default|public|private|protected|internal|static|abstract|final|async|unsafe|virtual|override|sealed|partial|readonly|declare|inline|extern(?:\s+"[^"]*")?|pub(?:\([^)]*\))?|open|data|suspend|const(?=\s+fn\b))\s+)+/;
const KEYWORD_DECL =
  /^(class|interface|struct|enum|trait|impl|mod|namespace|module|object|record|union|protocol|extension|type|message|service)\b\s*(<[^>]*>\s*)?([^{(=;:]*)/;

/** A short name for the declaration on this line, or '' when it is not one. */
export function signature(line: string): string {
  const t = line.replace(MODIFIERS, '');
  let m = KEYWORD_DECL.exec(t);
  if (m) {
    const rest = m[3]!
      .trim()
      .replace(/\s+(?:extends|implements|where)\b.*$/, '')
      .replace(/\s+/g, ' ');
    if (m[1] === 'type' && !/^\w/.test(rest)) return '';
    const name = m[1] === 'impl' ? rest.split(' ').slice(0, 3).join(' ') : (rest.split(/[\s<]/)[0] ?? '');
    return `${m[1]} ${name}`.trim();
  }
  if ((m = /^func\s+(\([^)]*\)\s*)?(\w+)/.exec(t))) return `func ${m[1] ? `${m[1].trim()} ` : ''}${m[2]}`;
  if ((m = /^fn\s+(\w+)/.exec(t))) return `fn ${m[1]}`;
  if ((m = /^(?:async\s+)?def\s+(\w+)/.exec(t))) return `def ${m[1]}`;
  if ((m = /^function\s*\*?\s*(\w+)/.exec(t))) return `function ${m[1]}`;
  if (
    (m =
      /^(?:const|let|var)\s+(\w+)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|\w+\s*=>|\($)/.exec(
        t,
      ))
  ) {
    return `const ${m[1]}`;
  }
  // C-like functions and methods: a name followed by a parameter list, not a control statement or a call.
  m = /^(?:[\w<>[\],.*&:?]+\s+)*?[*&]?(~?\w+)\s*(?:<[^>]*>)?\s*\(/.exec(t);
  if (
    m &&
    !/^(?:if|for|while|switch|return|catch|sizeof|new|throw|await|yield|else|do|super|this)$/.test(m[1]!)
  ) {
    const looksDeclared =
      /\)\s*(?::[^{;=]+|->[^{;=]+|throws[^{;]+|const|noexcept|override)?\s*\{?\s*$/.test(t) &&
      !t.endsWith(';');
    if (looksDeclared) return t.replace(/\s*\{\s*$/, '').slice(0, 100);
  }
  return '';
}
