// Formatting shared by the Generations page's list, record and alerts.
import { commonv1, type inferencev1 } from '@llmtwin/contracts/web';

/** Milliseconds as people read them: "850 ms", "2.4 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** "120 in / 48 out". */
export function formatTokens(usage: inferencev1.Usage | undefined): string {
  if (!usage) return '—';
  return `${usage.promptTokens} in / ${usage.completionTokens} out`;
}

export function formatScore(score: number): string {
  return Number.isFinite(score) ? score.toFixed(3) : '—';
}

/** An enum value's name without its prefix, in lower case: Category.ARTICLE → "article". */
export function categoryName(c: commonv1.Category): string {
  return (commonv1.Category[c] ?? String(c)).toLowerCase();
}
export function platformName(p: commonv1.Platform): string {
  return (commonv1.Platform[p] ?? String(p)).toLowerCase();
}

/** An alert's value in the unit of its rule. */
export function formatAlertValue(rule: string, value: number): string {
  switch (rule) {
    case 'latency_p95':
      return formatMs(value);
    case 'error_rate':
      return `${(value * 100).toFixed(1)} %`;
    case 'crawl_source_failing':
      return `${value.toFixed(1)} h`;
    default:
      return Number.isInteger(value) ? String(value) : value.toFixed(3);
  }
}

/** What an alert's window counts. */
export function formatAlertWindow(rule: string, size: bigint | number): string {
  const n = Number(size);
  if (rule === 'crawl_source_failing') return `${n} failed crawl${n === 1 ? '' : 's'} in a row`;
  return `${n} generation${n === 1 ? '' : 's'}`;
}
