// Renders chat messages into the prompt string that TGI's native /generate_stream takes. Three formats
// cover the instruct models the project serves: ChatML (SmolLM2, Qwen, many fine-tunes), Llama 3 and
// Mistral [INST]. TGI tokenizes the prompt with the model's tokenizer and its own special tokens, so:
// - the BOS token is left out (the Llama and Mistral tokenizers add it; writing it too would double it);
// - marker strings inside message text (`<|im_end|>`, `[INST]`, …) are broken up, because TGI would read
//   them as real control tokens and a document or a user could then forge turns (prompt injection).

export type ChatTemplateName = 'chatml' | 'llama3' | 'mistral';

export const CHAT_TEMPLATES: readonly ChatTemplateName[] = ['chatml', 'llama3', 'mistral'];

interface TemplateMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatTemplate {
  readonly name: ChatTemplateName;
  /** The prompt, ending where the assistant's answer starts. */
  render(messages: readonly TemplateMessage[]): string;
  /** Text that ends the answer if the model writes it as plain text (its end-of-turn marker). */
  readonly stopStrings: readonly string[];
}

const CHATML_MARKERS = ['<|im_start|>', '<|im_end|>', '<|endoftext|>'];
const LLAMA3_MARKERS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|start_header_id|>',
  '<|end_header_id|>',
  '<|eot_id|>',
  '<|eom_id|>',
  '<|python_tag|>',
];
const MISTRAL_MARKERS = ['[INST]', '[/INST]', '<s>', '</s>'];

/** Breaks every marker with a zero-width space after its first character, so it tokenizes as text. */
function neutralize(text: string, markers: readonly string[]): string {
  let out = text;
  for (const m of markers) {
    if (out.includes(m)) out = out.split(m).join(`${m[0]}\u200b${m.slice(1)}`);
  }
  return out;
}

const chatml: ChatTemplate = {
  name: 'chatml',
  stopStrings: ['<|im_end|>'],
  render(messages) {
    let out = '';
    for (const m of messages) {
      out += `<|im_start|>${m.role}\n${neutralize(m.content, CHATML_MARKERS)}<|im_end|>\n`;
    }
    return `${out}<|im_start|>assistant\n`;
  },
};

const llama3: ChatTemplate = {
  name: 'llama3',
  stopStrings: ['<|eot_id|>', '<|end_of_text|>'],
  render(messages) {
    let out = '';
    for (const m of messages) {
      // Meta's template trims each message.
      const text = neutralize(m.content.trim(), LLAMA3_MARKERS);
      out += `<|start_header_id|>${m.role}<|end_header_id|>\n\n${text}<|eot_id|>`;
    }
    return `${out}<|start_header_id|>assistant<|end_header_id|>\n\n`;
  },
};

const mistral: ChatTemplate = {
  name: 'mistral',
  stopStrings: ['</s>'],
  render(messages) {
    // Mistral's format has no system role: the system text goes in front of the first user turn.
    const system = messages
      .filter((m) => m.role === 'system')
      .map((m) => m.content.trim())
      .join('\n\n');
    const turns = messages.filter((m) => m.role !== 'system');
    let out = '';
    let systemPending = system !== '';
    for (const m of turns) {
      const text = neutralize(m.content.trim(), MISTRAL_MARKERS);
      if (m.role === 'user') {
        const withSystem = systemPending ? `${neutralize(system, MISTRAL_MARKERS)}\n\n${text}` : text;
        systemPending = false;
        out += `[INST] ${withSystem} [/INST]`;
      } else {
        out += ` ${text}</s>`;
      }
    }
    if (systemPending) out += `[INST] ${neutralize(system, MISTRAL_MARKERS)} [/INST]`;
    return out;
  },
};

const TEMPLATES: Record<ChatTemplateName, ChatTemplate> = { chatml, llama3, mistral };

export function chatTemplate(name: ChatTemplateName = 'chatml'): ChatTemplate {
  const template = TEMPLATES[name];
  if (!template) {
    throw new Error(`unknown chat template '${String(name)}'; expected one of ${CHAT_TEMPLATES.join(', ')}`);
  }
  return template;
}
