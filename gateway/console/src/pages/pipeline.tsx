// Pipeline page (admin keys): the services' health and their consumers' lag, refreshed live; crawl jobs; the
// dead-letter queue with each event's error and a replay per topic; alerts; and the maintenance actions
// (reprocess the cleaned snapshot, reindex the vectors with its progress).
import './pipeline.css';
import { useEffect, useState } from 'preact/hooks';
import { embedv1, gatewayv1, ingestv1 } from '@llmtwin/contracts/web';
import { api } from '../api';
import type { PageProps } from '../types';
import {
  ErrorNote,
  Field,
  Loading,
  PageHeader,
  Section,
  TableWrap,
  formatBytes,
  formatTime,
  useLoad,
} from '../ui';

const STATUS_POLL_MS = 2000;
const LIST_POLL_MS = 3000;
const REINDEX_POLL_MS = 1000;

/** "SERVING" → "serving", "NOT_SERVING" → "not serving". */
const enumWords = (name: string | undefined): string => (name ?? 'unknown').toLowerCase().replace(/_/g, ' ');

const HEALTH: Record<gatewayv1.ServiceHealth, { label: string; tone: string }> = {
  [gatewayv1.ServiceHealth.UNSPECIFIED]: { label: 'unknown', tone: 'warn' },
  [gatewayv1.ServiceHealth.SERVING]: { label: 'serving', tone: 'ok' },
  [gatewayv1.ServiceHealth.NOT_SERVING]: { label: 'not serving', tone: 'bad' },
  [gatewayv1.ServiceHealth.UNREACHABLE]: { label: 'unreachable', tone: 'bad' },
};

function HealthBadge({ health }: { health: gatewayv1.ServiceHealth }) {
  const h = HEALTH[health] ?? HEALTH[gatewayv1.ServiceHealth.UNSPECIFIED];
  return <span class={`badge tone-${h.tone}`}>{h.label}</span>;
}

/** A topic without its common prefix and version, for narrow cells; the full name stays in the title. */
const shortTopic = (topic: string): string => topic.replace(/^llmtwin\./, '').replace(/\.v\d+$/, '');

function ServicesSection() {
  const status = useLoad((signal) => api.status.getStatus({}, { signal }), [], STATUS_POLL_MS);
  const [updated, setUpdated] = useState<Date | undefined>(undefined);
  useEffect(() => {
    if (status.data) setUpdated(new Date());
  }, [status.data]);
  const data = status.data;
  return (
    <Section title="Services" id="services">
      <p class="muted">
        Health, dependencies and events waiting per consumer, refreshed every {STATUS_POLL_MS / 1000} s
        {updated ? ` (last ${updated.toLocaleTimeString()})` : ''}.
        {data ? ` Mode ${data.mode}, version ${data.version}.` : ''}
      </p>
      <ErrorNote error={status.error} />
      {!data && !status.error ? <Loading what="the services' status" /> : null}
      {data ? (
        data.services.length === 0 ? (
          <p>No services behind the gateway.</p>
        ) : (
          <TableWrap label="Services table">
            <table class="pipeline-table">
              <caption class="visually-hidden">Services behind the gateway</caption>
              <thead>
                <tr>
                  <th scope="col">Service</th>
                  <th scope="col">Health</th>
                  <th scope="col">Address</th>
                  <th scope="col">Dependencies</th>
                  <th scope="col">Consumer lag</th>
                </tr>
              </thead>
              <tbody>
                {data.services.map((s) => {
                  const lag = Object.entries(s.consumerLag);
                  return (
                    <tr key={s.name}>
                      <th scope="row">{s.name}</th>
                      <td>
                        <HealthBadge health={s.health} />
                      </td>
                      <td class="wrap">
                        <code>{s.address || '—'}</code>
                      </td>
                      <td>
                        {s.dependencies.length === 0 ? (
                          <span class="muted">—</span>
                        ) : (
                          <ul class="plain">
                            {s.dependencies.map((d) => (
                              <li key={d.name}>
                                {d.name}
                                {d.adapter ? <span class="muted"> ({d.adapter})</span> : null}:{' '}
                                <span class={d.up ? 'tone-ok' : 'tone-bad'}>{d.up ? 'up' : 'down'}</span>
                                {d.detail ? <span class="muted"> — {d.detail}</span> : null}
                              </li>
                            ))}
                          </ul>
                        )}
                      </td>
                      <td>
                        {lag.length === 0 ? (
                          <span class="muted">—</span>
                        ) : (
                          <ul class="plain">
                            {lag.map(([topic, n]) => (
                              <li key={topic} class="lag" title={topic}>
                                <span class="wrap">{shortTopic(topic)}</span>: <strong>{n.toString()}</strong>{' '}
                                waiting
                              </li>
                            ))}
                          </ul>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </TableWrap>
        )
      ) : null}
    </Section>
  );
}

function CrawlJobsSection() {
  const jobs = useLoad(
    (signal) => api.ingest.listCrawlJobs({ page: { pageSize: 25 } }, { signal }),
    [],
    LIST_POLL_MS,
  );
  const list = jobs.data?.jobs;
  return (
    <Section title="Crawl jobs" id="crawl-jobs">
      <ErrorNote error={jobs.error} />
      {!list && !jobs.error ? <Loading what="crawl jobs" /> : null}
      {list && list.length === 0 ? (
        <p class="muted">No crawl jobs yet: add a source or import an archive on Sources & documents.</p>
      ) : null}
      {list && list.length > 0 ? (
        <TableWrap label="Crawl jobs table">
          <table class="pipeline-table">
            <caption class="visually-hidden">The 25 newest crawl jobs</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">State</th>
                <th scope="col">Source</th>
                <th scope="col">Items</th>
                <th scope="col">Documents</th>
                <th scope="col">Errors</th>
                <th scope="col">Started</th>
                <th scope="col">Ended</th>
              </tr>
            </thead>
            <tbody>
              {list.map((j) => (
                <tr key={j.id}>
                  <th scope="row" class="wrap">
                    <code>{j.id}</code>
                    <div class="muted">{j.authorId}</div>
                  </th>
                  <td>
                    <JobState state={j.state} />
                  </td>
                  <td class="wrap">
                    {j.sourceId ? <code>{j.sourceId}</code> : null} {j.url}
                  </td>
                  <td>
                    {j.itemsDone.toString()} / {j.itemsTotal.toString()}
                  </td>
                  <td>
                    {j.documentsCreated.toString()} new, {j.documentsUpdated.toString()} updated,{' '}
                    {j.documentsUnchanged.toString()} unchanged
                    {j.documentsTombstoned > 0n ? `, ${j.documentsTombstoned.toString()} deleted` : ''}
                  </td>
                  <td>
                    {j.errors.length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <details>
                        <summary>
                          {j.errors.length} error{j.errors.length === 1 ? '' : 's'}
                        </summary>
                        <ul class="plain wrap">
                          {j.errors.map((e, i) => (
                            <li key={i}>
                              <code>{e.url}</code>: {e.message}
                            </li>
                          ))}
                        </ul>
                      </details>
                    )}
                  </td>
                  <td>{formatTime(j.startTime ?? j.createTime)}</td>
                  <td>{formatTime(j.endTime)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
    </Section>
  );
}

function JobState({ state }: { state: ingestv1.CrawlJobState }) {
  const tone =
    state === ingestv1.CrawlJobState.SUCCEEDED
      ? 'ok'
      : state === ingestv1.CrawlJobState.FAILED
        ? 'bad'
        : state === ingestv1.CrawlJobState.PARTIAL || state === ingestv1.CrawlJobState.CANCELLED
          ? 'warn'
          : 'neutral';
  return <span class={`badge tone-${tone}`}>{enumWords(ingestv1.CrawlJobState[state])}</span>;
}

/** One topic's dead letters with its Replay button; the button's result and error are shown beside it. */
function DeadLetterTopic({
  topic,
  letters,
  onReplayed,
}: {
  topic: string;
  letters: gatewayv1.DeadLetter[];
  onReplayed: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [replayed, setReplayed] = useState<bigint | undefined>(undefined);
  const id = `dlq-${shortTopic(topic).replace(/\W+/g, '-')}`;
  const replay = async () => {
    setBusy(true);
    setError(undefined);
    setReplayed(undefined);
    try {
      const res = await api.pipeline.replayDeadLetters({ topic });
      setReplayed(res.replayed);
      onReplayed();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="dlq-topic" aria-labelledby={`${id}-heading`}>
      <div class="dlq-head">
        <h3 id={`${id}-heading`} class="wrap">
          {topic} <span class="muted">({letters.length})</span>
        </h3>
        <button type="button" onClick={replay} disabled={busy} aria-describedby={`${id}-result`}>
          {busy ? 'Replaying…' : 'Replay'}
          <span class="visually-hidden"> dead letters of {topic}</span>
        </button>
      </div>
      <div id={`${id}-result`}>
        {replayed !== undefined ? (
          <p class="ok" role="status">
            Put {replayed.toString()} event{replayed === 1n ? '' : 's'} back on {topic}
            {replayed === 0n ? ' (every letter here was replayed before)' : ''}.
          </p>
        ) : null}
        <ErrorNote error={error} />
      </div>
      <TableWrap label={`Dead letters of ${topic}, table`}>
        <table class="pipeline-table">
          <caption class="visually-hidden">Dead letters of {topic}</caption>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Consumer</th>
              <th scope="col">Error</th>
              <th scope="col">Size</th>
              <th scope="col">Dead since</th>
            </tr>
          </thead>
          <tbody>
            {letters.map((l) => (
              <tr key={`${l.partition}:${l.offset}:${l.group}`}>
                <th scope="row" class="wrap">
                  <code>{l.key || '—'}</code>
                  <div class="muted">
                    partition {l.partition}, offset {l.offset}
                  </div>
                </th>
                <td>{l.group}</td>
                <td class="wrap dlq-error">{l.error}</td>
                <td>{formatBytes(l.sizeBytes)}</td>
                <td>{formatTime(l.deadTime)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
    </section>
  );
}

const deadMs = (l: gatewayv1.DeadLetter) =>
  Number(l.deadTime?.seconds ?? 0n) * 1000 + Math.floor((l.deadTime?.nanos ?? 0) / 1e6);

function DeadLettersSection() {
  const letters = useLoad((signal) => api.pipeline.listDeadLetters({}, { signal }), [], LIST_POLL_MS);
  const byTopic = new Map<string, gatewayv1.DeadLetter[]>();
  for (const l of letters.data?.deadLetters ?? []) {
    const list = byTopic.get(l.topic) ?? [];
    list.push(l);
    byTopic.set(l.topic, list);
  }
  return (
    <Section title="Dead letters" id="dead-letters">
      <p class="muted">
        Events a consumer gave up on after every retry, with the last error. Fix the cause, then replay: each
        letter goes back on its topic once, however often Replay is pressed.
      </p>
      <ErrorNote error={letters.error} />
      {!letters.data && !letters.error ? <Loading what="dead letters" /> : null}
      {letters.data && byTopic.size === 0 ? <p>No dead letters: every event was processed.</p> : null}
      {[...byTopic].map(([topic, list]) => (
        <DeadLetterTopic
          key={topic}
          topic={topic}
          letters={[...list].sort((a, b) => deadMs(b) - deadMs(a))}
          onReplayed={() => void letters.reload()}
        />
      ))}
    </Section>
  );
}

function AlertsSection() {
  const alerts = useLoad((signal) => api.pipeline.listAlerts({ limit: 20 }, { signal }), [], 10_000);
  const list = alerts.data?.alerts;
  return (
    <Section title="Alerts" id="alerts">
      <ErrorNote error={alerts.error} />
      {!list && !alerts.error ? <Loading what="alerts" /> : null}
      {list && list.length === 0 ? <p class="muted">No alerts raised.</p> : null}
      {list && list.length > 0 ? (
        <ul class="plain alerts">
          {list.map((a) => (
            <li key={a.eventId} class="wrap">
              <span class={`badge tone-${a.resolved ? 'ok' : 'warn'}`}>
                {a.resolved ? 'resolved' : 'raised'}
              </span>{' '}
              <strong>{a.rule}</strong>
              {a.model ? ` (${a.model})` : ''}: {a.message || `${a.value} over ${a.threshold}`}{' '}
              <span class="muted">{formatTime(a.eventTime)}</span>
            </li>
          ))}
        </ul>
      ) : null}
    </Section>
  );
}

function ReprocessForm() {
  const [authorId, setAuthorId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [queued, setQueued] = useState<{ n: bigint; author: string } | undefined>(undefined);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setQueued(undefined);
    const author = authorId.trim();
    try {
      const res = await api.clean.reprocess({ authorId: author });
      setQueued({ n: res.documentsQueued, author });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="reprocess-heading" class="maintenance">
      <h3 id="reprocess-heading">Reprocess</h3>
      <p class="muted">Rebuilds the cleaned snapshot from the warehouse; chunks and vectors follow.</p>
      <Field label="Author id" id="reprocess-author" hint="Leave empty to reprocess every author.">
        {(props) => (
          <input
            {...props}
            value={authorId}
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => setAuthorId((e.target as HTMLInputElement).value)}
          />
        )}
      </Field>
      <button type="submit" disabled={busy}>
        {busy ? 'Reprocessing…' : 'Reprocess'}
      </button>
      {queued ? (
        <p class="ok" role="status">
          {queued.n.toString()} document{queued.n === 1n ? '' : 's'} queued for cleaning
          {queued.author ? ` (author ${queued.author})` : ''}.
        </p>
      ) : null}
      <ErrorNote error={error} />
    </form>
  );
}

function ReindexPanel() {
  const [reindex, setReindex] = useState<embedv1.Reindex | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const running = reindex?.state === embedv1.ReindexState.RUNNING;

  // Follows a running reindex until it is swapped in or fails.
  useEffect(() => {
    if (!reindex || !running) return undefined;
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api.embed
        .getReindex({ id: reindex.id }, { signal: controller.signal })
        .then((res) => {
          setError(undefined);
          if (res.reindex) setReindex(res.reindex);
        })
        .catch((err: unknown) => {
          if (!controller.signal.aborted) {
            setError(err);
            // Try again later: a reindex goes on whether or not this page can see it.
            setReindex((r) => (r ? { ...r } : r));
          }
        });
    }, REINDEX_POLL_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [reindex, running]);

  const start = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const res = await api.embed.startReindex({});
      setReindex(res.reindex);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const total = reindex ? Number(reindex.documentsTotal) : 0;
  const done = reindex ? Number(reindex.documentsDone) : 0;
  const finished = reindex?.state === embedv1.ReindexState.SWAPPED;
  return (
    <div class="maintenance" role="group" aria-labelledby="reindex-heading">
      <h3 id="reindex-heading">Reindex</h3>
      <p class="muted">
        Embeds every chunk again into a new collection and swaps it in when done; search keeps using the old
        one meanwhile.
      </p>
      <button type="button" onClick={start} disabled={busy || running}>
        {busy ? 'Starting…' : running ? 'Reindexing…' : 'Start reindex'}
      </button>
      <ErrorNote error={error} />
      {reindex ? (
        <div class="reindex">
          <label for="reindex-progress">
            Reindex <code>{reindex.id}</code>: {enumWords(embedv1.ReindexState[reindex.state])}
          </label>
          <progress
            id="reindex-progress"
            max={Math.max(total, 1)}
            value={finished && total === 0 ? 1 : done}
          />
          <p role="status">
            {done} of {total} documents, {reindex.chunksEmbedded.toString()} chunks embedded
            {reindex.targetCollection ? (
              <>
                {' '}
                into <code class="wrap">{reindex.targetCollection}</code>
              </>
            ) : null}
            {reindex.endTime ? `; ended ${formatTime(reindex.endTime)}` : ''}.
          </p>
          {reindex.error ? <p class="error">{reindex.error}</p> : null}
        </div>
      ) : null}
    </div>
  );
}

export function PipelinePage({ caller }: PageProps) {
  if (!caller.admin) {
    return (
      <>
        <PageHeader title="Pipeline" />
        <p role="alert">The pipeline is for admin keys only.</p>
      </>
    );
  }
  return (
    <div class="pipeline-page">
      <PageHeader title="Pipeline" />
      <ServicesSection />
      <DeadLettersSection />
      <CrawlJobsSection />
      <Section title="Maintenance" id="maintenance">
        <div class="grid">
          <ReprocessForm />
          <ReindexPanel />
        </div>
      </Section>
      <AlertsSection />
    </div>
  );
}
