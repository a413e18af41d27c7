import { describe, expect, it } from '@jest/globals';
import { detectLanguage, documentLanguage } from './language.js';

describe('language identification', () => {
  const samples: Record<string, string> = {
    en: 'The model is trained on the author’s own articles, and it answers questions in their voice with citations.',
    de: 'Das Modell wird mit den eigenen Artikeln des Autors trainiert und beantwortet Fragen in seiner Stimme, aber nicht ohne Quellen.',
    fr: 'Le modèle est entraîné sur les articles de l’auteur et il répond aux questions avec sa voix, mais pas sans les sources.',
    es: 'El modelo se entrena con los artículos del autor y responde a las preguntas con su voz, pero no sin las fuentes.',
    it: 'Il modello è addestrato sugli articoli dell’autore e risponde alle domande con la sua voce, ma non senza le fonti della ricerca.',
    pt: 'O modelo é treinado com os artigos do autor e responde às perguntas com a sua voz, mas não sem as fontes que são citadas.',
    nl: 'Het model wordt getraind op de eigen artikelen van de auteur en het beantwoordt vragen met zijn stem, maar niet zonder bronnen.',
    ru: 'Модель обучается на собственных статьях автора и отвечает на вопросы его голосом.',
    ja: 'このモデルは著者自身の記事で学習し、著者の声で質問に答えます。',
    zh: '该模型使用作者自己的文章进行训练，并以作者的语气回答问题。',
  };

  for (const [lang, text] of Object.entries(samples)) {
    it(`identifies ${lang}`, () => expect(detectLanguage(text)).toBe(lang));
  }

  it('answers und for text too short or without letters', () => {
    expect(detectLanguage('Hello there')).toBe('und');
    expect(detectLanguage('12345 67890 !!!')).toBe('und');
  });

  it("prefers the document's own ISO 639-1 field, and detects when it holds something else", () => {
    expect(documentLanguage('de', samples.en!)).toBe('de');
    expect(documentLanguage('typescript', samples.en!)).toBe('en');
    expect(documentLanguage('', samples.fr!)).toBe('fr');
  });
});
