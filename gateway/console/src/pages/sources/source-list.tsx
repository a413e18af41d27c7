// ListSources with what each one needs at a glance (schedule, next crawl, health) and its actions: crawl now,
// pause or resume, and remove, after a dialog that says exactly what goes (with purge: its documents too).
import { ingestv1 } from '@llmtwin/contracts/web';
import { useState } from 'preact/hooks';
import { api } from '../../api';
import { ConfirmDialog, ErrorNote, formatTime, Loading, OkNote, TableWrap, useLoad } from '../../ui';
import { describeSchedule, KIND_LABELS, PLATFORM_LABELS } from './common';

const PAGE_SIZE = 50;

interface RowNote {
  error?: unknown;
  message?: string;
}

export function SourceList({
  authorId,
  version,
  showAuthor,
  onChanged,
}: {
  /** '' for every author (admin keys). */
  authorId: string;
  version: number;
  showAuthor: boolean;
  /** After a removal with purge: the documents changed too. */
  onChanged: () => void;
}) {
  const [tokens, setTokens] = useState<string[]>(['']);
  const token = tokens[tokens.length - 1] ?? '';
  const list = useLoad(
    (signal) =>
      api.ingest.listSources({ authorId, page: { pageSize: PAGE_SIZE, pageToken: token } }, { signal }),
    [authorId, token, version],
    15_000,
  );
  const [busy, setBusy] = useState<Record<string, boolean>>({});
  const [notes, setNotes] = useState<Record<string, RowNote>>({});
  const [removing, setRemoving] = useState<ingestv1.Source | undefined>(undefined);
  const [purge, setPurge] = useState(false);
  const [removed, setRemoved] = useState('');

  const act = async (source: ingestv1.Source, what: () => Promise<string>) => {
    setBusy((b) => ({ ...b, [source.id]: true }));
    setNotes((n) => ({ ...n, [source.id]: {} }));
    try {
      const message = await what();
      setNotes((n) => ({ ...n, [source.id]: { message } }));
      await list.reload();
    } catch (err) {
      setNotes((n) => ({ ...n, [source.id]: { error: err } }));
    } finally {
      setBusy((b) => ({ ...b, [source.id]: false }));
    }
  };

  // A full crawl reads the whole listing and finds deletions; a plain one fetches only what is new.
  const crawl = (s: ingestv1.Source, full = false) =>
    act(s, async () => {
      const { job } = await api.ingest.crawlNow({ target: { case: 'sourceId', value: s.id }, full });
      return `${full ? 'Full crawl' : 'Crawl'} job ${job?.id ?? ''} ${job ? 'queued' : 'started'}.`;
    });
  const pause = (s: ingestv1.Source) =>
    act(s, async () => {
      await api.ingest.pauseSource({ id: s.id });
      return 'Paused: no scheduled crawls until resumed.';
    });
  const resume = (s: ingestv1.Source) =>
    act(s, async () => {
      await api.ingest.resumeSource({ id: s.id });
      return 'Resumed.';
    });

  const askRemove = (s: ingestv1.Source) => {
    setPurge(false);
    setRemoved('');
    setRemoving(s);
  };
  const confirmRemove = () => {
    const s = removing;
    if (!s) return;
    const withDocs = purge;
    setRemoving(undefined);
    void act(s, async () => {
      await api.ingest.removeSource({ id: s.id, purgeDocuments: withDocs });
      setRemoved(
        withDocs
          ? `Removed the source ${s.url} and deleted its ${s.documentCount} documents.`
          : `Removed the source ${s.url}; its ${s.documentCount} documents were kept.`,
      );
      if (withDocs) onChanged();
      return '';
    });
  };

  const sources = list.data?.sources ?? [];
  const next = list.data?.page?.nextPageToken ?? '';
  return (
    <>
      <OkNote message={removed} class="sources-wrap" />
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? <Loading what="sources" /> : null}
      {list.data && sources.length === 0 ? (
        <p class="muted">No sources{tokens.length > 1 ? ' on this page' : ' yet: add one above'}.</p>
      ) : null}
      {sources.length > 0 ? (
        <TableWrap label="Sources, scrollable">
          <table aria-label="Sources">
            <thead>
              <tr>
                <th scope="col">Source</th>
                {showAuthor ? <th scope="col">Author</th> : null}
                <th scope="col">Schedule</th>
                <th scope="col">Next crawl</th>
                <th scope="col">Health</th>
                <th scope="col">Documents</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {sources.map((s) => {
                const archive = s.kind === ingestv1.SourceKind.ARCHIVE;
                const note = notes[s.id];
                return (
                  <tr key={s.id}>
                    <td class="sources-wrap">
                      <span class="sources-url">{s.url}</span>
                      <br />
                      <small class="muted">
                        {KIND_LABELS[s.kind]}
                        {PLATFORM_LABELS[s.platform] ? ` · ${PLATFORM_LABELS[s.platform]}` : ''}
                        {s.gitRef ? ` · ref ${s.gitRef}` : ''}
                      </small>
                      {s.coverage?.partial ? (
                        <>
                          <br />
                          <small class="warn">{s.coverage.note}</small>
                        </>
                      ) : null}
                    </td>
                    {showAuthor ? <td class="sources-wrap">{s.authorId}</td> : null}
                    <td class="sources-wrap">{archive ? 'imported once' : describeSchedule(s)}</td>
                    <td>
                      {s.paused ? (
                        <span class="badge warn">paused</span>
                      ) : s.nextCrawlTime ? (
                        formatTime(s.nextCrawlTime)
                      ) : (
                        '—'
                      )}
                    </td>
                    <td class="sources-wrap">
                      <Health source={s} />
                    </td>
                    <td>{String(s.documentCount)}</td>
                    <td>
                      <div class="sources-actions">
                        {!archive ? (
                          <button
                            type="button"
                            disabled={busy[s.id]}
                            onClick={() => void crawl(s)}
                            aria-label={`Crawl now: ${s.url}`}
                          >
                            Crawl now
                          </button>
                        ) : null}
                        {!archive ? (
                          <button
                            type="button"
                            disabled={busy[s.id]}
                            onClick={() => void crawl(s, true)}
                            aria-label={`Full crawl: ${s.url}`}
                            title="Read the whole listing and find deleted posts"
                          >
                            Full crawl
                          </button>
                        ) : null}
                        {!archive ? (
                          s.paused ? (
                            <button
                              type="button"
                              disabled={busy[s.id]}
                              onClick={() => void resume(s)}
                              aria-label={`Resume: ${s.url}`}
                            >
                              Resume
                            </button>
                          ) : (
                            <button
                              type="button"
                              disabled={busy[s.id]}
                              onClick={() => void pause(s)}
                              aria-label={`Pause: ${s.url}`}
                            >
                              Pause
                            </button>
                          )
                        ) : null}
                        <button
                          type="button"
                          class="danger"
                          disabled={busy[s.id]}
                          onClick={() => askRemove(s)}
                          aria-label={`Remove: ${s.url}`}
                        >
                          Remove
                        </button>
                      </div>
                      <ErrorNote error={note?.error} />
                      <OkNote message={note?.message} class="sources-wrap" />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      {tokens.length > 1 || next ? (
        <div class="row sources-pager">
          <button
            type="button"
            disabled={tokens.length <= 1}
            onClick={() => setTokens((t) => t.slice(0, -1))}
          >
            Previous sources
          </button>
          <button type="button" disabled={!next} onClick={() => setTokens((t) => [...t, next])}>
            Next sources
          </button>
        </div>
      ) : null}
      <ConfirmDialog
        open={removing !== undefined}
        title="Remove this source?"
        confirmLabel={purge ? 'Remove source and delete its documents' : 'Remove source'}
        onConfirm={confirmRemove}
        onCancel={() => setRemoving(undefined)}
      >
        {removing ? (
          <>
            <p class="sources-wrap">
              The source <strong>{removing.url}</strong> of author <strong>{removing.authorId}</strong> will
              be removed: it is no longer crawled, on schedule or on demand.
            </p>
            <label class="sources-radio">
              <input
                type="checkbox"
                checked={purge}
                onChange={(e) => setPurge((e.target as HTMLInputElement).checked)}
              />{' '}
              Also delete its {String(removing.documentCount)} documents (purge)
            </label>
            <p>
              {purge
                ? `Its ${removing.documentCount} documents become tombstones, and the delete reaches their cleaned text, chunks and vectors: the twin stops answering from them.`
                : `Its ${removing.documentCount} documents stay in the warehouse and the twin keeps using them.`}
            </p>
          </>
        ) : null}
      </ConfirmDialog>
    </>
  );
}

function Health({ source: s }: { source: ingestv1.Source }) {
  if (s.consecutiveFailures > 0n) {
    return (
      <span class="error">
        Failing ({String(s.consecutiveFailures)} in a row
        {s.failingSince ? ` since ${formatTime(s.failingSince)}` : ''}): {s.lastError}
      </span>
    );
  }
  if (s.lastSuccessTime) return <span class="ok">OK, last crawl {formatTime(s.lastSuccessTime)}</span>;
  if (s.lastCrawlTime) return <span>Last crawl {formatTime(s.lastCrawlTime)}</span>;
  if (s.kind === ingestv1.SourceKind.ARCHIVE) return <span class="muted">—</span>;
  return <span class="muted">Not crawled yet</span>;
}
