// ListDocuments: the raw documents in the warehouse, filtered by author (admins choose; an author key sees its
// own), platform and category, a page at a time by the API's page tokens. DeleteDocument, after a confirmation
// that says what happens: the document becomes a tombstone, leaves search and taints what was trained on it.
import { commonv1 } from '@llmtwin/contracts/web';
import type { ingestv1 } from '@llmtwin/contracts/web';
import { useState } from 'preact/hooks';
import { api } from '../../api';
import {
  ConfirmDialog,
  ErrorNote,
  Field,
  formatDate,
  formatTime,
  Loading,
  OkNote,
  TableWrap,
  useLoad,
} from '../../ui';
import { AuthorSelect } from './authors';
import type { AuthorChoice } from './common';
import { CATEGORY_LABELS, PLATFORM_LABELS } from './common';

const PAGE_SIZE = 25;

export function DocumentList({
  authors,
  fixedAuthor,
  version,
}: {
  authors: AuthorChoice[];
  fixedAuthor?: string;
  version: number;
}) {
  const [author, setAuthor] = useState('');
  const [platform, setPlatform] = useState<commonv1.Platform>(commonv1.Platform.UNSPECIFIED);
  const [category, setCategory] = useState<commonv1.Category>(commonv1.Category.UNSPECIFIED);
  const [deleted, setDeleted] = useState(false);
  const [tokens, setTokens] = useState<string[]>(['']);
  const [doomed, setDoomed] = useState<ingestv1.RawDocument | undefined>(undefined);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>(undefined);
  const [deletedNote, setDeletedNote] = useState('');
  const token = tokens[tokens.length - 1] ?? '';
  const authorId = fixedAuthor ?? author;
  const list = useLoad(
    (signal) =>
      api.ingest.listDocuments(
        {
          authorId,
          platform,
          category,
          includeTombstones: deleted,
          page: { pageSize: PAGE_SIZE, pageToken: token },
        },
        { signal },
      ),
    [authorId, platform, category, deleted, token, version],
  );
  // A new filter starts from the first page.
  const filter =
    <T,>(set: (v: T) => void) =>
    (v: T) => {
      set(v);
      setTokens(['']);
    };

  const remove = async (doc: ingestv1.RawDocument) => {
    setDoomed(undefined);
    setDeleting(true);
    setDeleteError(undefined);
    setDeletedNote('');
    try {
      await api.ingest.deleteDocument({ id: doc.id });
      setDeletedNote(`Deleted “${doc.title || doc.id}”.`);
      await list.reload();
    } catch (err) {
      setDeleteError(err);
    } finally {
      setDeleting(false);
    }
  };

  const docs = list.data?.documents ?? [];
  const next = list.data?.page?.nextPageToken ?? '';
  return (
    <>
      <form class="row" aria-label="Filter documents" onSubmit={(e) => e.preventDefault()}>
        <AuthorSelect
          id="docs-author"
          value={author}
          onChange={filter(setAuthor)}
          authors={authors}
          {...(fixedAuthor !== undefined ? { fixed: fixedAuthor } : {})}
          allowAll
        />
        <Field label="Platform" id="docs-platform">
          {(props) => (
            <select
              {...props}
              value={String(platform)}
              onChange={(e) => filter(setPlatform)(Number((e.target as HTMLSelectElement).value))}
            >
              <option value={String(commonv1.Platform.UNSPECIFIED)}>All platforms</option>
              {Object.entries(PLATFORM_LABELS).map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Category" id="docs-category">
          {(props) => (
            <select
              {...props}
              value={String(category)}
              onChange={(e) => filter(setCategory)(Number((e.target as HTMLSelectElement).value))}
            >
              <option value={String(commonv1.Category.UNSPECIFIED)}>All categories</option>
              {Object.entries(CATEGORY_LABELS).map(([v, label]) => (
                <option key={v} value={v}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <label class="sources-radio sources-check">
          <input
            type="checkbox"
            checked={deleted}
            onChange={(e) => filter(setDeleted)((e.target as HTMLInputElement).checked)}
          />{' '}
          Show deleted
        </label>
        <button type="button" onClick={() => void list.reload()} disabled={list.loading}>
          Refresh
        </button>
      </form>
      <ErrorNote error={list.error} />
      <ErrorNote error={deleteError} id="docs-delete-error" />
      <OkNote message={deletedNote} />
      {list.loading && !list.data ? <Loading what="documents" /> : null}
      {list.data && docs.length === 0 ? (
        <p class="muted">No documents{tokens.length > 1 ? ' on this page' : ' match'}.</p>
      ) : null}
      {docs.length > 0 ? (
        <TableWrap label="Documents, scrollable">
          <table aria-label="Documents">
            <thead>
              <tr>
                <th scope="col">Title</th>
                {fixedAuthor === undefined ? <th scope="col">Author</th> : null}
                <th scope="col">Platform</th>
                <th scope="col">Category</th>
                <th scope="col">Version</th>
                <th scope="col">State</th>
                <th scope="col">Published</th>
                <th scope="col">Updated</th>
                <th scope="col">Crawled</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {docs.map((d) => (
                <tr key={d.id}>
                  <td class="sources-wrap">
                    {d.title || <span class="muted">(untitled)</span>}
                    <br />
                    <small class="muted sources-url">{d.codePath || d.canonicalUrl}</small>
                  </td>
                  {fixedAuthor === undefined ? <td class="sources-wrap">{d.authorId}</td> : null}
                  <td>{PLATFORM_LABELS[d.platform] ?? '—'}</td>
                  <td>{CATEGORY_LABELS[d.category] ?? '—'}</td>
                  <td>{String(d.version)}</td>
                  <td>
                    <DocState doc={d} />
                  </td>
                  <td>{formatDate(d.publishTime)}</td>
                  <td>{formatDate(d.updateTime)}</td>
                  <td>{formatTime(d.crawlTime)}</td>
                  <td>
                    {d.tombstone ? null : (
                      <button
                        type="button"
                        class="danger"
                        disabled={deleting}
                        aria-label={`Delete: ${d.title || d.id}`}
                        onClick={() => setDoomed(d)}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <ConfirmDialog
        open={doomed !== undefined}
        title="Delete this document?"
        confirmLabel="Delete document"
        onCancel={() => setDoomed(undefined)}
        onConfirm={() => doomed && void remove(doomed)}
      >
        <p>
          “{doomed?.title || doomed?.id}” of author {doomed?.authorId} will be deleted: it becomes a tombstone
          in the warehouse, its chunks leave search, and dataset and model versions built from it are marked
          tainted.
        </p>
      </ConfirmDialog>
      {tokens.length > 1 || next ? (
        <div class="row sources-pager">
          <button
            type="button"
            disabled={tokens.length <= 1}
            onClick={() => setTokens((t) => t.slice(0, -1))}
          >
            Previous page
          </button>
          <span class="muted">Page {tokens.length}</span>
          <button type="button" disabled={!next} onClick={() => setTokens((t) => [...t, next])}>
            Next page
          </button>
        </div>
      ) : null}
    </>
  );
}

function DocState({ doc }: { doc: ingestv1.RawDocument }) {
  if (doc.tombstone) return <span class="badge error">deleted</span>;
  if (doc.draft) return <span class="badge warn">draft</span>;
  return <span class="badge ok">published</span>;
}
