// One question and its answer in the transcript: the answer with its numbered citations ([1]) linking to the
// cited sources, the list of sources the answer was given, a Copy button, and the link to the generation's
// record ("What was this built from?").
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Source, Turn } from './transcript';

const CITATION = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

/** The numbers the answer cites, as written ([1], [2, 3]). */
export function citedNumbers(answer: string): Set<number> {
  const cited = new Set<number>();
  for (const m of answer.matchAll(CITATION)) {
    for (const n of (m[1] ?? '').split(',')) cited.add(Number(n.trim()));
  }
  return cited;
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^www\./, '');
  } catch {
    return '';
  }
}

const dateOf = (ms: number | undefined): string =>
  ms ? new Date(ms).toLocaleDateString(undefined, { dateStyle: 'medium' }) : '';

/** The answer's text with each [n] that names a source turned into a link to it. */
function AnswerText({ text, sources }: { text: string; sources: Source[] }) {
  const byIndex = new Map(sources.map((s) => [s.index, s]));
  const parts: ComponentChildren[] = [];
  let at = 0;
  for (const m of text.matchAll(CITATION)) {
    const start = m.index;
    if (start > at) parts.push(text.slice(at, start));
    const numbers = (m[1] ?? '').split(',').map((n) => Number(n.trim()));
    for (const n of numbers) {
      const s = byIndex.get(n);
      if (s?.url) {
        parts.push(
          <a
            class="chat-cite"
            href={s.url}
            target="_blank"
            rel="noopener noreferrer"
            aria-label={`[${n}] ${s.title || hostOf(s.url)}`}
            title={s.title || s.url}
          >
            [{n}]
          </a>,
        );
      } else parts.push(`[${n}]`);
    }
    at = start + m[0].length;
  }
  if (at < text.length) parts.push(text.slice(at));
  return <div class="chat-answer-text">{parts}</div>;
}

function Sources({
  sources,
  cited,
  headingId,
}: {
  sources: Source[];
  cited: Set<number>;
  headingId: string;
}) {
  if (sources.length === 0) return null;
  return (
    <div class="chat-sources">
      <h4 id={headingId}>Sources</h4>
      <ol aria-labelledby={headingId}>
        {sources.map((s) => {
          const host = hostOf(s.url);
          const meta = [host, dateOf(s.published), cited.has(s.index) ? '' : 'not cited']
            .filter(Boolean)
            .join(' · ');
          return (
            <li key={s.index} value={s.index}>
              {s.url ? (
                <a href={s.url} target="_blank" rel="noopener noreferrer">
                  {s.title || s.url}
                </a>
              ) : (
                <span>{s.title || 'Untitled'}</span>
              )}
              {meta ? <span class="muted"> — {meta}</span> : null}
              {s.snippet ? <p class="chat-snippet muted">“{s.snippet}”</p> : null}
            </li>
          );
        })}
      </ol>
    </div>
  );
}

/** Plain text of an answer with its sources, for the clipboard. */
function clipboardText(turn: Turn): string {
  const cited = citedNumbers(turn.answer);
  const sources = turn.sources
    .filter((s) => cited.has(s.index))
    .map((s) => `[${s.index}] ${s.title}${s.url ? ` ${s.url}` : ''}`);
  return sources.length ? `${turn.answer.trim()}\n\n${sources.join('\n')}` : turn.answer.trim();
}

function CopyButton({ turn }: { turn: Turn }) {
  const [note, setNote] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = async () => {
    clearTimeout(timer.current);
    try {
      await navigator.clipboard.writeText(clipboardText(turn));
      setNote({ ok: true, text: 'Copied' });
    } catch (err) {
      setNote({ ok: false, text: `Could not copy: ${err instanceof Error ? err.message : String(err)}` });
    }
    timer.current = setTimeout(() => setNote(undefined), 6000);
  };
  return (
    <>
      <button type="button" onClick={() => void copy()} disabled={turn.answer.trim() === ''}>
        Copy<span class="visually-hidden"> the answer</span>
      </button>
      <span role="status" class={note ? (note.ok ? 'ok' : 'error') : ''}>
        {note?.text ?? ''}
      </span>
    </>
  );
}

function statusNote(turn: Turn): string {
  if (turn.status === 'stopped') return 'Stopped before the end.';
  if (turn.status === 'failed') return 'The answer was interrupted by an error.';
  // A withdrawn or extractive answer says so in its own first line.
  if (turn.status === 'done' && !turn.extractive && turn.finishReason === 'length')
    return 'The answer reached its length limit.';
  if (turn.status === 'done' && turn.citationsAttributed)
    return 'The model cited no source: the numbers after the answer name the sources its sentences were found in.';
  return '';
}

export function TurnView({ turn }: { turn: Turn }) {
  const streaming = turn.status === 'streaming';
  const cited = citedNumbers(turn.answer);
  const note = statusNote(turn);
  return (
    <article class="chat-turn" aria-labelledby={`${turn.id}-q`} aria-busy={streaming ? 'true' : undefined}>
      <h3 class="chat-question" id={`${turn.id}-q`}>
        <span class="visually-hidden">You asked: </span>
        {turn.question}
      </h3>
      <div class="chat-answer">
        <p class="chat-who muted">
          Twin{turn.model ? ` · ${turn.model}` : ''}
          {streaming ? ' · answering…' : ''}
        </p>
        {turn.answer === '' && streaming ? (
          <p class="muted">Searching the sources…</p>
        ) : (
          <AnswerText text={turn.answer} sources={turn.sources} />
        )}
        {note ? <p class={turn.status === 'failed' ? 'error' : 'muted'}>{note}</p> : null}
        {turn.fallback && turn.modelAnswer ? (
          <details class="chat-withdrawn">
            <summary>The model’s own answer (not shown above)</summary>
            <p class="chat-withdrawn-text muted">{turn.modelAnswer}</p>
          </details>
        ) : null}
      </div>
      <Sources sources={turn.sources} cited={cited} headingId={`${turn.id}-sources`} />
      {streaming ? null : (
        <div class="chat-turn-actions">
          <CopyButton turn={turn} />
          {turn.generationId ? (
            <a href={`#/generations/${encodeURIComponent(turn.generationId)}`}>What was this built from?</a>
          ) : null}
        </div>
      )}
    </article>
  );
}
