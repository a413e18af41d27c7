// Authors: an admin creates them (a fresh twin has none) and picks which one a form acts on; an author key
// acts on its own author only, so it sees its id instead of a choice.
import { useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorNote, Field, OkNote } from '../../ui';
import type { AuthorChoice } from './common';
import { isAlreadyExists, useFormError } from './common';

/** The author a form acts on: a select for admins, the key's own author (fixed) otherwise. */
export function AuthorSelect({
  id,
  label = 'Author',
  value,
  onChange,
  authors,
  fixed,
  allowAll = false,
  error,
}: {
  id: string;
  label?: string;
  value: string;
  onChange: (id: string) => void;
  authors: AuthorChoice[];
  /** An author key's own author: shown, not chosen. */
  fixed?: string;
  /** Offer "All authors" (''), for filters. */
  allowAll?: boolean;
  error?: unknown;
}) {
  if (fixed !== undefined) {
    return (
      <Field label={label} id={id} error={error} hint="Your key acts on this author only.">
        {(props) => <input {...props} value={fixed} readOnly />}
      </Field>
    );
  }
  return (
    <Field
      label={label}
      id={id}
      error={error}
      hint={authors.length === 0 && !allowAll ? 'No authors yet: create one first.' : undefined}
    >
      {(props) => (
        <select {...props} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
          {allowAll ? <option value="">All authors</option> : null}
          {!allowAll && value === '' ? <option value="">Choose an author</option> : null}
          {authors.map((a) => (
            <option key={a.id} value={a.id}>
              {a.displayName} ({a.id})
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

/** CreateAuthor: a display name, an optional stable id, the author's handles on the platforms. */
export function CreateAuthorForm({ onCreated }: { onCreated: (author: AuthorChoice) => void }) {
  const [name, setName] = useState('');
  const [id, setId] = useState('');
  const [aliases, setAliases] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState('');
  const error = useFormError();

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    error.clear();
    setDone('');
    try {
      const res = await api.ingest.createAuthor({
        displayName: name.trim(),
        id: id.trim(),
        aliases: aliases
          .split(',')
          .map((a) => a.trim())
          .filter(Boolean),
      });
      const author = res.author!;
      setDone(`Created the author ${author.displayName} (${author.id}).`);
      setName('');
      setId('');
      setAliases('');
      onCreated({ id: author.id, displayName: author.displayName });
    } catch (err) {
      error.set(err, isAlreadyExists(err) ? 'id' : undefined);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} noValidate>
      <div class="row sources-fields">
        <Field label="Display name" id="author-name" error={error.at('display_name')}>
          {(props) => (
            <input
              {...props}
              value={name}
              autocomplete="off"
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
          )}
        </Field>
        <Field
          label="Author id (optional)"
          id="author-id"
          hint="Lowercase letters, digits and '-'; generated when empty."
          error={error.at('id')}
        >
          {(props) => (
            <input
              {...props}
              value={id}
              autocomplete="off"
              onInput={(e) => setId((e.target as HTMLInputElement).value)}
            />
          )}
        </Field>
        <Field
          label="Handles (optional)"
          id="author-aliases"
          hint="Comma-separated, e.g. @jane, jane-doe"
          error={error.at('aliases')}
        >
          {(props) => (
            <input
              {...props}
              value={aliases}
              autocomplete="off"
              onInput={(e) => setAliases((e.target as HTMLInputElement).value)}
            />
          )}
        </Field>
      </div>
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create author'}
        </button>
      </div>
      <ErrorNote error={error.at('')} />
      <OkNote message={done} />
    </form>
  );
}
