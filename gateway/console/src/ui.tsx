// Small shared pieces: every page shows errors, loading and tables the same way.
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useId, useRef, useState } from 'preact/hooks';
import { describeError } from './api';
import type { Timestamp } from '@bufbuild/protobuf/wkt';

/** An error from the API, in words, where it happened. `role="alert"` makes screen readers announce it. */
export function ErrorNote({ error, id }: { error: unknown; id?: string }) {
  if (error === undefined || error === null) return null;
  return (
    <p class="error" role="alert" id={id}>
      {describeError(error)}
    </p>
  );
}

/** A success message in words, announced politely (`role="status"`); nothing when empty. */
export function OkNote({ message, class: extra }: { message: string | undefined; class?: string }) {
  if (!message) return null;
  return (
    <p class={extra ? `ok ${extra}` : 'ok'} role="status">
      {message}
    </p>
  );
}

/** A table that may scroll sideways on a narrow screen: focusable, so the keyboard can scroll it too. */
export function TableWrap({
  label,
  role = 'region',
  children,
}: {
  label: string;
  role?: 'region' | 'group';
  children: ComponentChildren;
}) {
  return (
    <div class="table-wrap" tabIndex={0} role={role} aria-label={label}>
      {children}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <h1>{title}</h1>
      {children ? <div class="page-actions">{children}</div> : null}
    </header>
  );
}

export function Section({
  title,
  children,
  id,
}: {
  title: string;
  children: ComponentChildren;
  id?: string;
}) {
  const headingId = `${id ?? title.toLowerCase().replace(/\W+/g, '-')}-heading`;
  return (
    <section class="card" aria-labelledby={headingId} id={id}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

/** A labelled form field with its own error under it (linked by aria-describedby). */
export function Field({
  label,
  error,
  hint,
  children,
  id,
}: {
  label: string;
  id: string;
  error?: unknown;
  hint?: string;
  children: (props: { id: string; 'aria-describedby'?: string; 'aria-invalid'?: boolean }) => JSX.Element;
}) {
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children({
        id,
        ...(described ? { 'aria-describedby': described } : {}),
        ...(error ? { 'aria-invalid': true } : {}),
      })}
      {hint ? (
        <small class="muted" id={`${id}-hint`}>
          {hint}
        </small>
      ) : null}
      <ErrorNote error={error} id={`${id}-error`} />
    </div>
  );
}

/** Loads data once and on `reload()`; optionally polls every `pollMs` while the page is visible. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[], pollMs?: number) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const seq = useRef(0);
  const run = useCallback(async () => {
    const mine = ++seq.current;
    const controller = new AbortController();
    setLoading(true);
    try {
      const value = await load(controller.signal);
      if (mine === seq.current) {
        setData(value);
        setError(undefined);
      }
    } catch (err) {
      if (mine === seq.current) setError(err);
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    void run();
    if (!pollMs) return undefined;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void run();
    }, pollMs);
    return () => clearInterval(timer);
  }, [run, pollMs]);
  return { data, error, loading, reload: run };
}

export function formatTime(ts: Timestamp | undefined): string {
  if (!ts) return '—';
  const ms = Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6);
  if (ms === 0) return '—';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatDate(ts: Timestamp | undefined): string {
  if (!ts) return '—';
  const ms = Number(ts.seconds) * 1000;
  if (ms === 0) return '—';
  return new Date(ms).toLocaleDateString(undefined, { dateStyle: 'medium' });
}

export function formatBytes(n: number | bigint): string {
  const v = Number(n);
  if (v < 1024) return `${v} B`;
  if (v < 1024 * 1024) return `${(v / 1024).toFixed(1)} KiB`;
  return `${(v / 1024 / 1024).toFixed(1)} MiB`;
}

/** A button that asks before doing something that cannot be undone; says exactly what will happen. */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  // Unique per dialog: a page may hold several (closed dialogs stay in the document).
  const titleId = `confirm-title-${useId()}`;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={onCancel} onClose={onCancel}>
      <h2 id={titleId}>{title}</h2>
      <div>{children}</div>
      <div class="dialog-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
