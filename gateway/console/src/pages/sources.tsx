// Sources & documents: what the twin learns from. Admins create authors (a fresh twin has none); then, for an
// author, add profiles, feeds and repositories with their schedules, watch and steer them (crawl now, pause,
// resume, remove), import official export archives, and browse the documents collected. An author key sees
// and acts on its own author only.
import './sources.css';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import type { PageProps } from '../types';
import { ErrorNote, PageHeader, Section, useLoad } from '../ui';
import { AddSourceForm } from './sources/add-source';
import { CreateAuthorForm } from './sources/authors';
import type { AuthorChoice } from './sources/common';
import { DocumentList } from './sources/documents';
import { ImportArchiveForm } from './sources/import-archive';
import { SourceList } from './sources/source-list';

const NO_AUTHORS: AuthorChoice[] = [];

export function SourcesPage({ caller }: PageProps) {
  const fixedAuthor = caller.admin ? undefined : caller.authorId;
  const [authorsVersion, setAuthorsVersion] = useState(0);
  const [sourcesVersion, setSourcesVersion] = useState(0);
  const [docsVersion, setDocsVersion] = useState(0);
  const [sourceAuthor, setSourceAuthor] = useState('');
  const [importAuthor, setImportAuthor] = useState('');

  const authorList = useLoad(
    async (signal): Promise<AuthorChoice[]> => {
      if (!caller.admin) return [];
      const res = await api.ingest.listAuthors({ page: { pageSize: 500 } }, { signal });
      return res.authors.map((a) => ({ id: a.id, displayName: a.displayName }));
    },
    [caller.admin, authorsVersion],
  );
  // An author just created is offered at once, before the list has been read again.
  const [justCreated, setJustCreated] = useState<AuthorChoice[]>([]);
  const listed = authorList.data ?? NO_AUTHORS;
  const authors = useMemo(
    () => [...listed, ...justCreated.filter((c) => !listed.some((a) => a.id === c.id))],
    [listed, justCreated],
  );
  // Forms start on the first author there is.
  useEffect(() => {
    const first = authors[0]?.id;
    if (!first) return;
    setSourceAuthor((a) => a || first);
    setImportAuthor((a) => a || first);
  }, [authors]);

  const created = (a: AuthorChoice) => {
    setJustCreated((c) => [...c, a]);
    setSourceAuthor(a.id);
    setImportAuthor(a.id);
    setAuthorsVersion((v) => v + 1);
  };

  return (
    <div class="sources-page">
      <PageHeader title="Sources & documents" />
      {caller.admin ? (
        <Section title="Authors" id="authors">
          <p class="muted">
            {authors.length === 0
              ? 'No authors yet. Create one: sources, archives and documents all belong to an author.'
              : `${authors.length} author${authors.length === 1 ? '' : 's'}: ${authors.map((a) => a.displayName).join(', ')}.`}
          </p>
          <ErrorNote error={authorList.error} />
          <CreateAuthorForm onCreated={created} />
        </Section>
      ) : null}
      <Section title="Add a source" id="add-source">
        <AddSourceForm
          authors={authors}
          {...(fixedAuthor !== undefined ? { fixedAuthor } : {})}
          author={sourceAuthor}
          onAuthor={setSourceAuthor}
          onAdded={() => setSourcesVersion((v) => v + 1)}
        />
      </Section>
      <Section title="Sources" id="sources">
        <SourceList
          authorId={fixedAuthor ?? ''}
          version={sourcesVersion}
          showAuthor={caller.admin}
          onChanged={() => setDocsVersion((v) => v + 1)}
        />
      </Section>
      <Section title="Import an export archive" id="import">
        <ImportArchiveForm
          authors={authors}
          {...(fixedAuthor !== undefined ? { fixedAuthor } : {})}
          author={importAuthor}
          onAuthor={setImportAuthor}
          onImported={() => {
            setDocsVersion((v) => v + 1);
            setSourcesVersion((v) => v + 1);
          }}
        />
      </Section>
      <Section title="Documents" id="documents">
        <DocumentList
          authors={authors}
          {...(fixedAuthor !== undefined ? { fixedAuthor } : {})}
          version={docsVersion}
        />
      </Section>
    </div>
  );
}
