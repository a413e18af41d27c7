// The tokenizer named by LLMTWIN_DATASET_TOKENIZER: gguf:default (the prepared SmolLM2-135M-Instruct),
// gguf:<file.gguf>, or words / empty (no tokenizer: the trainer falls back to the documented word-based
// estimate, which stats.tokenizer records). A named file that is missing fails the start.
import { invalidArgument } from '@llmtwin/runtime';
import { GgufTokenizer } from './gguf-tokenizer.js';

export const TOKENIZER_FORMS = 'gguf:default, gguf:<file.gguf>, words or empty';

export async function openTokenizer(
  setting: string,
  defaultModelPath: string,
): Promise<GgufTokenizer | undefined> {
  if (setting === 'words' || setting === '') return undefined;
  if (setting.startsWith('gguf:')) {
    const file = setting.slice('gguf:'.length);
    return GgufTokenizer.load(file === 'default' ? defaultModelPath : file);
  }
  throw invalidArgument(`LLMTWIN_DATASET_TOKENIZER "${setting}" is not one of ${TOKENIZER_FORMS}`);
}
