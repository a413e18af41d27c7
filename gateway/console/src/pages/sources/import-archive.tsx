// Importing an official export archive (Medium, Substack, LinkedIn): dropped on the zone or chosen with its
// file input, uploaded with progress (POST /v1/archives), then the import job is followed until it ends and
// its counts and every refused file are shown.
import type { ingestv1 } from '@llmtwin/contracts/web';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, uploadArchive } from '../../api';
import { ErrorNote, Field, formatBytes } from '../../ui';
import { AuthorSelect } from './authors';
import type { AuthorChoice } from './common';
import { JOB_STATE_LABELS, jobRunning } from './common';

const POLL_MS = 1000;

export function ImportArchiveForm({
  authors,
  fixedAuthor,
  author,
  onAuthor,
  onImported,
}: {
  authors: AuthorChoice[];
  fixedAuthor?: string;
  author: string;
  onAuthor: (id: string) => void;
  /** The import ended: documents and sources changed. */
  onImported: () => void;
}) {
  const [file, setFile] = useState<File | undefined>(undefined);
  const [dragging, setDragging] = useState(false);
  const [progress, setProgress] = useState<{ sent: number; total: number } | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [fileError, setFileError] = useState<unknown>(undefined);
  const [authorError, setAuthorError] = useState<unknown>(undefined);
  const [job, setJob] = useState<ingestv1.CrawlJob | undefined>(undefined);
  const [jobError, setJobError] = useState<unknown>(undefined);
  const aborter = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => aborter.current?.abort(), []);

  const choose = (f: File | undefined) => {
    setFile(f);
    setFileError(undefined);
    setProgress(undefined);
  };

  const follow = async (first: ingestv1.CrawlJob, signal: AbortSignal) => {
    let current = first;
    setJob(current);
    while (jobRunning(current) && !signal.aborted) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (signal.aborted) return;
      try {
        const res = await api.ingest.getCrawlJob({ id: current.id }, { signal });
        if (res.job) current = res.job;
        setJob(current);
        setJobError(undefined);
      } catch (err) {
        if (signal.aborted) return;
        // Keep polling through a passing error; say so meanwhile.
        setJobError(err);
      }
    }
    onImported();
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setFileError(undefined);
    setAuthorError(undefined);
    setJobError(undefined);
    const authorId = fixedAuthor ?? author;
    if (!authorId) return setAuthorError(new Error('Choose the author whose export this is.'));
    if (!file) return setFileError(new Error('Choose an export archive (.zip) or drop it on the zone.'));
    aborter.current?.abort();
    const controller = new AbortController();
    aborter.current = controller;
    setBusy(true);
    setJob(undefined);
    setProgress({ sent: 0, total: file.size });
    try {
      const res = await uploadArchive(
        file,
        authorId,
        (sent, total) => setProgress({ sent, total }),
        controller.signal,
      );
      if (res.job) await follow(res.job, controller.signal);
    } catch (err) {
      if (!controller.signal.aborted) setFileError(err);
    } finally {
      setBusy(false);
    }
  };

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    const f = e.dataTransfer?.files[0];
    if (f) choose(f);
  };

  return (
    <form onSubmit={submit} noValidate>
      <div class="row">
        <AuthorSelect
          id="import-author"
          value={author}
          onChange={onAuthor}
          authors={authors}
          {...(fixedAuthor !== undefined ? { fixed: fixedAuthor } : {})}
          error={authorError}
        />
      </div>
      <div
        class={`sources-dropzone${dragging ? ' dragging' : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <Field
          label="Export archive"
          id="import-file"
          hint="Drop a Medium, Substack or LinkedIn export (.zip) here, or choose it."
          error={fileError}
        >
          {(props) => (
            <input
              {...props}
              type="file"
              accept=".zip,application/zip"
              disabled={busy}
              onChange={(e) => choose((e.target as HTMLInputElement).files?.[0])}
            />
          )}
        </Field>
        {file ? (
          <p class="sources-wrap">
            {file.name} · {formatBytes(file.size)}
          </p>
        ) : null}
      </div>
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Importing…' : 'Import archive'}
        </button>
      </div>
      {progress ? (
        <div class="sources-progress">
          <label for="import-progress">Upload</label>
          <progress id="import-progress" max={progress.total || 1} value={progress.sent}>
            {progress.total ? Math.round((progress.sent / progress.total) * 100) : 0} %
          </progress>
          <span class="muted">
            {formatBytes(progress.sent)} of {formatBytes(progress.total)}
          </span>
        </div>
      ) : null}
      <ErrorNote error={jobError} />
      {job ? <JobResult job={job} /> : null}
    </form>
  );
}

function JobResult({ job }: { job: ingestv1.CrawlJob }) {
  const running = jobRunning(job);
  const counts: [string, bigint][] = [
    ['New', job.documentsCreated],
    ['Updated', job.documentsUpdated],
    ['Unchanged', job.documentsUnchanged],
    ['Deleted', job.documentsTombstoned],
  ];
  return (
    <div class="sources-job" role="status" aria-live="polite">
      <p>
        Import job <code class="sources-wrap">{job.id}</code>:{' '}
        <strong class={running ? '' : job.errors.length > 0 ? 'warn' : 'ok'}>
          {JOB_STATE_LABELS[job.state]}
        </strong>
        {job.itemsTotal > 0n ? ` · ${job.itemsDone} of ${job.itemsTotal} files read` : ''}
      </p>
      {!running ? (
        <dl class="sources-counts">
          {counts.map(([label, n]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{String(n)}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      {job.errors.length > 0 ? (
        <>
          <h3>Refused files ({job.errors.length})</h3>
          <ul class="sources-refused">
            {job.errors.map((e, i) => (
              <li key={i} class="sources-wrap">
                <code>{e.url || '(the archive)'}</code>: {e.message}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </div>
  );
}
