// The exported layouts are what TRL's SFTTrainer (conversational "messages") and DPOTrainer (conversational
// preference: prompt/chosen/rejected message lists) read without conversion; these tests pin the layout.
import { describe, expect, it } from '@jest/globals';
import {
  CHAT_SCHEMA_VERSION,
  PREFERENCE_SCHEMA_VERSION,
  toJsonl,
  validateJsonl,
  type ChatRecord,
  type PreferenceRecord,
} from './export-format.js';

const chat: ChatRecord = {
  messages: [
    { role: 'user', content: 'Explain "starters".' },
    { role: 'assistant', content: 'A starter is flour\nand water.' },
  ],
};
const pref: PreferenceRecord = {
  prompt: [{ role: 'user', content: 'Q?' }],
  chosen: [{ role: 'assistant', content: 'Mine.' }],
  rejected: [{ role: 'assistant', content: 'Generic.' }],
};

describe('JSONL export', () => {
  it('writes one JSON object per line with fixed keys', () => {
    const text = toJsonl([chat, chat]);
    expect(text.split('\n')).toHaveLength(3);
    expect(JSON.parse(text.split('\n')[0]!)).toEqual(chat);
    expect(text.split('\n')[0]).toBe(
      '{"messages":[{"role":"user","content":"Explain \\"starters\\"."},{"role":"assistant","content":"A starter is flour\\nand water."}]}',
    );
    expect(toJsonl([pref])).toBe(
      '{"prompt":[{"role":"user","content":"Q?"}],"chosen":[{"role":"assistant","content":"Mine."}],' +
        '"rejected":[{"role":"assistant","content":"Generic."}]}\n',
    );
    expect(validateJsonl(text, CHAT_SCHEMA_VERSION)).toEqual([]);
    expect(validateJsonl(toJsonl([pref]), PREFERENCE_SCHEMA_VERSION)).toEqual([]);
  });

  it('rejects what TRL would not read as the declared format', () => {
    expect(
      validateJsonl('{"messages":[{"role":"assistant","content":"x"}]}\n', CHAT_SCHEMA_VERSION),
    ).not.toEqual([]);
    expect(
      validateJsonl(
        '{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"  "}]}\n',
        CHAT_SCHEMA_VERSION,
      ),
    ).toEqual(['line 1: messages.1.content: content must not be blank']);
    expect(
      validateJsonl('{"prompt":"q","chosen":"a","rejected":"b"}\n', PREFERENCE_SCHEMA_VERSION),
    ).not.toEqual([]);
    expect(validateJsonl('not json\n', CHAT_SCHEMA_VERSION)).toEqual(['line 1: not JSON']);
    expect(validateJsonl(toJsonl([chat]).trimEnd(), CHAT_SCHEMA_VERSION)).toEqual([
      'the file does not end with a newline',
    ]);
  });
});
