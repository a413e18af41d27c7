import { describe, expect, it } from '@jest/globals';
import { FUNCTION_WORDS, jensenShannon, styleDistance, styleProfile } from './stylometry.js';

const terse = [
  'Ship it. Measure. Then fix what broke! Small steps win. I never wait for perfect.',
  'Tests first. Code second. Done.',
];
const ornate = [
  'When one considers, as I have often done over the long winters of my career, the manner in which a ' +
    'system grows, one is struck by the quiet persistence of its oldest decisions, which linger, like ' +
    'furniture in an inherited house, long after anyone remembers why they were placed where they are.',
];

describe('jensenShannon', () => {
  it('is 0 for the same distribution, whatever the scale of the counts', () => {
    expect(jensenShannon([1, 2, 3], [10, 20, 30])).toBeCloseTo(0, 12);
  });

  it('is 1 bit for distributions without overlap, and symmetric', () => {
    expect(jensenShannon([1, 0], [0, 1])).toBeCloseTo(1, 12);
    expect(jensenShannon([3, 1, 0], [0, 1, 3])).toBeCloseTo(jensenShannon([0, 1, 3], [3, 1, 0]), 12);
  });

  it('matches a value worked by hand', () => {
    // P = (1/2, 1/2), Q = (1, 0), M = (3/4, 1/4):
    // ½[½·log2(½/¾) + ½·log2(½/¼)] + ½[1·log2(1/¾)] = ½[½·(−0.58496) + ½·1] + ½·0.41504 = 0.31128
    expect(jensenShannon([1, 1], [1, 0])).toBeCloseTo(0.311278, 5);
  });

  it('says both-empty is no difference and one-empty is the most there can be', () => {
    expect(jensenShannon([0, 0], [0, 0])).toBe(0);
    expect(jensenShannon([0, 0], [2, 1])).toBe(1);
  });

  it('refuses distributions of different lengths', () => {
    expect(() => jensenShannon([1], [1, 2])).toThrow(/differ in length/);
  });
});

describe('styleProfile', () => {
  it('counts function words, sentence lengths, word lengths and punctuation', () => {
    const p = styleProfile(['I think the cat sat. It sat on the mat, I think!']);
    expect(p.words).toBe(12);
    expect(p.functionWords[FUNCTION_WORDS.indexOf('the')]).toBe(2);
    expect(p.functionWords[FUNCTION_WORDS.indexOf('i')]).toBe(2);
    expect(p.functionWords[FUNCTION_WORDS.indexOf('on')]).toBe(1);
    // Two sentences of 5 and 7 words: the 1–5 and 6–10 bins.
    expect(p.sentenceLengths.slice(0, 2)).toEqual([1, 1]);
    // one-letter words: I, I; three letters: the, cat, sat, sat, the, mat
    expect(p.wordLengths[0]).toBe(2);
    expect(p.wordLengths[2]).toBe(6);
    // , . ! then the word count in the last bucket
    expect(p.punctuation.slice(0, 2)).toEqual([1, 1]);
    expect(p.punctuation[4]).toBe(1);
    expect(p.punctuation.at(-1)).toBe(12);
  });

  it('treats line breaks as sentence ends and typographic marks as plain ones', () => {
    const p = styleProfile(['A heading\nA line without a stop “quoted” — dashed']);
    expect(p.sentenceLengths[0]).toBe(1); // "A heading"
    expect(p.sentenceLengths[1]).toBe(1); // 7 words
    expect(p.punctuation[8]).toBe(2); // the two curly quotes as "
    expect(p.punctuation[6]).toBe(1); // the em dash as -
  });
});

describe('styleDistance', () => {
  it('is 0 for the same texts and stays within 0..1', () => {
    expect(styleDistance(terse, terse).distance).toBe(0);
    const d = styleDistance(terse, ornate);
    expect(d.distance).toBeGreaterThan(0);
    expect(d.distance).toBeLessThanOrEqual(1);
  });

  it('is the mean of its four components', () => {
    const d = styleDistance(terse, ornate);
    expect(d.distance).toBeCloseTo(
      (d.functionWords + d.sentenceLengths + d.wordLengths + d.punctuation) / 4,
      12,
    );
  });

  it('puts text in the author’s manner nearer to the author than text in another manner', () => {
    const moreTerse = ['Cut scope. Ship on Friday. Learn from users! Repeat.', 'No meetings. Just build it.'];
    const toTerse = styleDistance(moreTerse, terse).distance;
    const toOrnate = styleDistance(moreTerse, ornate).distance;
    expect(toTerse).toBeLessThan(toOrnate);
  });

  it('is the largest distance for answers with no words at all', () => {
    expect(styleDistance(['', '   '], terse).distance).toBe(1);
  });

  it('is deterministic', () => {
    expect(styleDistance(ornate, terse)).toEqual(styleDistance(ornate, terse));
  });
});
