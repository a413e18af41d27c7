// The chat's transcript: what each turn holds, kept in session storage per author so that a reload (or a visit
// to another page) keeps the conversation, and the earlier turns sent with the next question as history.
import type { inferencev1 } from '@llmtwin/contracts/web';

export interface Source {
  /** The number the answer cites it by: [1], [2], ... */
  index: number;
  title: string;
  url: string;
  /** Publication time in ms since the epoch; undefined when unknown. */
  published?: number;
  /** The opening words of the best passage of it that the answer was given. */
  snippet: string;
}

export type TurnStatus = 'streaming' | 'done' | 'stopped' | 'failed';

export interface Turn {
  id: string;
  question: string;
  answer: string;
  sources: Source[];
  status: TurnStatus;
  generationId: string;
  model: string;
  finishReason: string;
  /** "repetition" or "no_citations" when quotes of the sources replaced the model's answer. */
  fallback: string;
  /** True when the answer quotes the sources instead of being generated. */
  extractive: boolean;
  /** The model's own answer when quotes replaced it (fallback set), for a look at what was withdrawn. */
  modelAnswer?: string;
  /** The model cited nothing; the router named the sources its sentences were found in. */
  citationsAttributed?: boolean;
}

/** At most this many turns are kept per author (the oldest go first). */
const MAX_KEPT_TURNS = 50;
/** The API takes at most 50 history messages and 32,000 characters of them; stay below both. */
const MAX_HISTORY_MESSAGES = 20;
const MAX_HISTORY_CHARS = 24_000;

const itemFor = (authorId: string) => `llmtwin.chat.${authorId}`;

export function loadTurns(authorId: string): Turn[] {
  if (!authorId) return [];
  try {
    const raw = sessionStorage.getItem(itemFor(authorId));
    if (!raw) return [];
    const turns = JSON.parse(raw) as Turn[];
    if (!Array.isArray(turns)) return [];
    // An answer that was still streaming when the page went away was cut off there.
    return turns.map((t) => (t.status === 'streaming' ? { ...t, status: 'stopped' } : t));
  } catch {
    return [];
  }
}

export function saveTurns(authorId: string, turns: Turn[]): void {
  if (!authorId) return;
  try {
    if (turns.length === 0) sessionStorage.removeItem(itemFor(authorId));
    else sessionStorage.setItem(itemFor(authorId), JSON.stringify(turns.slice(-MAX_KEPT_TURNS)));
  } catch {
    // Storage full or refused: the conversation still lives in the page until it is reloaded.
  }
}

/** The earlier turns with an answer, oldest first, as the request's history (the recent ones, within limits). */
export function historyOf(turns: Turn[]): { role: string; content: string }[] {
  const messages: { role: string; content: string }[] = [];
  let chars = 0;
  for (const t of [...turns].reverse()) {
    if (t.status === 'streaming' || t.answer.trim() === '') continue;
    const size = t.question.length + t.answer.length;
    if (messages.length + 2 > MAX_HISTORY_MESSAGES || chars + size > MAX_HISTORY_CHARS) break;
    chars += size;
    messages.unshift({ role: 'user', content: t.question }, { role: 'assistant', content: t.answer });
  }
  return messages;
}

export function toSources(citations: inferencev1.Citation[]): Source[] {
  return citations.map((c) => {
    const published = c.publishTime ? Number(c.publishTime.seconds) * 1000 : 0;
    return {
      index: c.index,
      title: c.title,
      url: c.url,
      ...(published > 0 ? { published } : {}),
      snippet: c.passages[0]?.snippet ?? '',
    };
  });
}

let counter = 0;
export const newTurnId = (): string => `t${Date.now().toString(36)}${(counter++).toString(36)}`;
