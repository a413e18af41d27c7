// How the qa benchmark reads a yes/no/maybe decision from an answer (bench/qa.ts). Kept apart from the
// benchmark script so that it can be tested and so that `--rescore` can re-read stored answers.

export type Decision = 'yes' | 'no' | 'maybe';

/** The sentence appended to every question. */
export const ASK_FOR_DECISION = 'Answer yes, no or maybe first, then explain.';

const words = (text: string) => text.toLowerCase().match(/[a-z]+/g) ?? [];
const INSTRUCTION_WORDS = words(ASK_FOR_DECISION);

/**
 * Removes what a model copied from the instruction instead of answering: any run of three or more of its
 * words in its order ("maybe first, then explain", "yes, no or maybe"). Small models echo the end of the
 * prompt; without this, an echoed "maybe first, then explain." would read as the decision "maybe".
 */
export function withoutInstructionEcho(answer: string): string {
  const tokens = [...answer.matchAll(/[A-Za-z]+/g)];
  const drop = new Set<number>();
  for (let i = 0; i < tokens.length; i++) {
    for (let start = 0; start < INSTRUCTION_WORDS.length; start++) {
      let length = 0;
      while (
        i + length < tokens.length &&
        start + length < INSTRUCTION_WORDS.length &&
        tokens[i + length]![0].toLowerCase() === INSTRUCTION_WORDS[start + length]
      ) {
        length++;
      }
      if (length >= 3) for (let k = i; k < i + length; k++) drop.add(k);
    }
  }
  if (drop.size === 0) return answer;
  let out = '';
  let at = 0;
  for (const [k, token] of tokens.entries()) {
    if (!drop.has(k)) continue;
    out += answer.slice(at, token.index);
    at = token.index! + token[0].length;
  }
  return out + answer.slice(at);
}

/**
 * The decision an answer states, once the instruction's echo is removed: its first word if that is yes, no
 * or maybe, else the first of those words standing alone anywhere (citation markers removed), else none.
 */
export function parseDecision(answer: string): Decision | undefined {
  const text = withoutInstructionEcho(answer.replace(/\[\d+(?:\s*,\s*\d+)*\]/g, ' ')).toLowerCase();
  const first = /^[\s"'“*_#>.,:;-]*(yes|no|maybe)\b/.exec(text);
  if (first) return first[1] as Decision;
  const anywhere = /\b(yes|no|maybe)\b/.exec(text);
  return anywhere ? (anywhere[1] as Decision) : undefined;
}
