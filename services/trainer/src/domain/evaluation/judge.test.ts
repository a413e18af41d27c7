// The judge's parsing and retry, over a fault-injection fake judge model that replies with scripted text
// (malformed JSON, prose, errors); the real judge model runs in adapters/evaluation-judge.e2e.test.ts.
import { describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime/errors';
import type { CompletionRequest, GeneratorLlm } from '../generator-llm.port.js';
import { JUDGE_TEMPLATE, Judge, judgeMessages, judgeTemplateSha256, parseJudgement } from './judge.js';

/** Fault injection: replies in order from a script; an Error entry is thrown instead. */
class ScriptedFaultyJudgeLlm implements GeneratorLlm {
  readonly model = 'scripted-faulty-judge';
  readonly requests: CompletionRequest[] = [];
  constructor(private readonly script: (string | Error)[]) {}
  complete(request: CompletionRequest): Promise<string> {
    this.requests.push(request);
    const next = this.script.shift();
    if (next === undefined) throw new Error('the script ran out');
    return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
  }
}

const item = {
  question: 'Why ship small?',
  reference: 'Small changes fail small.',
  answer: 'Because $& risk.',
};
const signal = new AbortController().signal;

describe('parseJudgement', () => {
  it.each([
    ['{"accuracy": 3, "style": 2}', { accuracy: 3, style: 2 }],
    ['```json\n{"accuracy": 1, "style": 1}\n```', { accuracy: 1, style: 1 }],
    ['Here you go: {"Accuracy": "2", "Style": "3"} hope it helps', { accuracy: 2, style: 3 }],
    ['accuracy: 2\nstyle = 1', { accuracy: 2, style: 1 }],
    ['{"accuracy": 2, "style": 3, "why": "close"}', { accuracy: 2, style: 3 }],
  ])('reads %j', (reply, expected) => {
    expect(parseJudgement(reply)).toEqual(expected);
  });

  it.each([
    '',
    'I would rate it highly.',
    '{"accuracy": 4, "style": 2}',
    '{"accuracy": 2.5, "style": 2}',
    '{"accuracy": 2}',
    '{"accuracy": 2, "style": ',
    'accuracy: 12, style: 1',
  ])('refuses %j', (reply) => {
    expect(parseJudgement(reply)).toBeUndefined();
  });
});

describe('judge template', () => {
  it('fills the placeholders verbatim, even with $ patterns in the text', () => {
    const [system, user] = judgeMessages(item);
    expect(system!.content).toBe(JUDGE_TEMPLATE.system);
    expect(user!.content).toContain('Answer to grade:\nBecause $& risk.');
    expect(user!.content).toContain('Reference answer, written by the author:\nSmall changes fail small.');
    expect(user!.content).not.toMatch(/\{question\}|\{reference\}|\{answer\}/);
  });

  it('is pinned: a released template never changes (a new wording is a new version with a new hash)', async () => {
    expect(JUDGE_TEMPLATE.version).toBe('eval-judge/v1');
    expect(await judgeTemplateSha256()).toBe(
      '443a28b41538bc95dcbc2b4313c244e9f18d6380054881fb71cbe52fda621264',
    );
  });
});

describe('Judge', () => {
  it('asks at temperature 0 with a JSON schema and returns the grades', async () => {
    const llm = new ScriptedFaultyJudgeLlm(['{"accuracy": 3, "style": 2}']);
    expect(await new Judge(llm).score(item, signal)).toEqual({ judgement: { accuracy: 3, style: 2 } });
    expect(llm.requests[0]!.temperature).toBe(0);
    expect(llm.requests[0]!.jsonSchema).toBeDefined();
  });

  it('retries once after malformed output, showing the judge what it wrote', async () => {
    const llm = new ScriptedFaultyJudgeLlm(['{"accuracy": "great"', '{"accuracy": 2, "style": 2}']);
    expect(await new Judge(llm).score(item, signal)).toEqual({ judgement: { accuracy: 2, style: 2 } });
    expect(llm.requests).toHaveLength(2);
    expect(llm.requests[1]!.messages.slice(-2)).toEqual([
      { role: 'assistant', content: '{"accuracy": "great"' },
      { role: 'user', content: JUDGE_TEMPLATE.retry },
    ]);
  });

  it('counts an answer unscored after two malformed replies, without throwing', async () => {
    const llm = new ScriptedFaultyJudgeLlm(['nope', 'still nope', 'never asked']);
    const outcome = await new Judge(llm).score(item, signal);
    expect(outcome.judgement).toBeUndefined();
    expect(outcome.problem).toBe('the judge replied without a valid grade: "still nope"');
    expect(llm.requests).toHaveLength(2);
  });

  it('retries after an error from the backend and reports the error when it persists', async () => {
    const llm = new ScriptedFaultyJudgeLlm([new Error('backend down'), new Error('backend still down')]);
    const outcome = await new Judge(llm).score(item, signal);
    expect(outcome.problem).toBe('the judge failed: backend still down');
    // An error is retried with the same ask, not with a reminder.
    expect(llm.requests[1]!.messages).toEqual(llm.requests[0]!.messages);
  });

  it('throws cancelled when the evaluation is cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    const llm = new ScriptedFaultyJudgeLlm([new Error('aborted')]);
    const err = await new Judge(llm).score(item, controller.signal).catch((e: unknown) => e);
    expect(isDomainError(err, 'cancelled')).toBe(true);
  });
});
