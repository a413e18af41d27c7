import { describe, expect, it } from '@jest/globals';
import { attributeSources } from './attribution.js';

const sources = [
  {
    number: 1,
    text:
      'Ilya’s Papers to Carmack: VLAEs\nIf we are learning a car classifier, we want it to be the case that the ' +
      'school buses are close to the trucks and far from the motorcycles. Since we only have a limited amount of ' +
      'data, though, the model may end up learning a classifier that has the buses next to Ferraris, or whatever.',
  },
  { number: 2, text: 'WTF? What’s The Future?\nThe future of work is augmented by machines, not replaced.' },
];

describe('attributeSources', () => {
  it('credits an answer whose sentences come from a source, naming that source', () => {
    // Qwen2.5-Coder-0.5B's answer to the README's demo question, which cited nothing.
    const answer =
      'A car classifier would put school buses next to Ferraris because it wants the school buses to be close ' +
      'to the trucks and far from the motorcycles. Since we only have a limited amount of data, though, the ' +
      'model may end up learning a classifier that has the buses next to Ferraris, or whatever.';
    expect(attributeSources(answer, sources)).toEqual({ cited: [1], sentences: 2, found: 2 });
  });

  it('names every source a found sentence comes from', () => {
    const answer =
      'The school buses should be close to the trucks, far from the motorcycles. The future of work is ' +
      'augmented by machines.';
    expect(attributeSources(answer, sources).cited).toEqual([1, 2]);
  });

  it('credits nothing when fewer than half the sentences are found', () => {
    const answer =
      'School buses are close to the trucks and far from the motorcycles. Buses are a type of transportation ' +
      'that moves people between cities. Transportation engineering studies trains and drones.';
    expect(attributeSources(answer, sources)).toEqual({ cited: [], sentences: 3, found: 1 });
  });

  it('does not judge sentences too short to say where they come from', () => {
    expect(attributeSources('Yes.', sources)).toEqual({ cited: [], sentences: 0, found: 0 });
    expect(attributeSources('Yes. The buses sit next to Ferraris with limited data.', sources).cited).toEqual(
      [1],
    );
  });

  it('ignores words that carry no content when matching', () => {
    // Stopwords alone would match any source.
    expect(attributeSources('It is what it would have been, and they were there.', sources).sentences).toBe(
      0,
    );
  });
});
