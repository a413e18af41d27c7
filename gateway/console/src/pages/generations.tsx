// Generations: the monitoring record of every answer the twin gave — a searchable list (newest first), one
// record in full at #/generations/<id>, and for admin keys the alerts that fired on llmtwin.alerts.v1.
//
// Every filter is ListGenerations' own (author, model, since/until, query_contains), applied by the API, which
// pages newest first. With text to match, the API reads a bounded number of records per call, so a page may
// hold few records (or none) while there are older ones to search: "Load more" goes on from where it stopped.
import './generations.css';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { inferencev1 } from '@llmtwin/contracts/web';
import { api, describeError } from '../api';
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

/** Records per page. */
const PAGE_SIZE = 50;
/** ListGenerations refuses a longer query_contains. */
const MAX_TEXT = 200;
/** datetime-local inputs pick whole minutes: "To" includes its minute, and the API's `until` is exclusive. */
const MINUTE_MS = 60_000;

const localMs = (value: string): number | undefined => {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : ms;
};

const filtered = (f: Filters): boolean =>
  f.author !== '' || f.model !== '' || f.from !== '' || f.to !== '' || f.text.trim() !== '';

interface Results {
  rows: inferencev1.Generation[];
  /** Where "Load more" goes on; empty when there is nothing older. */
  next: string;
}

async function search(caller: Caller, f: Filters, pageToken: string, signal: AbortSignal): Promise<Results> {
  const since = localMs(f.from);
  const to = localMs(f.to);
  const text = f.text.trim();
  const res = await api.inference.listGenerations(
    {
      authorId: caller.admin ? f.author : caller.authorId,
      model: f.model,
      queryContains: text,
      ...(since !== undefined ? { since: timestampFromMs(since) } : {}),
      ...(to !== undefined ? { until: timestampFromMs(to + MINUTE_MS) } : {}),
      page: { pageSize: PAGE_SIZE, pageToken },
    },
    { signal },
  );
  return { rows: res.generations, next: res.page?.nextPageToken ?? '' };
}

/** The filter an API error names (ListGenerations refuses a bad `until` or `query_contains`), to show it there. */
function refusedField(err: unknown): 'to' | 'text' | undefined {
  if (err === undefined) return undefined;
  const message = describeError(err);
  if (/\bquery_contains\b/.test(message)) return 'text';
  if (/\buntil\b/.test(message)) return 'to';
  return undefined;
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
      setResults(more ? { rows: [...more.rows, ...page.rows], next: page.next } : page);
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
  const searchError = error?.at === 'search' ? error.error : undefined;
  const searchErrorAt = refusedField(searchError);
  const textSearched = applied.text.trim() !== '';
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
            hint="Answered at or before (that whole minute)."
            error={toError ? new Error(toError) : searchErrorAt === 'to' ? searchError : undefined}
          >
            {(props) => <input {...props} type="datetime-local" value={draft.to} onInput={set('to')} />}
          </Field>
          <Field
            label="Question or answer contains"
            id="gen-text"
            hint="Text as typed, not case-sensitive."
            error={searchErrorAt === 'text' ? searchError : undefined}
          >
            {(props) => (
              <input {...props} type="search" maxLength={MAX_TEXT} value={draft.text} onInput={set('text')} />
            )}
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
        {searchError !== undefined && searchErrorAt === undefined ? <ErrorNote error={searchError} /> : null}
      </Section>

      <Section title="Records" id="generation-records">
        <p class="muted" role="status" aria-live="polite">
          {rows === undefined
            ? ''
            : `${rows.length} generation${rows.length === 1 ? '' : 's'}${
                results!.next
                  ? textSearched
                    ? '; older records are left to search with “Load more”'
                    : '; older ones with “Load more”'
                  : ''
              }.`}
        </p>
        {rows === undefined ? (
          busy ? (
            <Loading what="generations" />
          ) : null
        ) : rows.length === 0 ? (
          <p>
            {results!.next
              ? 'No match among the newest records searched: “Load more” searches older ones.'
              : filtered(applied)
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
