// The in-process backend's penalties: what node-llama-cpp is given for a request's DecodingPenalties.
import { describe, expect, it } from '@jest/globals';
import { DRY_WINDOW, localPenalties } from './local-backend.js';

describe('localPenalties', () => {
  it('keeps the loop-breaking defaults when nothing is set', () => {
    expect(localPenalties()).toEqual({
      repeatPenalty: { lastTokens: 64, penalty: 1.1 },
      dryRepeatPenalty: { strength: 0.8, base: 1.75, allowedLength: 2, lastTokens: DRY_WINDOW },
    });
  });

  it('takes the set values, frequency and presence included, and turns neutral ones off', () => {
    expect(localPenalties({ repeat: 1.2, frequency: 0.3, presence: 0.1, dry: 1.5 })).toEqual({
      repeatPenalty: { lastTokens: 64, penalty: 1.2, frequencyPenalty: 0.3, presencePenalty: 0.1 },
      dryRepeatPenalty: { strength: 1.5, base: 1.75, allowedLength: 2, lastTokens: DRY_WINDOW },
    });
    expect(localPenalties({ repeat: 1, dry: 0 })).toEqual({ repeatPenalty: false });
  });
});
