import { OnnxEmbedder } from './onnx-embedder.js';
const texts = Array.from({ length: 100 }, (_, i) => `Passage ${i}: retrieval-augmented generation grounds an LLM's answers in documents it can cite, number ${i * 7}.`);
for (const threads of [1, 2]) for (const batchSize of [1, 8, 32]) {
  const e = await OnnxEmbedder.load({ model: 'all-MiniLM-L6-v2', threads, batchSize });
  await e.embed(texts.slice(0, 8), 'passage');
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) { const t0 = performance.now(); await e.embed(texts, 'passage'); runs.push(performance.now() - t0); }
  runs.sort((a, b) => a - b);
  console.log(`threads=${threads} batch=${batchSize}: median ${runs[1]!.toFixed(0)} ms per 100 passages (${(100000 / runs[1]!).toFixed(0)}/s), tokens/passage=${e.countTokens(texts[50]!)}`);
  await e.close();
}
