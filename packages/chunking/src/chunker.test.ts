import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from '@jest/globals';
import { chunkv1 } from '@llmtwin/contracts';
import { expectInvariants } from './chunk-invariants.fixture.js';
import {
  chunkDocument,
  defaultPolicies,
  defaultPolicy,
  type Category,
  type Chunk,
  type ChunkInput,
} from './chunker.js';
import { codeUnits } from './code-units.js';
import { approximateWordPieceCounter, type TokenCounter } from './tokenizer.js';

const counter = approximateWordPieceCounter(256);

function run(
  text: string,
  category: Category,
  opts: { max?: number; overlap?: number; language?: string } = {},
) {
  const c: TokenCounter = opts.max ? approximateWordPieceCounter(opts.max) : counter;
  const base = defaultPolicy(category, c);
  const policy = { ...base, overlapTokens: opts.overlap ?? base.overlapTokens };
  const input: ChunkInput = {
    documentId: 'doc_1',
    version: 3,
    authorId: 'auth_1',
    category,
    text,
    language: opts.language,
  };
  const chunks = chunkDocument(input, policy, c);
  expectInvariants(input, policy, c, chunks);
  return chunks;
}

const fixtures = fileURLToPath(new URL('../../../services/ingest/test/fixtures/', import.meta.url));
const fixture = (rel: string) => readFileSync(fixtures + rel, 'utf8');
const SAVED_MARKDOWN = [
  'medium-json/xdamman-mediumexporter/history-9fa2e0e4/examples/jstape.md',
  'medium-json/xdamman-mediumexporter/history-9fa2e0e4/examples/vipassana.md',
  'substack/kepano-defuddle/tests/expected/general--12gramsofcarbon.com-p-ilyas-30-papers-to-carmack-vlaes.md',
];
const SAVED_HTML = [
  'medium-export/TryGhost-migrate/packages/mg-medium-export/test/fixtures/export/posts/code-post.html',
];

/** A crude tag stripper, enough to give the chunker real prose the way it would read it. */
const stripTags = (html: string) =>
  html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<h([1-6])[^>]*>/gi, (_, l: string) => `\n\n${'#'.repeat(Number(l))} `)
    .replace(/<\/(p|h[1-6]|li|pre|blockquote|div)>/gi, '\n\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&quot;/g, '"');

const ARTICLE = `# Getting started

Some intro text about the project. It has two sentences.

## Install

Run the installer:

\`\`\`sh
npm install llmtwin

# a comment in code that looks like a heading
llmtwin init
\`\`\`

- first item
- second item

### Windows

> Quoted advice for Windows users.

## Usage

1. Start it.
2. Ask it.
`;

describe('articles', () => {
  it('keeps the heading path as the section and never cuts a code block that fits', () => {
    const chunks = run(ARTICLE, 'article');
    expect(chunks.map((c) => c.section)).toEqual([
      'Getting started',
      'Getting started > Install',
      'Getting started > Install > Windows',
      'Getting started > Usage',
    ]);
    const install = chunks[1]!;
    expect(install.text.startsWith('## Install')).toBe(true);
    expect(install.text).toContain(
      '```sh\nnpm install llmtwin\n\n# a comment in code that looks like a heading\nllmtwin init\n```',
    );
  });

  it('packs paragraphs up to the limit with overlap, and splits a too-long code block by lines', () => {
    const para = (i: number) => `Paragraph ${i} says something. It goes on for a while with words and words.`;
    const code = Array.from({ length: 40 }, (_, i) => `  const value${i} = compute(${i});`).join('\n');
    const text = `# Long\n\n${[1, 2, 3, 4, 5, 6].map(para).join('\n\n')}\n\n\`\`\`ts\n${code}\n\`\`\`\n\n${para(7)}`;
    const chunks = run(text, 'article', { max: 64, overlap: 16 });
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.section === 'Long')).toBe(true);
    // Prose chunks after the first start inside the previous chunk (the overlap).
    expect(chunks[1]!.startOffset).toBeLessThan(chunks[0]!.endOffset);
    // The code block is too long for one chunk: its pieces are whole lines.
    const codeStart = text.indexOf('```ts');
    const codeEnd = text.indexOf('```', codeStart + 3) + 3;
    for (const c of chunks.filter((c) => c.startOffset > codeStart && c.endOffset < codeEnd)) {
      expect(text[c.startOffset - 1]).toMatch(/\s/);
      expect(['\n', undefined]).toContain(text[c.endOffset]);
    }
  });

  it('never cuts a code block that fits alone, even when that leaves a chunk short', () => {
    const block = '```py\n' + Array.from({ length: 6 }, (_, i) => `x${i} = ${i}`).join('\n') + '\n```';
    const text = `${'Words before the block. '.repeat(8)}\n\n${block}\n\nAfter.`;
    const chunks = run(text, 'article', { max: 64, overlap: 8 });
    expect(chunks.some((c) => c.text.includes(block))).toBe(true);
  });

  it('splits a single long paragraph at sentences, then words', () => {
    const sentences = Array.from(
      { length: 60 },
      (_, i) => `Sentence number ${i} talks about chunking text.`,
    ).join(' ');
    const chunks = run(sentences, 'article', { max: 48, overlap: 8 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.text).toMatch(/^Sentence number \d+/);
    const wordsOnly = Array.from({ length: 400 }, (_, i) => `word${i % 7}`).join(' ');
    const chunks2 = run(wordsOnly, 'article', { max: 32, overlap: 4 });
    expect(chunks2.length).toBeGreaterThan(10);
    const blob = 'x'.repeat(5000);
    expect(run(blob, 'article', { max: 32, overlap: 0 }).length).toBeGreaterThan(10);
  });

  it.each(SAVED_MARKDOWN)('chunks the saved page %s within the limit and covering it', (rel) => {
    const text = fixture(rel);
    for (const max of [256, 64]) {
      const chunks = run(text, 'article', { max });
      expect(chunks.length).toBeGreaterThan(1);
    }
  });

  it.each(SAVED_HTML)('chunks the text of the saved page %s', (rel) => {
    const chunks = run(stripTags(fixture(rel)), 'article', { max: 64 });
    expect(chunks.length).toBeGreaterThan(1);
  });

  it('repeats no heading text: a section that only holds a heading rides with the next one', () => {
    const chunks = run('# A\n## B\n\nBody of B.\n', 'article');
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.section).toBe('A > B');
    expect(chunks[0]!.text).toBe('# A\n## B\n\nBody of B.');
  });
});

describe('posts', () => {
  it('keeps a post that fits whole', () => {
    const text = 'Shipping a new release today! 🚀\n\nThanks to @alice and #opensource folks.';
    const chunks = run(text, 'post');
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe(text);
    expect(chunks[0]!.section).toBe('');
  });

  it('splits a long post at sentences', () => {
    const text = Array.from({ length: 30 }, (_, i) => `Thought ${i} is here.`).join(' ');
    const chunks = run(text, 'post', { max: 32, overlap: 6 });
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(c.text).toMatch(/^Thought \d+ is here\./);
  });
});

const TS = `import { readFile } from 'node:fs/promises';

/** Parses things. */
export class Parser {
  private pos = 0;

  constructor(private readonly input: string) {}

  parse(): Node {
    const out = { kind: 'root', text: \`{\${this.input}\` };
    return out;
  }
}

export async function main(args: string[]): Promise<void> {
  const p = new Parser(await readFile(args[0]!, 'utf8'));
  console.log(p.parse());
}

export const helper = (x: number) => {
  return x * 2;
};
`;

const PY = `import os

@dataclass
class Config:
    """Settings.

def not_a_function(): inside a docstring
    """
    name: str

    def load(self, path):
        with open(path) as f:
            return f.read()


def main(argv):
    cfg = Config(
        name="x",
    )
    print(cfg)
`;

const GO = `package main

import "fmt"

type Server struct {
\tname string
}

// Start starts it.
func (s *Server) Start() error {
\tfmt.Println("{")
\treturn nil
}

func main() {
\ts := &Server{name: "x"}
\t_ = s.Start()
}
`;

const RUST = `use std::fmt;

pub struct Parser<'a> {
    input: &'a str,
}

impl<'a> Parser<'a> {
    pub fn new(input: &'a str) -> Self {
        Parser { input }
    }

    fn peek(&self) -> char {
        '{'
    }
}

#[derive(Debug)]
enum Token { A, B }

fn main() {
    println!("{}", Parser::new("x").peek());
}
`;

const JAVA = `package demo;

public class Greeter {
    private final String name;

    @Override
    public String toString() {
        return "Greeter{" + name + "}";
    }

    public static void main(String[] args) {
        System.out.println(new Greeter());
    }
}
`;

describe('code', () => {
  const sigs = (text: string, language: string) =>
    codeUnits(text, language)
      .map((u) => u.signature)
      .filter(Boolean);

  it('finds top-level units per language family', () => {
    expect(sigs(TS, 'typescript')).toEqual(['class Parser', 'function main', 'const helper']);
    expect(sigs(PY, 'python')).toEqual(['class Config', 'def main']);
    expect(sigs(GO, 'go')).toEqual(['type Server', 'func (s *Server) Start', 'func main']);
    expect(sigs(RUST, 'rust')).toEqual(['struct Parser', "impl Parser<'a>", 'enum Token', 'fn main']);
    expect(sigs(JAVA, 'java')).toEqual(['class Greeter']);
  });

  it('finds members of a unit, with the comments and decorators above them', () => {
    const cls = codeUnits(PY, 'python').find((u) => u.signature === 'class Config')!;
    expect(PY.slice(cls.start, cls.end).startsWith('@dataclass\nclass Config:')).toBe(true);
    expect(cls.children.map((c) => c.signature).filter(Boolean)).toEqual(['def load']);
    const greeter = codeUnits(JAVA, 'java').find((u) => u.signature === 'class Greeter')!;
    const toString = greeter.children.find((c) => c.signature.includes('toString'))!;
    expect(JAVA.slice(toString.start, toString.end).trim().startsWith('@Override')).toBe(true);
  });

  it.each([
    ['typescript', TS],
    ['python', PY],
    ['go', GO],
    ['rust', RUST],
    ['java', JAVA],
  ])('chunks %s byte for byte, by unit, within the limit', (language, text) => {
    for (const max of [256, 40, 24]) {
      const chunks = run(text, 'code', { language, max });
      expect(chunks.length).toBeGreaterThan(0);
    }
    // At a small limit, no chunk mixes two top-level declarations' bodies.
    const small = run(text, 'code', { language, max: 40 });
    expect(small.some((c) => c.section !== '')).toBe(true);
  });

  it('names the member in the section when a unit is split, and keeps indentation', () => {
    const chunks = run(PY, 'code', { language: 'python', max: 40 });
    const load = chunks.find((c) => c.section === 'class Config > def load')!;
    expect(load.text.startsWith('    def load(self, path):')).toBe(true);
  });

  it('falls back to line windows with overlap for a long flat unit', () => {
    const body = Array.from({ length: 80 }, (_, i) => `    total += item${i}`).join('\n');
    const text = `def long():\n    total = 0\n${body}\n    return total\n`;
    const chunks = run(text, 'code', { language: 'python', max: 48, overlap: 8 });
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((c) => c.section === 'def long')).toBe(true);
  });

  it('keeps CRLF, tabs and trailing spaces inside chunks', () => {
    const text =
      'int add(int a, int b) {\r\n\treturn a + b;  \r\n}\r\n\r\nint sub(int a, int b) {\r\n\treturn a - b;\r\n}\r\n';
    const chunks = run(text, 'code', { language: 'c' });
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.text).toBe(text.trimEnd());
    expect(chunks[0]!.section).toBe('int add(int a, int b), int sub(int a, int b)');
  });
});

describe('unicode', () => {
  it('cuts CJK text without spaces at its sentence ends, and by characters when it must', () => {
    const zh = '分块是把长文本切成小段的过程。每一段都要在模型的长度限制之内！'.repeat(20);
    const chunks = run(zh, 'post', { max: 40, overlap: 6 });
    expect(chunks.length).toBeGreaterThan(5);
    const unpunctuated = '日本語のテキスト'.repeat(100);
    expect(run(unpunctuated, 'article', { max: 40, overlap: 0 }).length).toBeGreaterThan(5);
  });

  it('gives UTF-16 offsets and never splits an emoji', () => {
    const text = `${'👩‍👩‍👧‍👦🚀✨'.repeat(200)}\n\nEnd. 🎉`;
    const chunks = run(text, 'article', { max: 24, overlap: 0 });
    const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    const bounds = new Set([...segmenter.segment(text)].map((s) => s.index).concat(text.length));
    for (const c of chunks) {
      expect(bounds.has(c.startOffset) && bounds.has(c.endOffset)).toBe(true);
    }
    expect(chunks[chunks.length - 1]!.endOffset).toBe(text.length);
  });
});

describe('every category', () => {
  it('gives no chunks for empty or blank text', () => {
    for (const category of ['article', 'post', 'code'] as const) {
      expect(run('', category)).toEqual([]);
      expect(run(' \n\t\n ', category)).toEqual([]);
    }
  });

  it('is deterministic, with ids from document, version and position', () => {
    const a = run(ARTICLE, 'article', { max: 32 });
    const b = run(ARTICLE, 'article', { max: 32 });
    expect(b).toEqual(a);
    const other = chunkDocument(
      { documentId: 'doc_1', version: 4, authorId: 'auth_1', category: 'article', text: ARTICLE },
      defaultPolicy('article', approximateWordPieceCounter(32)),
      approximateWordPieceCounter(32),
    );
    expect(other[0]!.id).not.toBe(a[0]!.id);
  });

  it('returns objects that chunkv1.Chunk accepts field for field', () => {
    const [chunk] = run(ARTICLE, 'article') as [Chunk];
    const msg = create(chunkv1.ChunkSchema, chunk);
    expect(msg.ref?.version).toBe(3n);
    expect(msg.startOffset).toBe(chunk.startOffset);
    expect(msg.section).toBe(chunk.section);
  });

  it('publishes default policies from the counter and refuses impossible ones', () => {
    const policies = defaultPolicies(counter);
    expect(policies.map((p) => [p.category, p.maxTokens, p.overlapTokens])).toEqual([
      ['article', 256, 38],
      ['post', 256, 38],
      ['code', 256, 26],
    ]);
    const input: ChunkInput = { documentId: 'd', version: 1, authorId: 'a', category: 'post', text: 'x' };
    expect(() => chunkDocument(input, { ...policies[1]!, maxTokens: 512 }, counter)).toThrow(
      /exceeds the tokenizer's limit 256/,
    );
    expect(() => chunkDocument(input, { ...policies[1]!, overlapTokens: 200 }, counter)).toThrow(
      /overlapTokens/,
    );
  });
});

// ---- property-style checks over seeded random documents ------------------------------------------------

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCAB = [
  'the',
  'chunk',
  'embedding',
  'token',
  'Überprüfung',
  'naïve',
  '文本',
  '分块',
  '🙂',
  'x',
  'e.g.',
  'Dr.',
  'vectorisation',
  'a'.repeat(30),
  'https://example.com/a/very/long/path?with=query&and=more',
  '—',
  '"quoted"',
  '(paren)',
  '3.14',
];

function randomDoc(r: () => number): { text: string; category: Category; language?: string } {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const sentence = () => {
    const w = Array.from({ length: int(1, 25) }, () => pick(VOCAB)).join(r() < 0.1 ? '' : ' ');
    return w + pick(['.', '!', '?', '。', '', '…']);
  };
  const paragraph = () => Array.from({ length: int(1, 12) }, sentence).join(r() < 0.2 ? '\n' : ' ');
  const category = pick(['article', 'post', 'code'] as const);
  if (category === 'code') {
    const language = pick(['typescript', 'python', 'go', 'rust', 'java', 'text']);
    const py = language === 'python';
    const fn = (d: number): string => {
      const ind = '    '.repeat(d);
      const body = Array.from(
        { length: int(0, 15) },
        () => `${ind}    ${pick(['x = f(1)', 'return "}"', "s = '{'", '// {', '# {', 'y += 2;'])}`,
      );
      if (r() < 0.3 && d < 2) body.push(fn(d + 1));
      return py
        ? `${ind}def f${int(0, 99)}(a):\n${body.join('\n') || `${ind}    pass`}`
        : `${ind}function f${int(0, 99)}(a) {\n${body.join('\n')}\n${ind}}`;
    };
    const text = Array.from({ length: int(0, 8) }, () =>
      r() < 0.2 ? `${'import x'} ${sentence()}` : fn(0),
    ).join(pick(['\n\n', '\n', '\r\n']));
    return { text, category, language };
  }
  const parts: string[] = [];
  for (let i = int(0, 12); i > 0; i--) {
    const kind = r();
    if (category === 'article' && kind < 0.2) parts.push(`${'#'.repeat(int(1, 4))} ${sentence()}`);
    else if (kind < 0.3)
      parts.push(
        '```\n' + Array.from({ length: int(0, 30) }, sentence).join('\n') + (r() < 0.9 ? '\n```' : ''),
      );
    else if (kind < 0.4) parts.push(Array.from({ length: int(1, 6) }, () => `- ${sentence()}`).join('\n'));
    else if (kind < 0.45) parts.push(`> ${paragraph()}`);
    else parts.push(paragraph());
  }
  return { text: (r() < 0.3 ? '\n  ' : '') + parts.join(pick(['\n\n', '\n\n\n', '\n \n'])), category };
}

describe('random documents (seeded)', () => {
  it('keep every invariant, at several limits and overlaps, and chunk the same way twice', () => {
    const r = rng(20240601);
    for (let n = 0; n < 300; n++) {
      const doc = randomDoc(r);
      const max = [20, 32, 64, 256][n % 4]!;
      const overlap = [0, 4, Math.floor(max / 4), Math.floor(max / 2)][Math.floor(r() * 4)]!;
      const once = run(doc.text, doc.category, { max, overlap, language: doc.language });
      const c = approximateWordPieceCounter(max);
      const policy = { ...defaultPolicy(doc.category, c), overlapTokens: overlap };
      const input = {
        documentId: 'doc_1',
        version: 3,
        authorId: 'auth_1',
        category: doc.category,
        text: doc.text,
        language: doc.language,
      };
      const twice = chunkDocument(input, policy, c);
      const plain = (cs: Chunk[]) =>
        JSON.stringify(cs, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      if (plain(twice) !== plain(once)) throw new Error(`document ${n} chunked differently the second time`);
    }
  });
});
