import { OnnxEmbedder } from './onnx-embedder.js';
const e = await OnnxEmbedder.load({ model: 'all-MiniLM-L6-v2', threads: 2 });
console.log(e.model, e.dimensions, e.maxTokens);
const [a, b, c] = await e.embed(['A man is eating food.', 'A man is eating a piece of bread.', 'A man is riding a horse.'], 'passage');
const dot = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i]!, 0);
console.log(dot(a!, b!), dot(a!, c!), dot(a!, a!));
console.log(e.tokenize('Héllo, wörld! Tokenization isn\'t trivial.'), e.countTokens('Hello world'));
const texts = Array.from({ length: 100 }, (_, i) => `Passage number ${i}: the quick brown fox jumps over the lazy dog while ${i % 7} cats watch.`);
for (const bs of [1, 100]) { const t0 = performance.now(); await e.embed(texts, 'passage'); console.log('100 passages', performance.now() - t0, 'ms'); }
await e.close();
