// What the Sources & documents page's parts share: labels for the API's enums, schedules in words, which form
// field an API error is about, and the author choice an admin makes (author keys act on their own author only).
import { Code, ConnectError } from '@connectrpc/connect';
import { commonv1, ingestv1 } from '@llmtwin/contracts/web';
import { useState } from 'preact/hooks';

export const KIND_LABELS: Record<number, string> = {
  [ingestv1.SourceKind.UNSPECIFIED]: 'unknown',
  [ingestv1.SourceKind.PROFILE]: 'profile or feed',
  [ingestv1.SourceKind.REPOSITORY]: 'repository',
  [ingestv1.SourceKind.SINGLE_URL]: 'single page',
  [ingestv1.SourceKind.ARCHIVE]: 'export archive',
};

export const PLATFORM_LABELS: Record<number, string> = {
  [commonv1.Platform.MEDIUM]: 'Medium',
  [commonv1.Platform.SUBSTACK]: 'Substack',
  [commonv1.Platform.LINKEDIN]: 'LinkedIn',
  [commonv1.Platform.GITHUB]: 'GitHub',
  [commonv1.Platform.WEB]: 'Web',
};

export const CATEGORY_LABELS: Record<number, string> = {
  [commonv1.Category.ARTICLE]: 'article',
  [commonv1.Category.POST]: 'post',
  [commonv1.Category.CODE]: 'code',
};

export const JOB_STATE_LABELS: Record<number, string> = {
  [ingestv1.CrawlJobState.UNSPECIFIED]: 'unknown',
  [ingestv1.CrawlJobState.QUEUED]: 'queued',
  [ingestv1.CrawlJobState.RUNNING]: 'running',
  [ingestv1.CrawlJobState.SUCCEEDED]: 'succeeded',
  [ingestv1.CrawlJobState.PARTIAL]: 'partly succeeded',
  [ingestv1.CrawlJobState.FAILED]: 'failed',
  [ingestv1.CrawlJobState.CANCELLED]: 'cancelled',
};

export const jobRunning = (job: ingestv1.CrawlJob): boolean =>
  job.state === ingestv1.CrawlJobState.QUEUED || job.state === ingestv1.CrawlJobState.RUNNING;

/** Seconds in words: 86400 → "1 d", 5400 → "90 min". */
export function formatSeconds(total: number | bigint): string {
  const s = Number(total);
  if (s % 86400 === 0) return `${s / 86400} d`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

export function describeSchedule(s: ingestv1.Source): string {
  const jitter = s.jitterSeconds > 0n ? `, ± up to ${formatSeconds(s.jitterSeconds)}` : '';
  if (s.cron) return `cron ${s.cron} (${s.timeZone || 'UTC'})${jitter}`;
  if (s.scheduleIntervalSeconds > 0n) return `every ${formatSeconds(s.scheduleIntervalSeconds)}${jitter}`;
  return 'on demand only';
}

// The API names the field it refuses: its messages start with the field ("cron ... is not a cron
// expression") and end with the violations "(cron: a cron expression)".
const FIELDS = [
  'url',
  'kind',
  'git_ref',
  'cron',
  'time_zone',
  'jitter_seconds',
  'schedule_interval_seconds',
  'full_crawl_interval_seconds',
  'author_id',
  'display_name',
  'id',
  'aliases',
];

/** The request field an API error is about, if it names one of ours. */
export function errorField(err: unknown): string | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  const message = err.rawMessage;
  const trailing = /\(([a-z_]+): [^()]*\)$/.exec(message)?.[1];
  if (trailing && FIELDS.includes(trailing)) return trailing;
  const leading = /^([a-z_]+)\b/.exec(message)?.[1];
  if (leading && FIELDS.includes(leading)) return leading;
  return undefined;
}

export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof ConnectError && err.code === Code.AlreadyExists;

/** An error shown next to one field of a form, or next to its submit button when it names none. */
export function useFormError() {
  const [error, setError] = useState<{ field: string; err: unknown } | undefined>(undefined);
  return {
    /** The error for `field` ('' for the form's own place), if that is where it belongs. */
    at: (field: string): unknown => (error && error.field === field ? error.err : undefined),
    set: (err: unknown, field?: string) => setError({ field: field ?? errorField(err) ?? '', err }),
    clear: () => setError(undefined),
  };
}

export interface AuthorChoice {
  id: string;
  displayName: string;
}
