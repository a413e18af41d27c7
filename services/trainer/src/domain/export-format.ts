// The two record layouts a dataset version is written in, one JSON object per line, as TRL reads them
// without conversion (datasets.load_dataset("json", data_files=...)):
//   chat-messages/1            {"messages":[{"role":"system"?,...},{"role":"user",...},{"role":"assistant",...}]}
//                              — SFTTrainer's conversational language-modeling format;
//   prompt-chosen-rejected/1   {"prompt":[{"role":"user",...}],"chosen":[{"role":"assistant",...}],
//                              "rejected":[{"role":"assistant",...}]} — DPOTrainer's conversational preference
//                              format (the chat template is applied by TRL, as for SFT).
// Keys are written in a fixed order and lines end with "\n", so the same examples give the same bytes.
import { z } from 'zod';

export const CHAT_SCHEMA_VERSION = 'chat-messages/1';
export const PREFERENCE_SCHEMA_VERSION = 'prompt-chosen-rejected/1';
export const JSONL_MEDIA_TYPE = 'application/jsonl';

export interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRecord {
  messages: Message[];
}

export interface PreferenceRecord {
  prompt: Message[];
  chosen: Message[];
  rejected: Message[];
}

const content = z.string().refine((s) => s.trim().length > 0, 'content must not be blank');
const message = (role: Message['role']) => z.strictObject({ role: z.literal(role), content });

export const chatRecordSchema = z.strictObject({
  messages: z.union([
    z.tuple([message('user'), message('assistant')]),
    z.tuple([message('system'), message('user'), message('assistant')]),
  ]),
});

export const preferenceRecordSchema = z.strictObject({
  prompt: z.union([z.tuple([message('user')]), z.tuple([message('system'), message('user')])]),
  chosen: z.tuple([message('assistant')]),
  rejected: z.tuple([message('assistant')]),
});

export type SchemaVersion = typeof CHAT_SCHEMA_VERSION | typeof PREFERENCE_SCHEMA_VERSION;

const msg = (m: Message) => ({ role: m.role, content: m.content });

/** One line per record, keys in schema order. */
export function toJsonl(records: readonly (ChatRecord | PreferenceRecord)[]): string {
  return records
    .map((r) =>
      'messages' in r
        ? JSON.stringify({ messages: r.messages.map(msg) })
        : JSON.stringify({
            prompt: r.prompt.map(msg),
            chosen: r.chosen.map(msg),
            rejected: r.rejected.map(msg),
          }),
    )
    .map((line) => line + '\n')
    .join('');
}

/** Every problem of a JSONL file against a schema version, as "line N: …"; empty when it is valid. */
export function validateJsonl(text: string, schemaVersion: SchemaVersion): string[] {
  const schema = schemaVersion === CHAT_SCHEMA_VERSION ? chatRecordSchema : preferenceRecordSchema;
  const problems: string[] = [];
  if (text.length > 0 && !text.endsWith('\n')) problems.push('the file does not end with a newline');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      problems.push(`line ${i + 1}: not JSON`);
      return;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push(`line ${i + 1}: ${issue.path.join('.') || '(record)'}: ${issue.message}`);
      }
    }
  });
  return problems;
}
