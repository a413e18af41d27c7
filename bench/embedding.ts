// Embedding throughput: our embedder against the raw runtime and a Python peer, same model, same CPU, one run.
//   npm run bench -- embedding [--chunks N] [--threads T] [--batch B] [--rounds R] [--out f.json]
// Chunks: N passages of at most 256 tokens (special tokens included, so none is truncated), made by packing
// whole paragraphs of the articles kept as Markdown under services/ingest/test/fixtures (code blocks, tables
// and headings left out) until the next one would not fit, in path order, cycling through the files again when N needs more: deterministic, and
// shaped like the chunker's output (most near the limit, a document's last one shorter).
// Implementations, each embedding all N chunks per pass (batch B, intra-op threads T, inter-op 1):
//   ours       createEmbedder('onnx:<model folder>?threads=T&batch=B').embed(chunks, 'passage'), the call the
//              embed service's consumer makes (transformers.js over onnxruntime-node 1.21.0, int8 model)
//   raw        onnxruntime 1.21.0 called directly from Python with the Rust `tokenizers`, batches of B chunks
//              in the order given, padded to their longest row, numpy mean pooling (bench/embedding/peers.py)
//   raw-sorted the same on batches cut from the chunks sorted by token count, as ours cuts them
//   fastembed  Qdrant's fastembed on the same ONNX file (local files only, no hub)
// The Python side runs in a venv this benchmark builds on first run from bench/embedding/requirements.lock
// (pinned, hash-checked) under <LLMTWIN_CACHE_DIR or ~/.cache/llmtwin>/bench-embedding-py-<lock sha>.
// sentence-transformers is left out: its ONNX backend needs torch, transformers and optimum (gigabytes) for
// the same onnxruntime call that `raw` already makes.
// Each round runs every implementation once, in a rotating order, after one untimed warm-up pass each; the
// report gives chunks/s per implementation (median, min, max over rounds) and ours/raw per round (paired, so
// the machine's load moves both), and CPU ms per chunk (all the process's threads, spinning included: the
// less noisy figure on a shared machine). Vectors of every peer are compared with ours: cosine ≥ 0.999 per chunk, or
// the run fails (the comparison is only fair if all of them compute the same thing).
import { createEmbedder } from '@llmtwin/ports/adapters';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, homedir, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.join(here, '..');
const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '256' },
    threads: { type: 'string', default: String(availableParallelism()) },
    batch: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    peers: { type: 'string', default: 'raw,raw-sorted,fastembed' },
    out: { type: 'string' },
  },
});
const N = Number(values.chunks);
const threads = Number(values.threads);
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const wantedPeers = values.peers.split(',').filter(Boolean);
const MIN_COSINE = 0.999;
const log = (msg: string): void => console.error(`[embedding] ${msg}`);

const cacheRoot = process.env.LLMTWIN_CACHE_DIR?.trim()
  ? path.resolve(process.env.LLMTWIN_CACHE_DIR.trim())
  : path.join(homedir(), '.cache', 'llmtwin');
const modelDir = path.join(cacheRoot, 'models', 'all-MiniLM-L6-v2');
const onnxFile = path.join(modelDir, 'onnx', 'model_quantized.onnx');
if (!existsSync(onnxFile)) {
  console.error(`${onnxFile} is missing: run \`node scripts/prepare-models.mjs\` first`);
  process.exit(1);
}

const embedder = await createEmbedder(`onnx:${modelDir}?threads=${threads}&batch=${batch}`, {
  cacheDir: cacheRoot,
});

// ---- chunks ----

function paragraphs(markdown: string): string[] {
  const out: string[] = [];
  let inFence = false;
  for (const block of markdown.split(/\n\s*\n/)) {
    const fences = (block.match(/^```/gm) ?? []).length;
    const wasInFence = inFence;
    if (fences % 2 === 1) inFence = !inFence;
    if (wasInFence || fences > 0) continue;
    const lines = block.split('\n').filter((l) => !/^\s*(\||#|<|!\[)/.test(l));
    const text = lines
      .join(' ')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/[`*_]/g, '')
      .replace(/\s+/g, ' ')
      .trim();
    if (text.split(' ').length >= 8) out.push(text);
  }
  return out;
}

// Real articles kept as the ingest tests' expected Markdown (third-party pages, they change rarely), rather
// than docs/, which moves with every commit.
const SOURCE = path.join(repo, 'services', 'ingest', 'test', 'fixtures');

function makeChunks(n: number): string[] {
  const docs = readdirSync(SOURCE, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => paragraphs(readFileSync(path.join(SOURCE, f), 'utf8')));
  const limit = embedder.maxTokens;
  const chunks: string[] = [];
  for (let pass = 0; chunks.length < n; pass++) {
    for (const paras of docs) {
      let current = '';
      for (const p of paras) {
        const joined = current ? `${current} ${p}` : p;
        if (embedder.countTokens(joined) <= limit) {
          current = joined;
          continue;
        }
        if (current) chunks.push(current);
        // A paragraph longer than a chunk on its own: cut at the last word that fits.
        let rest = p;
        while (embedder.countTokens(rest) > limit) {
          const words = rest.split(' ');
          let lo = 1;
          let hi = words.length;
          while (lo < hi) {
            const mid = Math.ceil((lo + hi) / 2);
            if (embedder.countTokens(words.slice(0, mid).join(' ')) <= limit) lo = mid;
            else hi = mid - 1;
          }
          chunks.push(words.slice(0, lo).join(' '));
          rest = words.slice(lo).join(' ');
        }
        current = rest;
      }
      if (current) chunks.push(current);
    }
    if (pass > 100) throw new Error(`${SOURCE} gives no chunks`);
  }
  return chunks.slice(0, n);
}

const chunks = makeChunks(N);
const tokenCounts = chunks.map((c) => embedder.countTokens(c, 'passage'));
const sortedCounts = [...tokenCounts].sort((a, b) => a - b);
log(
  `${N} chunks from ${path.relative(repo, SOURCE)}/**/*.md: tokens min ${sortedCounts[0]}, median ${sortedCounts[N >> 1]}, max ${sortedCounts[N - 1]}`,
);

// ---- the Python peers ----

function run(cmd: string, argv: string[]): void {
  const res = spawnSync(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.error) throw new Error(`${cmd} could not run: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${res.status}`);
}

/** The venv of requirements.lock, built once per lock (as scripts/prepare-trainer.mjs does for the trainer). */
function ensureVenv(): string {
  const lockFile = path.join(here, 'embedding', 'requirements.lock');
  const lockSha = createHash('sha256').update(readFileSync(lockFile)).digest('hex');
  const dir = path.join(cacheRoot, `bench-embedding-py-${lockSha.slice(0, 12)}`);
  const python = path.join(dir, 'venv', 'bin', 'python');
  const marker = path.join(dir, 'llmtwin-prepared.json');
  if (existsSync(marker) && existsSync(python)) return python;
  const base = process.env.PYTHON || 'python3';
  log(`building ${dir} from bench/embedding/requirements.lock (pip, hash-checked; about 100 MB)`);
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    run(base, ['-m', 'venv', path.join(staging, 'venv')]);
    run(path.join(staging, 'venv', 'bin', 'python'), [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--progress-bar',
      'off',
      '-q',
      '--require-hashes',
      '--no-deps',
      '--only-binary',
      ':all:',
      '-r',
      lockFile,
    ]);
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  writeFileSync(marker, `${JSON.stringify({ lockSha256: lockSha, preparedAt: new Date().toISOString() })}\n`);
  return python;
}

/** fastembed wants <dir>/model.onnx beside the tokenizer files: links to the prepared model, nothing copied. */
function fastembedDir(): string {
  const dir = path.join(cacheRoot, 'bench', 'embedding-fastembed-model');
  mkdirSync(dir, { recursive: true });
  const links: Record<string, string> = {
    'model.onnx': onnxFile,
    'config.json': path.join(modelDir, 'config.json'),
    'tokenizer.json': path.join(modelDir, 'tokenizer.json'),
    'tokenizer_config.json': path.join(modelDir, 'tokenizer_config.json'),
    'special_tokens_map.json': path.join(modelDir, 'special_tokens_map.json'),
    'vocab.txt': path.join(modelDir, 'vocab.txt'),
  };
  for (const [name, target] of Object.entries(links)) {
    const at = path.join(dir, name);
    rmSync(at, { force: true });
    spawnSync('ln', ['-s', target, at]);
  }
  return dir;
}

interface Reply {
  ok: boolean;
  error?: string;
  seconds?: number;
  cpu_seconds?: number;
  peers?: string[];
  skipped?: Record<string, string>;
  onnxruntime?: string;
}

function startPeers(python: string) {
  const child = spawn(python, [path.join(here, 'embedding', 'peers.py')], {
    stdio: ['pipe', 'pipe', 'inherit'],
    // Same thread budget for the Rust tokenizer's pool as for the session; no hub calls.
    env: { ...process.env, RAYON_NUM_THREADS: String(threads), HF_HUB_OFFLINE: '1' },
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ask = async (msg: object): Promise<Reply> => {
    child.stdin.write(`${JSON.stringify(msg)}\n`);
    const next = await lines.next();
    if (next.done) throw new Error('the Python peers exited');
    const reply = JSON.parse(next.value as string) as Reply;
    if (!reply.ok) throw new Error(`Python peers: ${reply.error}`);
    return reply;
  };
  return {
    ask,
    close: () => {
      child.stdin.end();
    },
  };
}

// ---- measuring ----

const work = await mkdtemp(path.join(tmpdir(), 'bench-embedding-'));
const python = ensureVenv();
const peers = startPeers(python);
const setup = await peers.ask({
  op: 'setup',
  chunks,
  model: onnxFile,
  tokenizer: path.join(modelDir, 'tokenizer.json'),
  fastembed_dir: wantedPeers.includes('fastembed') ? fastembedDir() : null,
  threads,
  batch,
  max_tokens: embedder.maxTokens,
});
for (const [peer, why] of Object.entries(setup.skipped ?? {})) log(`${peer} left out: ${why}`);
const pythonPeers = (setup.peers ?? []).filter((p) => wantedPeers.includes(p));

const cosine = (a: Float32Array, b: Float32Array): number => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
};

const impls = ['ours', ...pythonPeers];
interface Pass {
  seconds: number;
  cpuSeconds: number;
}
// CPU time of the whole process (onnxruntime's threads included): less moved by other load than wall time.
const passOurs = async (): Promise<Pass & { vectors: Float32Array[] }> => {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const vectors = await embedder.embed(chunks, 'passage');
  const used = process.cpuUsage(cpu);
  return {
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    vectors,
  };
};
const passPeer = async (peer: string): Promise<Pass> => {
  const r = await peers.ask({ op: 'run', peer });
  return { seconds: r.seconds!, cpuSeconds: r.cpu_seconds! };
};

// Warm-up passes, which also check that every peer computes the same vectors as ours.
const { vectors: ourVectors } = await passOurs();
const agreement: Record<string, { min: number; mean: number }> = {};
for (const peer of pythonPeers) {
  const file = path.join(work, `${peer}.f32`);
  await peers.ask({ op: 'run', peer, vectors: file });
  const buf = await readFile(file);
  const flat = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const dim = embedder.dimensions;
  const cos = ourVectors.map((v, i) => cosine(v, flat.subarray(i * dim, (i + 1) * dim)));
  const min = Math.min(...cos);
  agreement[peer] = { min: +min.toFixed(6), mean: +(cos.reduce((s, c) => s + c, 0) / cos.length).toFixed(6) };
  log(`${peer} vs ours: cosine min ${min.toFixed(6)}`);
  if (!(min >= MIN_COSINE)) throw new Error(`${peer} disagrees with ours (cosine ${min} < ${MIN_COSINE})`);
}

const seconds: Record<string, number[]> = Object.fromEntries(impls.map((i) => [i, []]));
const cpuSeconds: Record<string, number[]> = Object.fromEntries(impls.map((i) => [i, []]));
for (let r = 0; r < rounds; r++) {
  const order = impls.map((_, k) => impls[(k + r) % impls.length]!);
  for (const impl of order) {
    const pass = impl === 'ours' ? await passOurs() : await passPeer(impl);
    seconds[impl]!.push(pass.seconds);
    cpuSeconds[impl]!.push(pass.cpuSeconds);
  }
  log(
    `round ${r + 1}/${rounds}: ` +
      impls
        .map(
          (i) =>
            `${i} ${(N / seconds[i]![r]!).toFixed(1)}/s ${((1000 * cpuSeconds[i]![r]!) / N).toFixed(0)} cpu-ms`,
        )
        .join(', ') +
      ` (load ${loadavg()[0]!.toFixed(2)})`,
  );
}
peers.close();
await embedder.close();
rmSync(work, { recursive: true, force: true });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const rate = Object.fromEntries(
  impls.map((i) => {
    const r = seconds[i]!.map((s) => N / s);
    return [
      i,
      {
        chunksPerSecond: +median(r).toFixed(2),
        min: +Math.min(...r).toFixed(2),
        max: +Math.max(...r).toFixed(2),
      },
    ];
  }),
);
// Paired per round: raw's time over each one's time, i.e. its chunks/s as a multiple of raw's (ours/raw ≥ 1
// is the target).
const overRaw = seconds.raw
  ? Object.fromEntries(
      impls
        .filter((i) => i !== 'raw')
        .map((i) => {
          const r = seconds[i]!.map((s, k) => seconds.raw![k]! / s);
          return [
            i,
            {
              median: +median(r).toFixed(3),
              min: +Math.min(...r).toFixed(3),
              max: +Math.max(...r).toFixed(3),
            },
          ];
        }),
    )
  : {};

const cpuMsPerChunk = Object.fromEntries(
  impls.map((i) => {
    const c = cpuSeconds[i]!.map((s) => (1000 * s) / N);
    return [
      i,
      { median: +median(c).toFixed(1), min: +Math.min(...c).toFixed(1), max: +Math.max(...c).toFixed(1) },
    ];
  }),
);

const result = {
  benchmark: 'embedding',
  model: embedder.model,
  onnxFile,
  chunks: N,
  tokens: { min: sortedCounts[0], median: sortedCounts[N >> 1], max: sortedCounts[N - 1] },
  threads,
  batch,
  rounds,
  cpu: cpus()[0]?.model,
  cores: availableParallelism(),
  onnxruntimePython: setup.onnxruntime,
  loadavg: loadavg().map((l) => +l.toFixed(2)),
  chunksPerSecond: rate,
  overRaw,
  cpuMsPerChunk,
  agreement,
  left_out: {
    ...setup.skipped,
    'sentence-transformers':
      'its ONNX backend needs torch + transformers + optimum (GBs) to make the same onnxruntime call as raw',
  },
};
console.log(JSON.stringify(result, null, 2));
if (values.out) await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
