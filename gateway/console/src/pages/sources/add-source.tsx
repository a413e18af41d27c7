// AddSource: a profile, feed, repository or single page, crawled on a schedule (an interval, or a cron
// expression read in a time zone, either with jitter) or only on demand. The API checks everything; its
// message goes next to the field it names.
import { ingestv1 } from '@llmtwin/contracts/web';
import { useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorNote, Field } from '../../ui';
import { AuthorSelect } from './authors';
import type { AuthorChoice } from './common';
import { describeSchedule, isAlreadyExists, KIND_LABELS, useFormError } from './common';

type Mode = 'interval' | 'cron' | 'none';
const UNITS = { minutes: 60, hours: 3600, days: 86400 } as const;
type Unit = keyof typeof UNITS;

export function AddSourceForm({
  authors,
  fixedAuthor,
  author,
  onAuthor,
  onAdded,
}: {
  authors: AuthorChoice[];
  fixedAuthor?: string;
  author: string;
  onAuthor: (id: string) => void;
  onAdded: () => void;
}) {
  const [url, setUrl] = useState('');
  const [kind, setKind] = useState<ingestv1.SourceKind>(ingestv1.SourceKind.UNSPECIFIED);
  const [gitRef, setGitRef] = useState('');
  const [mode, setMode] = useState<Mode>('interval');
  const [every, setEvery] = useState('1');
  const [unit, setUnit] = useState<Unit>('days');
  const [cron, setCron] = useState('');
  const [timeZone, setTimeZone] = useState('');
  const [jitter, setJitter] = useState('');
  const [busy, setBusy] = useState(false);
  const [added, setAdded] = useState<ingestv1.Source | undefined>(undefined);
  const error = useFormError();

  const submit = async (e: Event) => {
    e.preventDefault();
    error.clear();
    setAdded(undefined);
    const authorId = fixedAuthor ?? author;
    if (!authorId) return error.set(new Error('Choose the author the source belongs to.'), 'author_id');
    let interval = 0;
    if (mode === 'interval') {
      const n = Number(every);
      if (every.trim() === '' || !Number.isFinite(n) || n <= 0)
        return error.set(
          new Error(`Enter how many ${unit} between crawls (or choose “On demand only”).`),
          'schedule_interval_seconds',
        );
      interval = Math.round(n * UNITS[unit]);
    }
    const jitterSeconds = mode === 'none' || jitter.trim() === '' ? 0 : Number(jitter);
    if (!Number.isInteger(jitterSeconds))
      return error.set(new Error('Jitter is a whole number of seconds.'), 'jitter_seconds');
    setBusy(true);
    try {
      const res = await api.ingest.addSource({
        authorId,
        url: url.trim(),
        kind,
        gitRef: kind === ingestv1.SourceKind.REPOSITORY ? gitRef.trim() : '',
        scheduleIntervalSeconds: BigInt(interval),
        cron: mode === 'cron' ? cron.trim() : '',
        timeZone: mode === 'cron' ? timeZone.trim() : '',
        jitterSeconds: BigInt(jitterSeconds),
      });
      setAdded(res.source);
      setUrl('');
      onAdded();
    } catch (err) {
      error.set(err, isAlreadyExists(err) ? 'url' : undefined);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <div class="row sources-fields">
        <AuthorSelect
          id="source-author"
          value={author}
          onChange={onAuthor}
          authors={authors}
          {...(fixedAuthor !== undefined ? { fixed: fixedAuthor } : {})}
          error={error.at('author_id')}
        />
        <div class="sources-grow">
          <Field
            label="URL"
            id="source-url"
            hint="A Medium or Substack profile or feed, a LinkedIn profile, a GitHub repository or one page."
            error={error.at('url')}
          >
            {(props) => (
              <input
                {...props}
                type="text"
                inputMode="url"
                autocomplete="off"
                spellcheck={false}
                value={url}
                onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
              />
            )}
          </Field>
        </div>
        <Field label="Kind" id="source-kind" error={error.at('kind')}>
          {(props) => (
            <select
              {...props}
              value={String(kind)}
              onChange={(e) => setKind(Number((e.target as HTMLSelectElement).value))}
            >
              <option value={String(ingestv1.SourceKind.UNSPECIFIED)}>Detect from the URL</option>
              {[
                ingestv1.SourceKind.PROFILE,
                ingestv1.SourceKind.REPOSITORY,
                ingestv1.SourceKind.SINGLE_URL,
              ].map((k) => (
                <option key={k} value={String(k)}>
                  {KIND_LABELS[k]}
                </option>
              ))}
            </select>
          )}
        </Field>
        {kind === ingestv1.SourceKind.REPOSITORY ? (
          <Field
            label="Git ref (optional)"
            id="source-git-ref"
            hint="Branch, tag or commit; the default branch if empty."
            error={error.at('git_ref')}
          >
            {(props) => (
              <input
                {...props}
                value={gitRef}
                onInput={(e) => setGitRef((e.target as HTMLInputElement).value)}
              />
            )}
          </Field>
        ) : null}
      </div>

      <fieldset class="sources-schedule">
        <legend>Schedule</legend>
        <div class="row sources-radios">
          {(
            [
              ['interval', 'At a fixed interval'],
              ['cron', 'On a cron schedule'],
              ['none', 'On demand only'],
            ] as const
          ).map(([value, label]) => (
            <label key={value} class="sources-radio">
              <input
                type="radio"
                name="source-schedule-mode"
                value={value}
                checked={mode === value}
                onChange={() => setMode(value)}
              />{' '}
              {label}
            </label>
          ))}
        </div>
        <div class="row sources-fields">
          {mode === 'interval' ? (
            <>
              <Field label="Crawl every" id="source-every" error={error.at('schedule_interval_seconds')}>
                {(props) => (
                  <input
                    {...props}
                    type="number"
                    min="1"
                    step="any"
                    class="sources-narrow"
                    value={every}
                    onInput={(e) => setEvery((e.target as HTMLInputElement).value)}
                  />
                )}
              </Field>
              <Field label="Unit" id="source-unit">
                {(props) => (
                  <select
                    {...props}
                    value={unit}
                    onChange={(e) => setUnit((e.target as HTMLSelectElement).value as Unit)}
                  >
                    <option value="minutes">minutes</option>
                    <option value="hours">hours</option>
                    <option value="days">days</option>
                  </select>
                )}
              </Field>
            </>
          ) : null}
          {mode === 'cron' ? (
            <>
              <Field
                label="Cron expression"
                id="source-cron"
                hint='Five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * *".'
                error={error.at('cron')}
              >
                {(props) => (
                  <input
                    {...props}
                    autocomplete="off"
                    spellcheck={false}
                    value={cron}
                    onInput={(e) => setCron((e.target as HTMLInputElement).value)}
                  />
                )}
              </Field>
              <Field
                label="Time zone"
                id="source-tz"
                hint="IANA name, e.g. Europe/Berlin; UTC if empty."
                error={error.at('time_zone')}
              >
                {(props) => (
                  <input
                    {...props}
                    autocomplete="off"
                    value={timeZone}
                    onInput={(e) => setTimeZone((e.target as HTMLInputElement).value)}
                  />
                )}
              </Field>
            </>
          ) : null}
          {mode !== 'none' ? (
            <Field
              label="Jitter (seconds)"
              id="source-jitter"
              hint="Each crawl moves by up to this much; 0 if empty."
              error={error.at('jitter_seconds')}
            >
              {(props) => (
                <input
                  {...props}
                  type="number"
                  min="0"
                  step="1"
                  class="sources-narrow"
                  value={jitter}
                  onInput={(e) => setJitter((e.target as HTMLInputElement).value)}
                />
              )}
            </Field>
          ) : null}
        </div>
      </fieldset>

      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Adding…' : 'Add source'}
        </button>
      </div>
      <ErrorNote error={error.at('') ?? error.at('full_crawl_interval_seconds')} />
      {added ? (
        <div role="status" class="ok">
          <p class="sources-wrap">
            Added {added.url} ({KIND_LABELS[added.kind]}, {describeSchedule(added)}).
          </p>
          {added.coverage?.partial ? (
            <p class="warn sources-wrap">
              {added.coverage.note} {added.coverage.importHint}
            </p>
          ) : null}
        </div>
      ) : null}
    </form>
  );
}
