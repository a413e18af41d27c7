// Chat: ask an author's twin a question and read its answer as it streams (InferenceService.GenerateStream),
// with numbered citations of the sources it was given, a Stop button, Copy, and a link to the generation's
// record. The conversation is kept per author in session storage, and its earlier turns go with each question.
import './chat.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import type { PageProps } from '../types';
import { ErrorNote, Field, Loading, PageHeader, useLoad } from '../ui';
import { TurnView } from './chat/turn';
import { historyOf, loadTurns, newTurnId, saveTurns, toSources, type Turn } from './chat/transcript';

const AUTHOR_ITEM = 'llmtwin.chat.author';

/** Admin keys pick the author; an author key answers as its own author only. */
function AuthorPicker({
  admin,
  authorId,
  onChange,
  disabled,
}: {
  admin: boolean;
  authorId: string;
  onChange: (id: string) => void;
  disabled: boolean;
}) {
  const authors = useLoad(
    async (signal) =>
      admin ? (await api.ingest.listAuthors({ page: { pageSize: 500 } }, { signal })).authors : [],
    [admin],
  );
  useEffect(() => {
    const list = authors.data;
    if (!admin || !list || list.length === 0) return;
    if (!list.some((a) => a.id === authorId)) {
      const kept = sessionStorage.getItem(AUTHOR_ITEM);
      onChange(list.find((a) => a.id === kept)?.id ?? list[0]!.id);
    }
  }, [authors.data, admin]);

  if (!admin) {
    return (
      <p class="chat-author-fixed">
        <span class="muted">Answering as </span>
        <strong>{authorId}</strong>
      </p>
    );
  }
  if (authors.error) return <ErrorNote error={authors.error} />;
  if (!authors.data) return <Loading what="authors" />;
  if (authors.data.length === 0) {
    return (
      <p class="muted">
        No authors yet: add one and their writing on <a href="#/sources">Sources &amp; documents</a>.
      </p>
    );
  }
  return (
    <Field label="Author" id="chat-author" hint="Whose twin answers.">
      {(props) => (
        <select
          {...props}
          value={authorId}
          disabled={disabled}
          onChange={(e) => onChange((e.target as HTMLSelectElement).value)}
        >
          {authors.data!.map((a) => (
            <option key={a.id} value={a.id}>
              {a.displayName && a.displayName !== a.id ? `${a.displayName} (${a.id})` : a.id}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** The model, only when the twin serves more than one. */
function ModelPicker({
  model,
  onChange,
  disabled,
}: {
  model: string;
  onChange: (m: string) => void;
  disabled: boolean;
}) {
  const models = useLoad(async (signal) => (await api.inference.listModels({}, { signal })).models, []);
  if (models.error) return <ErrorNote error={models.error} />;
  const list = models.data ?? [];
  if (list.length <= 1) return null;
  return (
    <Field label="Model" id="chat-model">
      {(props) => (
        <select
          {...props}
          value={model}
          disabled={disabled}
          onChange={(e) => onChange((e.target as HTMLSelectElement).value)}
        >
          <option value="">Default model</option>
          {list.map((m) => (
            <option key={m.id} value={m.id}>
              {m.id} ({m.backend}
              {m.healthy ? '' : ', unhealthy'})
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

export function ChatPage({ caller }: PageProps) {
  const [authorId, setAuthorId] = useState(caller.admin ? '' : caller.authorId);
  const [model, setModel] = useState('');
  const [maxTokens, setMaxTokens] = useState('');
  const [question, setQuestion] = useState('');
  const [turns, setTurns] = useState<Turn[]>(() => loadTurns(authorId));
  const [error, setError] = useState<unknown>(undefined);
  const [streaming, setStreaming] = useState(false);
  const controller = useRef<AbortController | undefined>(undefined);
  const input = useRef<HTMLTextAreaElement>(null);
  const form = useRef<HTMLFormElement>(null);
  const end = useRef<HTMLDivElement>(null);

  // Leaving the page stops the answer being written.
  useEffect(() => () => controller.current?.abort(), []);
  // Each author has their own conversation.
  const chooseAuthor = (id: string) => {
    setAuthorId(id);
    setTurns(loadTurns(id));
    setError(undefined);
    if (caller.admin) sessionStorage.setItem(AUTHOR_ITEM, id);
  };
  useEffect(() => saveTurns(authorId, turns), [turns, authorId]);

  const update = (id: string, change: (t: Turn) => Partial<Turn>) =>
    setTurns((all) => all.map((t) => (t.id === id ? { ...t, ...change(t) } : t)));

  const ask = async (e: Event) => {
    e.preventDefault();
    if (streaming) return;
    const tokens = maxTokens.trim() === '' ? 0 : Number(maxTokens);
    if (!Number.isInteger(tokens) || tokens < 0) {
      setError(new Error('The longest answer is a whole number of tokens (empty for the default).'));
      return;
    }
    const asked = question;
    const id = newTurnId();
    const history = historyOf(turns);
    const abort = new AbortController();
    controller.current = abort;
    setError(undefined);
    setStreaming(true);
    setQuestion('');
    setTurns((all) => [
      ...all,
      {
        id,
        question: asked.trim(),
        answer: '',
        sources: [],
        status: 'streaming',
        generationId: '',
        model: '',
        finishReason: '',
        fallback: '',
        extractive: false,
      },
    ]);
    let started = false;
    try {
      const stream = api.inference.generateStream(
        {
          query: asked,
          authorId,
          history,
          ...(model || tokens ? { generation: { model, maxTokens: tokens } } : {}),
        },
        { signal: abort.signal },
      );
      for await (const { event } of stream) {
        if (event.case === 'started') {
          started = true;
          const s = event.value;
          update(id, () => ({
            generationId: s.generationId,
            model: s.model,
            sources: toSources(s.citations),
          }));
        } else if (event.case === 'delta') {
          started = true;
          const delta = event.value;
          update(id, (t) => ({ answer: t.answer + delta }));
        } else if (event.case === 'done') {
          const d = event.value;
          // The final answer: when quotes replaced the model's answer, the stream sent both; keep the quotes.
          update(id, () => ({
            answer: d.answer,
            sources: toSources(d.citations),
            generationId: d.generationId,
            model: d.model,
            finishReason: d.finishReason,
            fallback: d.fallback,
            extractive: d.extractive,
            modelAnswer: d.modelAnswer,
            citationsAttributed: d.citationsAttributed,
            status: 'done',
          }));
        }
      }
      update(id, (t) => (t.status === 'streaming' ? { status: 'done' } : {}));
    } catch (err) {
      if (abort.signal.aborted) {
        update(id, () => ({ status: 'stopped' }));
      } else if (!started) {
        // Nothing came back (an empty question, an unknown author...): no turn, the question back in the field.
        setTurns((all) => all.filter((t) => t.id !== id));
        setQuestion(asked);
        setError(err);
      } else {
        update(id, () => ({ status: 'failed' }));
        setError(err);
      }
    } finally {
      if (controller.current === abort) controller.current = undefined;
      setStreaming(false);
      input.current?.focus();
    }
  };

  const stop = () => controller.current?.abort();
  const clear = () => {
    setTurns([]);
    setError(undefined);
  };

  // Keep the newest turn in view while it grows.
  const last = turns[turns.length - 1];
  useEffect(() => {
    if (streaming) end.current?.scrollIntoView({ block: 'nearest' });
  }, [streaming, last?.answer.length]);

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.current?.requestSubmit();
    }
  };

  const noAuthor = authorId === '';
  return (
    <>
      <PageHeader title="Chat">
        <button type="button" onClick={clear} disabled={streaming || turns.length === 0}>
          Clear conversation
        </button>
      </PageHeader>
      <div class="card chat-settings">
        <div class="row">
          <AuthorPicker
            admin={caller.admin}
            authorId={authorId}
            onChange={chooseAuthor}
            disabled={streaming}
          />
          <ModelPicker model={model} onChange={setModel} disabled={streaming} />
        </div>
      </div>

      <section class="card chat-transcript" aria-labelledby="chat-conversation-heading">
        <h2 id="chat-conversation-heading">Conversation</h2>
        <div aria-live="polite" aria-busy={streaming ? 'true' : 'false'} class="chat-turns">
          {turns.length === 0 ? (
            <p class="muted">
              {noAuthor
                ? 'Pick an author to talk to their twin.'
                : 'Ask a question: the twin answers from the author’s own writing, and cites it.'}
            </p>
          ) : (
            turns.map((t) => <TurnView key={t.id} turn={t} />)
          )}
        </div>
        <div ref={end} />
      </section>

      <form ref={form} class="card chat-form" onSubmit={(e) => void ask(e)} aria-label="Ask the twin">
        <Field
          label="Your question"
          id="chat-question"
          error={error}
          hint="Enter sends it; Shift+Enter starts a new line."
        >
          {(props) => (
            <textarea
              {...props}
              ref={input}
              rows={3}
              value={question}
              onInput={(e) => setQuestion((e.target as HTMLTextAreaElement).value)}
              onKeyDown={onKeyDown}
            />
          )}
        </Field>
        <details class="chat-options">
          <summary>Options</summary>
          <Field
            label="Longest answer (tokens)"
            id="chat-max-tokens"
            hint="Empty for the twin’s default (512)."
          >
            {(props) => (
              <input
                {...props}
                type="number"
                min={1}
                max={8192}
                inputMode="numeric"
                value={maxTokens}
                disabled={streaming}
                onInput={(e) => setMaxTokens((e.target as HTMLInputElement).value)}
              />
            )}
          </Field>
        </details>
        <div class="row">
          <button type="submit" class="primary" disabled={streaming || noAuthor}>
            {streaming ? 'Answering…' : 'Ask'}
          </button>
          {streaming ? (
            <button type="button" class="danger" onClick={stop}>
              Stop
            </button>
          ) : null}
        </div>
      </form>
    </>
  );
}
