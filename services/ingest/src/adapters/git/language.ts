// Language of a repository file, from its name, then its extension, then (for extensionless scripts) its
// shebang. Ids are lowercase and stable because chunking and retrieval filter on them; a text file we cannot
// name is still the author's writing and is kept as 'text' rather than dropped.

const BY_FILENAME: Readonly<Record<string, string>> = {
  dockerfile: 'dockerfile',
  containerfile: 'dockerfile',
  makefile: 'makefile',
  gnumakefile: 'makefile',
  'cmakelists.txt': 'cmake',
  rakefile: 'ruby',
  gemfile: 'ruby',
  vagrantfile: 'ruby',
  podfile: 'ruby',
  jenkinsfile: 'groovy',
  build: 'starlark',
  'build.bazel': 'starlark',
  workspace: 'starlark',
  'workspace.bazel': 'starlark',
  '.bashrc': 'shell',
  '.bash_profile': 'shell',
  '.zshrc': 'shell',
  '.profile': 'shell',
  'go.mod': 'go-module',
  'go.work': 'go-module',
  procfile: 'procfile',
};

const BY_EXTENSION: Readonly<Record<string, string>> = {
  ts: 'typescript',
  tsx: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  js: 'javascript',
  jsx: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  py: 'python',
  pyi: 'python',
  pyw: 'python',
  ipynb: 'jupyter-notebook',
  go: 'go',
  rs: 'rust',
  java: 'java',
  kt: 'kotlin',
  kts: 'kotlin',
  c: 'c',
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  cxx: 'cpp',
  'c++': 'cpp',
  hh: 'cpp',
  hpp: 'cpp',
  hxx: 'cpp',
  ipp: 'cpp',
  inl: 'cpp',
  cu: 'cuda',
  cuh: 'cuda',
  cs: 'csharp',
  csx: 'csharp',
  fs: 'fsharp',
  fsx: 'fsharp',
  vb: 'visual-basic',
  rb: 'ruby',
  rake: 'ruby',
  gemspec: 'ruby',
  php: 'php',
  swift: 'swift',
  m: 'objective-c',
  mm: 'objective-cpp',
  scala: 'scala',
  sc: 'scala',
  sbt: 'scala',
  groovy: 'groovy',
  gradle: 'groovy',
  clj: 'clojure',
  cljs: 'clojure',
  cljc: 'clojure',
  edn: 'clojure',
  ex: 'elixir',
  exs: 'elixir',
  erl: 'erlang',
  hrl: 'erlang',
  hs: 'haskell',
  lhs: 'haskell',
  ml: 'ocaml',
  mli: 'ocaml',
  elm: 'elm',
  dart: 'dart',
  lua: 'lua',
  pl: 'perl',
  pm: 'perl',
  r: 'r',
  jl: 'julia',
  zig: 'zig',
  nim: 'nim',
  sol: 'solidity',
  s: 'assembly',
  asm: 'assembly',
  sh: 'shell',
  bash: 'shell',
  zsh: 'shell',
  ksh: 'shell',
  fish: 'fish',
  ps1: 'powershell',
  psm1: 'powershell',
  bat: 'batch',
  cmd: 'batch',
  sql: 'sql',
  html: 'html',
  htm: 'html',
  xhtml: 'html',
  css: 'css',
  scss: 'scss',
  sass: 'sass',
  less: 'less',
  vue: 'vue',
  svelte: 'svelte',
  astro: 'astro',
  md: 'markdown',
  markdown: 'markdown',
  mdx: 'markdown',
  rst: 'restructuredtext',
  adoc: 'asciidoc',
  tex: 'latex',
  yml: 'yaml',
  yaml: 'yaml',
  json: 'json',
  jsonc: 'json',
  json5: 'json',
  toml: 'toml',
  ini: 'ini',
  cfg: 'ini',
  xml: 'xml',
  proto: 'protobuf',
  graphql: 'graphql',
  gql: 'graphql',
  tf: 'hcl',
  hcl: 'hcl',
  nix: 'nix',
  bzl: 'starlark',
  star: 'starlark',
  cmake: 'cmake',
  mk: 'makefile',
  dockerfile: 'dockerfile',
  vim: 'vim-script',
  txt: 'text',
};

// Interpreter basename (version digits removed) → language, for `#!` lines.
const BY_INTERPRETER: Readonly<Record<string, string>> = {
  sh: 'shell',
  bash: 'shell',
  dash: 'shell',
  zsh: 'shell',
  ksh: 'shell',
  fish: 'fish',
  python: 'python',
  node: 'javascript',
  nodejs: 'javascript',
  deno: 'typescript',
  bun: 'typescript',
  tsx: 'typescript',
  'ts-node': 'typescript',
  ruby: 'ruby',
  perl: 'perl',
  php: 'php',
  lua: 'lua',
  rscript: 'r',
  pwsh: 'powershell',
  make: 'makefile',
};

function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? path : path.slice(slash + 1);
}

function fromShebang(head: Uint8Array): string | undefined {
  if (head.length < 2 || head[0] !== 0x23 || head[1] !== 0x21) return undefined;
  let end = head.indexOf(0x0a);
  if (end === -1) end = Math.min(head.length, 256);
  const line = Buffer.from(head.subarray(2, end)).toString('latin1').trim();
  const words = line.split(/\s+/);
  let interpreter = baseName(words[0] ?? '');
  if (interpreter === 'env') {
    // `#!/usr/bin/env -S deno run`: the interpreter is the first word that is not an env option.
    interpreter = words.slice(1).find((w) => !w.startsWith('-') && !w.includes('=')) ?? '';
    interpreter = baseName(interpreter);
  }
  const name = interpreter.toLowerCase().replace(/[\d.]+$/, '');
  return BY_INTERPRETER[name];
}

/**
 * The language of the file at `path` (a repository path with '/' separators). `head` is the start of its
 * content, used only for extensionless files with a shebang. Unknown text files are 'text'.
 */
export function detectLanguage(path: string, head?: Uint8Array): string {
  const name = baseName(path).toLowerCase();
  const byName = BY_FILENAME[name];
  if (byName) return byName;
  if (name.startsWith('dockerfile.') || name.endsWith('.dockerfile')) return 'dockerfile';
  const dot = name.lastIndexOf('.');
  if (dot > 0) {
    const byExtension = BY_EXTENSION[name.slice(dot + 1)];
    if (byExtension) return byExtension;
  }
  if (head) {
    const byShebang = fromShebang(head);
    if (byShebang) return byShebang;
  }
  return 'text';
}
