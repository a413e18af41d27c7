import { describe, expect, it } from '@jest/globals';
import { DENSE_FEATURES } from './block-features.js';
import {
  RULES_ONLY_MODEL,
  SHIPPED_MODEL,
  blockProbability,
  keepBlock,
  parseBlockModel,
  type BlockModel,
} from './block-model.js';
import { analysePage, chooseContent, extractMainContent } from './main-content.js';

const prose = (n: number): string =>
  `Sentence ${n} of the article says something plain about the subject, long enough to read as prose.`;

const page = `<html><head><title>T</title></head><body>
<div class="siteHeader top-bar_2"><a href="/">Home</a> | <a href="/news">News</a> | <a href="/sport">Sport</a></div>
<div class="ArticleBody"><p>${prose(1)}</p><p>${prose(2)} With <a href="/x">one link</a> inside.</p>
<figure><p>A caption under a photograph of the harbour.</p></figure><p>${prose(3)}</p></div>
<div class="more"><p>Share</p><p>Share</p></div>
</body></html>`;

function featuresOf(html: string) {
  const a = analysePage(html);
  const find = (needle: string) => {
    const i = a.blocks.findIndex((b) => b.text.includes(needle));
    expect(i).toBeGreaterThanOrEqual(0);
    const f = a.features[i]!;
    const value = (name: (typeof DENSE_FEATURES)[number]): number => f.dense[DENSE_FEATURES.indexOf(name)]!;
    return { f, value };
  };
  return { a, find };
}

describe('blockFeatures', () => {
  const { a, find } = featuresOf(page);

  it('gives every block one value per named dense feature', () => {
    for (const f of a.features) expect(f.dense).toHaveLength(DENSE_FEATURES.length);
  });

  it('measures link density and separator-made menus', () => {
    const menu = find('Home');
    expect(menu.value('linkDensity')).toBeGreaterThan(0.5);
    expect(menu.value('mostlyLinks')).toBe(1);
    expect(menu.value('pipeOrBullet')).toBeGreaterThan(0);
    const paragraph = find('one link');
    expect(paragraph.value('linkDensity')).toBeGreaterThan(0);
    expect(paragraph.value('linkDensity')).toBeLessThan(0.1);
    expect(find('Sentence 1').value('noLinks')).toBe(1);
  });

  it('places blocks relative to the container the rules chose, and carries their verdict', () => {
    const menu = find('Home');
    expect(menu.f.ruleKept).toBe(false);
    expect(menu.value('beforeContainer')).toBe(1);
    const body = find('Sentence 2');
    expect(body.f.ruleKept).toBe(true);
    expect(body.value('inContainer')).toBe(1);
    expect(body.value('prevRuleKept')).toBe(1);
    expect(find('Share').value('afterContainer')).toBe(1);
  });

  it('flags figures, repeated lines and sentence endings', () => {
    expect(find('caption under').value('inFigure')).toBe(1);
    expect(find('Share').value('repeated')).toBe(1);
    expect(find('Sentence 3').value('sentenceEnd')).toBe(1);
    expect(find('Sentence 3').value('repeated')).toBe(0);
  });

  it('reads class/id tokens split on separators and camelCase, without digits or single letters', () => {
    const menu = find('Home');
    expect(menu.f.sparse).toEqual(expect.arrayContaining(['c:site', 'c:header', 'c:top', 'c:bar']));
    expect(menu.f.sparse.some((t) => /\d/.test(t) || t === 'c:2')).toBe(false);
    expect(find('Sentence 1').f.sparse).toEqual(expect.arrayContaining(['c:article', 'c:body']));
  });

  it('counts capitals among letters in any script, a surrogate pair as one letter', () => {
    const { find: inPage } = featuresOf(
      `<html><body><p>ÄÖÜ straße ÉCOLE</p><p>ab\u{1D400}\u{1D41A}</p><p>日本語の記事</p><p>READ MORE</p></body></html>`,
    );
    // Ä Ö Ü É C O L E of 8 + 6 letters; 𝐀 (a mathematical capital) is one capital among 4 letters.
    expect(inPage('straße').value('upperShare')).toBeCloseTo(8 / 14, 6);
    expect(inPage('ab').value('upperShare')).toBeCloseTo(1 / 4, 6);
    expect(inPage('日本語').value('upperShare')).toBe(0);
    expect(inPage('READ MORE').value('upperShare')).toBe(1);
  });

  it('takes words as features from short blocks only', () => {
    expect(find('Share').f.sparse).toContain('w:share');
    expect(find('Sentence 1').f.sparse.some((t) => t.startsWith('w:'))).toBe(false);
  });
});

describe('furniture class hints', () => {
  const hinted = `<html><body><article>
<p>${prose(1)} <span class="byline">By Someone Important</span> and the sentence ends here.</p>
<ol><li>first item of the list</li><li class="ad">an advert posing as an item</li><li>second item of the list</li></ol>
<p>${prose(2)}</p>
<div class="paywall"><p>${prose(3)} This paragraph sits under a class that names furniture.</p></div>
</article></body></html>`;
  const a = analysePage(hinted);
  const block = (needle: string) => a.blocks.find((b) => b.text.includes(needle))!;

  it('walks block-level furniture and marks its blocks instead of dropping them', () => {
    const under = block('names furniture');
    expect(under.hinted).toBe(true);
    const i = a.blocks.indexOf(under);
    expect(a.features[i]!.ruleKept).toBe(false);
    expect(a.features[i]!.dense[DENSE_FEATURES.indexOf('hinted')]).toBe(1);
    expect(block('Sentence 1').hinted).toBe(false);
  });

  it('leaves the rules and the text around furniture as if it had been skipped', () => {
    // Inline furniture stays out of the paragraph; a furniture list item takes no number.
    expect(block('Sentence 1').text).toMatch(/prose\. and the sentence ends here\.$/);
    expect(a.blocks.some((b) => b.text.includes('By Someone'))).toBe(false);
    expect(block('second item').index).toBe(2);
    expect(block('advert').hinted).toBe(true);
    const rules = chooseContent(a, RULES_ONLY_MODEL).text;
    expect(rules).toContain('1. first item of the list\n2. second item of the list');
    expect(rules).not.toContain('names furniture');
  });
});

describe('block model', () => {
  // Hand-set weights, to test the decision rule itself (the shipped weights are learnt).
  const handSet = (ruleMargin: number): BlockModel => ({
    threshold: 0.5,
    ruleMargin,
    bias: Math.log(0.4 / 0.6), // every block scores 0.4 when no weight applies
    weights: {},
  });
  const { a } = featuresOf(page);
  const kept = a.features.find((f) => f.ruleKept)!;
  const dropped = a.features.find((f) => !f.ruleKept)!;

  it('overrules the rules only by more than the margin', () => {
    expect(blockProbability(handSet(0), kept)).toBeCloseTo(0.4);
    expect(keepBlock(handSet(0), kept)).toBe(false);
    expect(keepBlock(handSet(0.2), kept)).toBe(true);
    const sure: BlockModel = { ...handSet(0.2), bias: Math.log(0.75 / 0.25) };
    expect(keepBlock(handSet(0.2), dropped)).toBe(false);
    expect(keepBlock(sure, dropped)).toBe(true);
  });

  it('adds the weights of the vocabulary tokens a block carries', () => {
    const shareIsFurniture: BlockModel = { ...handSet(0), bias: 0, weights: { 'w:share': -3 } };
    const share = a.features[a.blocks.findIndex((b) => b.text === 'Share')]!;
    expect(blockProbability(shareIsFurniture, share)).toBeCloseTo(1 / (1 + Math.exp(3)));
  });

  it('rules-only keeps exactly what the rules keep', () => {
    for (const f of a.features) expect(keepBlock(RULES_ONLY_MODEL, f)).toBe(f.ruleKept);
  });

  it('never lets a model empty a page the rules found text in', () => {
    const vetoAll: BlockModel = { threshold: 0.5, ruleMargin: 0, bias: -20, weights: {} };
    const analysed = analysePage(page);
    expect(chooseContent(analysed, vetoAll).text).toBe(chooseContent(analysed, RULES_ONLY_MODEL).text);
    expect(chooseContent(analysed, vetoAll).text).toContain(prose(1));
  });

  it('refuses a weights file without its fields', () => {
    expect(() => parseBlockModel('{"weights":{}}')).toThrow(/threshold/);
    expect(parseBlockModel('{"threshold":0.5,"bias":0,"weights":{"ruleKept":1}}').ruleMargin).toBe(0);
  });

  it('ships learnt weights in which link-heavy, menu-like text counts against a block', () => {
    expect(SHIPPED_MODEL.weights['linkDensity']).toBeLessThan(0);
    expect(SHIPPED_MODEL.weights['mostlyLinks']).toBeLessThan(0);
    expect(SHIPPED_MODEL.weights['ruleKept']).toBeGreaterThan(0);
    expect(extractMainContent(page, 'https://example.org/').text).not.toContain('Home');
  });
});
