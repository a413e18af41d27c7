// A small language identifier for the dataset's language filter, used when a cleaned document does not carry
// an ISO 639-1 language (clean fills `language` for code only). Writing systems decide the languages that
// have their own (Greek, Hebrew, Arabic, Thai, Korean, Japanese kana, Chinese, Devanagari, Cyrillic as
// Russian); Latin-script text is scored by the share of each language's most frequent function words. It
// answers 'und' (undetermined) for text too short or too mixed to tell. Whole documents are identified,
// never single sentences: the filter keeps or drops a document's passages together.

const FUNCTION_WORDS: Record<string, readonly string[]> = {
  en: 'the and of to is in that it for with as was on are this be by not you have but from they which we or can at'.split(
    ' ',
  ),
  de: 'der die und das ist nicht ich zu den mit von sich des auf für ein eine dem auch es wir sie wird werden aber oder wie'.split(
    ' ',
  ),
  fr: 'le la les des et est une un du que pour dans pas qui sur au avec ce il sont nous vous mais ou par plus cette'.split(
    ' ',
  ),
  es: 'el la los las y que de en un una es por con para no se del lo como más pero su al está son este esta'.split(
    ' ',
  ),
  it: 'il la di che e è un una per non con del della sono si le gli da come anche ma questo nel alla'.split(
    ' ',
  ),
  pt: 'o a os as de que e do da em um uma para com não por se dos das mais mas como ao está são foi'.split(
    ' ',
  ),
  nl: 'de het een en van is dat niet op te zijn met voor die er maar ook als bij wordt aan ik je we'.split(
    ' ',
  ),
};

const SCRIPTS: readonly [RegExp, string][] = [
  [/[\u3040-\u30ff]/gu, 'ja'],
  [/\p{Script=Hangul}/gu, 'ko'],
  [/\p{Script=Han}/gu, 'zh'],
  [/\p{Script=Greek}/gu, 'el'],
  [/\p{Script=Hebrew}/gu, 'he'],
  [/\p{Script=Arabic}/gu, 'ar'],
  [/\p{Script=Thai}/gu, 'th'],
  [/\p{Script=Devanagari}/gu, 'hi'],
  [/\p{Script=Cyrillic}/gu, 'ru'],
];

export const UNDETERMINED = 'und';
/** Fewer words than this cannot be told apart reliably. */
const MIN_WORDS = 8;

/** ISO 639-1 code of the text's language, or 'und'. */
export function detectLanguage(text: string): string {
  const letters = (text.match(/\p{L}/gu) ?? []).length;
  if (letters === 0) return UNDETERMINED;
  // Kana decides Japanese even among many Han characters.
  const kana = (text.match(SCRIPTS[0]![0]) ?? []).length;
  if (kana / letters > 0.05) return 'ja';
  for (const [re, lang] of SCRIPTS.slice(1)) {
    if ((text.match(re) ?? []).length / letters > 0.3) return lang;
  }
  const words = text.toLowerCase().match(/\p{L}+/gu) ?? [];
  if (words.length < MIN_WORDS) return UNDETERMINED;
  const scores = Object.entries(FUNCTION_WORDS).map(([lang, list]) => {
    const set = new Set(list);
    let hits = 0;
    for (const w of words) if (set.has(w)) hits++;
    return { lang, share: hits / words.length };
  });
  scores.sort((a, b) => b.share - a.share || a.lang.localeCompare(b.lang));
  const [best, second] = scores;
  if (!best || best.share < 0.08) return UNDETERMINED;
  if (second && second.share > 0 && best.share / second.share < 1.25) return UNDETERMINED;
  return best.lang;
}

/** The document's language: its own field when that is an ISO 639-1 code, else the detector's answer. */
export function documentLanguage(field: string, text: string): string {
  const code = field.trim().toLowerCase();
  return /^[a-z]{2}$/.test(code) ? code : detectLanguage(text);
}
