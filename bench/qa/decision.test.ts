import { describe, expect, it } from '@jest/globals';
import { parseDecision, withoutInstructionEcho } from './decision.js';

describe('parseDecision (the qa benchmark reading an answer)', () => {
  it('takes the first word when it is the decision', () => {
    expect(parseDecision('Yes')).toBe('yes');
    expect(parseDecision('No. The trial [2] found no difference.')).toBe('no');
    expect(parseDecision('**Maybe**: the sources disagree.')).toBe('maybe');
  });

  it('else the first decision word standing alone, ignoring citation markers', () => {
    expect(parseDecision('Based on [1], the answer is no; yes would overstate it.')).toBe('no');
    expect(parseDecision('Nobody knows; yesterday it was maybe.')).toBe('maybe');
  });

  it('does not read an echo of the instruction as a decision', () => {
    expect(parseDecision('maybe first, then explain.')).toBeUndefined();
    expect(parseDecision('Answer yes, no or maybe first, then explain.')).toBeUndefined();
    expect(parseDecision('yes, no or maybe first, then explain. No, it does not [1].')).toBe('no');
    expect(parseDecision('Maybe first, then explain: yes, the cold chain breaks.')).toBe('yes');
  });

  it('states nothing when no decision word stands alone', () => {
    expect(parseDecision('The sources describe vaccine storage.')).toBeUndefined();
    expect(parseDecision('')).toBeUndefined();
  });

  it('removes only runs of three or more instruction words in order', () => {
    expect(withoutInstructionEcho('No, then explain.')).toBe('No, then explain.');
    expect(
      withoutInstructionEcho('Yes. maybe first, then explain')
        .replace(/[\s,]+/g, ' ')
        .trim(),
    ).toBe('Yes.');
  });
});
