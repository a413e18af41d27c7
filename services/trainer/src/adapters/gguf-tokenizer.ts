// The target model's real tokenizer, read from its GGUF file with node-llama-cpp (vocabulary only: no weights
// are loaded, so it costs a few MB and about a second). The default is the SmolLM2-135M-Instruct GGUF that
// `npm run models:prepare` puts in the cache, the same file the router serves in process.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { failedPrecondition } from '@llmtwin/runtime';
import type { Tokenizer } from '../domain/tokenizer.port.js';

export class GgufTokenizer implements Tokenizer {
  private constructor(
    readonly name: string,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
  ) {}

  static async load(modelPath: string): Promise<GgufTokenizer> {
    if (!existsSync(modelPath)) {
      throw failedPrecondition(
        `no tokenizer model at ${modelPath}: run npm run models:prepare, or set LLMTWIN_DATASET_TOKENIZER`,
      );
    }
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    // build 'never': a missing prebuilt binary must fail now, not start compiling llama.cpp.
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    try {
      const model = await llama.loadModel({ modelPath, vocabOnly: true });
      const file = path.basename(modelPath).replace(/(\.[A-Za-z0-9_]+)?\.gguf$/i, '');
      return new GgufTokenizer(`${file} (gguf)`, llama, model);
    } catch (err) {
      await llama.dispose();
      throw err;
    }
  }

  count(text: string): number {
    return text ? this.model.tokenize(text).length : 0;
  }

  async close(): Promise<void> {
    await this.model.dispose();
    await this.llama.dispose();
  }
}
