// Generations: the monitoring record of every answer the twin gave — a searchable list (newest first), one
// record in full at #/generations/<id>, and for admin keys the alerts that fired on llmtwin.alerts.v1.
//
// ListGenerations filters by author and start time (`since`) and pages newest first. The other filters here
// (model, end time, words of the question) have no field in the API, so they are matched in the browser on the
// pages it loads: up to SCAN_PAGES pages per search, and "Load more" goes on from where it stopped.
import './generations.css';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { timestampFromMs, timestampMs } from '@bufbuild/protobuf/wkt';
import type { inferencev1 } from '@llmtwin/contracts';
import { api } from '../api';
import type { Caller, PageProps } from '../types';
import { ErrorNote, Field, Loading, PageHeader, Section, formatTime, useLoad } from '../ui';
import { AlertsSection } from './generations/alerts';
import { formatMs, formatTokens } from './generations/format';
import { GenerationRecord } from './generations/record';

export function GenerationsPage({ caller, param }: PageProps) {
  return (
    <>
      <PageHeader title="Generations" />
      {param ? (
        <GenerationRecord id={param} />
      ) : (
        <>
          <GenerationList caller={caller} />
          {caller.admin ? <AlertsSection /> : null}
        </>
      )}
    </>
  );
}

interface Filters {
  author: string;
  model: string;
  /** datetime-local values (the browser's time zone); empty for no bound. */
  from: string;
  to: string;
  text: string;
}
const NO_FILTERS: Filters = { author: '', model: '', from: '', to: '', text: '' };

/** Records per page when every filter is the API's; per scanned page when some are matched here. */
const PAGE_SIZE = 50;
const SCAN_PAGE_SIZE = 200;
const SCAN_PAGES = 5;

const localMs = (value: string): number | undefined => {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : ms;
};

const matchedHere = (f: Filters): boolean => f.model !== '' || f.to !== '' || f.text.trim() !== '';

function matches(g: inferencev1.Generation, f: Filters): boolean {
  if (f.model && g.model !== f.model) return false;
  const to = localMs(f.to);
  if (to !== undefined && g.createTime && timestampMs(g.createTime) > to) return false;
  const words = f.text.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const query = g.query.toLowerCase();
  return words.every((w) => query.includes(w));
}

interface Results {
  rows: inferencev1.Generation[];
  /** Records read from the API, matched or not. */
  scanned: number;
  /** Where "Load more" goes on; empty when there is nothing older. */
  next: string;
}

async function search(caller: Caller, f: Filters, pageToken: string, signal: AbortSignal): Promise<Results> {
  const since = localMs(f.from);
  const authorId = caller.admin ? f.author : caller.authorId;
  const scanning = matchedHere(f);
  const rows: inferencev1.Generation[] = [];
  let scanned = 0;
  let next = pageToken;
  for (let pages = 0; pages < (scanning ? SCAN_PAGES : 1); pages++) {
    const res = await api.inference.listGenerations(
      {
        authorId,
        ...(since !== undefined ? { since: timestampFromMs(since) } : {}),
        page: { pageSize: scanning ? SCAN_PAGE_SIZE : PAGE_SIZE, pageToken: next },
      },
      { signal },
    );
    scanned += res.generations.length;
    rows.push(...res.generations.filter((g) => matches(g, f)));
    next = res.page?.nextPageToken ?? '';
    if (!next || rows.length >= PAGE_SIZE) break;
  }
  return { rows, scanned, next };
}

function GenerationList({ caller }: { caller: Caller }) {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [applied, setApplied] = useState<Filters>(NO_FILTERS);
  const [results, setResults] = useState<Results | undefined>(undefined);
  const [busy, setBusy] = useState<'search' | 'more' | undefined>(undefined);
  const [error, setError] = useState<{ at: 'search' | 'more'; error: unknown } | undefined>(undefined);
  const [toError, setToError] = useState<string | undefined>(undefined);
  const running = useRef<AbortController | undefined>(undefined);

  const run = async (f: Filters, more: Results | undefined) => {
    running.current?.abort();
    const controller = new AbortController();
    running.current = controller;
    const at = more ? 'more' : 'search';
    setBusy(at);
    try {
      const page = await search(caller, f, more?.next ?? '', controller.signal);
      if (controller.signal.aborted) return;
      setResults(
        more
          ? { rows: [...more.rows, ...page.rows], scanned: more.scanned + page.scanned, next: page.next }
          : page,
      );
      setError(undefined);
    } catch (err) {
      if (!controller.signal.aborted) setError({ at, error: err });
    } finally {
      if (running.current === controller) {
        running.current = undefined;
        setBusy(undefined);
      }
    }
  };

  useEffect(() => {
    void run(applied, undefined);
  }, [applied]);
  useEffect(() => () => running.current?.abort(), []);

  const authors = useLoad(
    async (signal) =>
      caller.admin ? (await api.ingest.listAuthors({ page: { pageSize: 500 } }, { signal })).authors : [],
    [caller.admin],
  );
  const models = useLoad(
    async (signal) => (await api.inference.listModels({}, { signal })).models.map((m) => m.id),
    [],
  );
  const modelOptions = useMemo(() => {
    const seen = new Set<string>(models.data ?? []);
    for (const g of results?.rows ?? []) if (g.model) seen.add(g.model);
    if (draft.model) seen.add(draft.model);
    return [...seen].sort();
  }, [models.data, results, draft.model]);

  const set = (key: keyof Filters) => (e: Event) =>
    setDraft({ ...draft, [key]: (e.target as HTMLInputElement | HTMLSelectElement).value });

  const submit = (e: Event) => {
    e.preventDefault();
    const from = localMs(draft.from);
    const to = localMs(draft.to);
    if (from !== undefined && to !== undefined && to < from) {
      setToError('“To” is before “From”: no generation can match.');
      return;
    }
    setToError(undefined);
    setApplied({ ...draft });
  };
  const clear = () => {
    setToError(undefined);
    setDraft(NO_FILTERS);
    setApplied({ ...NO_FILTERS });
  };

  const rows = results?.rows;
  const scanning = matchedHere(applied);
  return (
    <>
      <Section title="Search" id="generation-search">
        <form class="gen-filters" onSubmit={submit} aria-label="Search generations">
          {caller.admin ? (
            <Field
              label="Author"
              id="gen-author"
              error={authors.error}
              hint={authors.data === undefined && !authors.error ? 'Loading authors…' : undefined}
            >
              {(props) => (
                <select {...props} value={draft.author} onChange={set('author')}>
                  <option value="">All authors</option>
                  {(authors.data ?? []).map((a) => (
                    <option key={a.id} value={a.id}>
                      {a.displayName ? `${a.displayName} (${a.id})` : a.id}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ) : (
            <p class="field">
              <span class="gen-label">Author</span>
              <span class="wrap-anywhere">{caller.authorId} (your key's author)</span>
            </p>
          )}
          <Field label="Model" id="gen-model" error={models.error}>
            {(props) => (
              <select {...props} value={draft.model} onChange={set('model')}>
                <option value="">Any model</option>
                {modelOptions.map((m) => (
                  <option key={m} value={m}>
                    {m}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="From" id="gen-from" hint="Answered at or after (your time zone).">
            {(props) => <input {...props} type="datetime-local" value={draft.from} onInput={set('from')} />}
          </Field>
          <Field
            label="To"
            id="gen-to"
            hint="Answered at or before."
            error={toError ? new Error(toError) : undefined}
          >
            {(props) => <input {...props} type="datetime-local" value={draft.to} onInput={set('to')} />}
          </Field>
          <Field label="Question contains" id="gen-text" hint="Every word, in any order; not case-sensitive.">
            {(props) => <input {...props} type="search" value={draft.text} onInput={set('text')} />}
          </Field>
          <div class="gen-actions">
            <button type="submit" class="primary" disabled={busy !== undefined}>
              {busy === 'search' ? 'Searching…' : 'Search'}
            </button>
            <button type="button" onClick={clear} disabled={busy !== undefined}>
              Clear
            </button>
          </div>
        </form>
        <p class="muted gen-note">
          Author and From are applied by the API. Model, To and the question's words are matched in this page
          on up to {SCAN_PAGES * SCAN_PAGE_SIZE} records at a time; “Load more” searches further back.
        </p>
        {error?.at === 'search' ? <ErrorNote error={error.error} /> : null}
      </Section>

      <Section title="Records" id="generation-records">
        <p class="muted" role="status" aria-live="polite">
          {rows === undefined
            ? ''
            : `${rows.length} generation${rows.length === 1 ? '' : 's'}${
                scanning ? ` matching, of ${results!.scanned} read` : ''
              }${results!.next ? '; older ones with “Load more”' : ''}.`}
        </p>
        {rows === undefined ? (
          busy ? (
            <Loading what="generations" />
          ) : null
        ) : rows.length === 0 ? (
          <p>
            {scanning || applied.author || applied.from
              ? 'No generation matches these filters.'
              : 'No generation yet: ask the twin something on the Chat page.'}
          </p>
        ) : (
          <div class="table-wrap">
            <table class="gen-table">
              <caption class="visually-hidden">Generations, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Question</th>
                  <th scope="col">Time</th>
                  <th scope="col">Author</th>
                  <th scope="col">Model</th>
                  <th scope="col">Latency</th>
                  <th scope="col">Tokens</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((g) => (
                  <tr key={g.id}>
                    <td class="cell-wide">
                      <a href={`#/generations/${encodeURIComponent(g.id)}`}>
                        {g.query || '(empty question)'}
                      </a>
                      {g.error ? <span class="badge error-badge">failed</span> : null}
                      {g.fallback ? <span class="badge warn">fallback: {g.fallback}</span> : null}
                    </td>
                    <td class="cell-time">{formatTime(g.createTime)}</td>
                    <td class="cell-id">{g.authorId}</td>
                    <td class="cell-id">{g.model || '—'}</td>
                    <td class="nowrap">{formatMs(g.usage?.totalLatencyMs ?? 0)}</td>
                    <td class="nowrap">{formatTokens(g.usage)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {results?.next ? (
          <div class="gen-more">
            <button type="button" onClick={() => void run(applied, results)} disabled={busy !== undefined}>
              {busy === 'more' ? 'Loading…' : 'Load more'}
            </button>
            {error?.at === 'more' ? <ErrorNote error={error.error} /> : null}
          </div>
        ) : null}
      </Section>
    </>
  );
}
