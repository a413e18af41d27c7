// One generation's monitoring record (#/generations/<id>): what was asked, with which filters, which passages
// were retrieved and how they scored, which template and model answered, how long it took, what it said, and
// any correction a person made to the answer.
import type { ComponentChildren } from 'preact';
import type { inferencev1 } from '@llmtwin/contracts/web';
import { api } from '../../api';
import { ErrorNote, Loading, Section, formatDate, formatTime, useLoad } from '../../ui';
import { categoryName, formatMs, formatScore, platformName } from './format';

/** One term of a record and its value. */
function Item({ term, children }: { term: string; children: ComponentChildren }) {
  return (
    <div class="gen-item">
      <dt>{term}</dt>
      <dd>{children}</dd>
    </div>
  );
}

const none = <span class="muted">—</span>;
const orNone = (s: string) => (s ? s : none);

export function GenerationRecord({ id }: { id: string }) {
  const record = useLoad((signal) => api.inference.getGeneration({ id }, { signal }), [id]);
  const g = record.data?.generation;
  return (
    <>
      <p>
        <a href="#/generations">← All generations</a>
      </p>
      {record.error ? (
        <Section title="Generation" id="generation">
          <p class="wrap-anywhere">
            Id <code>{id}</code>
          </p>
          <ErrorNote error={record.error} />
        </Section>
      ) : !g ? (
        <Loading what={`generation ${id}`} />
      ) : (
        <RecordView g={g} />
      )}
    </>
  );
}

function RecordView({ g }: { g: inferencev1.Generation }) {
  const usage = g.usage;
  const f = g.filters;
  return (
    <>
      <Section title="Question and answer" id="generation">
        <dl class="gen-dl">
          <Item term="Question">
            <span class="gen-text">{g.query}</span>
          </Item>
          <Item term="Answer">
            {g.answer ? (
              <div class="gen-text gen-answer">{g.answer}</div>
            ) : (
              <span class="muted">(no answer)</span>
            )}
          </Item>
          {g.error ? (
            <Item term="Error">
              <span class="error gen-text">{g.error}</span>
            </Item>
          ) : null}
          {g.fallback ? (
            <Item term="Fallback">
              The model's answer was replaced by quotes of the sources: <code>{g.fallback}</code>
            </Item>
          ) : null}
          {g.modelAnswer ? (
            <Item term="Model's withdrawn answer">
              <div class="gen-text gen-answer">{g.modelAnswer}</div>
            </Item>
          ) : null}
        </dl>
      </Section>

      <Section title="Record" id="record">
        <dl class="gen-dl gen-grid">
          <Item term="Generation id">
            <code class="wrap-anywhere">{g.id}</code>
          </Item>
          <Item term="Time">{formatTime(g.createTime)}</Item>
          <Item term="Author">{orNone(g.authorId)}</Item>
          <Item term="Model">{orNone(g.model)}</Item>
          <Item term="Model version">
            {g.modelVersion ? (
              <>
                {g.modelVersion}
                {g.modelVersionId ? (
                  <>
                    {' '}
                    <code class="wrap-anywhere">{g.modelVersionId}</code>
                  </>
                ) : null}
              </>
            ) : (
              <span class="muted">stock model</span>
            )}
          </Item>
          <Item term="Prompt template version">
            <code>{g.promptTemplateVersion || '—'}</code>
          </Item>
          <Item term="Finish reason">{orNone(g.finishReason)}</Item>
          <Item term="Tokens in">{usage ? String(usage.promptTokens) : none}</Item>
          <Item term="Tokens out">{usage ? String(usage.completionTokens) : none}</Item>
          <Item term="Time to first token">{formatMs(usage?.timeToFirstTokenMs ?? 0)}</Item>
          <Item term="Latency">{formatMs(usage?.totalLatencyMs ?? 0)}</Item>
          <Item term="Trace id">{g.traceId ? <code class="wrap-anywhere">{g.traceId}</code> : none}</Item>
        </dl>
      </Section>

      <Section title="Retrieval" id="retrieval">
        <dl class="gen-dl gen-grid">
          <Item term="Expanded queries">
            {g.expandedQueries.length === 0 ? (
              <span class="muted">none (the question only)</span>
            ) : (
              <ul class="gen-list">
                {g.expandedQueries.map((q, i) => (
                  <li key={i} class="gen-text">
                    {q}
                  </li>
                ))}
              </ul>
            )}
          </Item>
          <Item term="Author filter">{orNone(f?.authorId ?? '')}</Item>
          <Item term="Categories">
            {f && f.categories.length > 0 ? (
              f.categories.map(categoryName).join(', ')
            ) : (
              <span class="muted">any</span>
            )}
          </Item>
          <Item term="Platforms">
            {f && f.platforms.length > 0 ? (
              f.platforms.map(platformName).join(', ')
            ) : (
              <span class="muted">any</span>
            )}
          </Item>
          <Item term="Published after">{f?.publishedAfter ? formatDate(f.publishedAfter) : none}</Item>
          <Item term="Published before">{f?.publishedBefore ? formatDate(f.publishedBefore) : none}</Item>
        </dl>
        <h3 id="chunks-heading">Retrieved passages</h3>
        {g.retrieved.length === 0 ? (
          <p>No passage was retrieved: the answer had no sources.</p>
        ) : (
          <div class="table-wrap">
            <table aria-labelledby="chunks-heading">
              <thead>
                <tr>
                  <th scope="col">Rank</th>
                  <th scope="col">Cited as</th>
                  <th scope="col">Score</th>
                  <th scope="col">Source</th>
                  <th scope="col">Published</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Chunk / document</th>
                </tr>
              </thead>
              <tbody>
                {g.retrieved.map((c, i) => (
                  <tr key={`${c.chunkId}-${i}`}>
                    <td>{i + 1}</td>
                    <td>{c.citation > 0 ? `[${c.citation}]` : <span class="muted">—</span>}</td>
                    <td class="nowrap">{formatScore(c.score)}</td>
                    <td class="cell-wide">
                      {c.url ? (
                        <a href={c.url} target="_blank" rel="noopener noreferrer">
                          {c.title || c.url}
                        </a>
                      ) : (
                        c.title || <span class="muted">untitled</span>
                      )}
                      {c.text ? <p class="gen-snippet muted">{c.text}</p> : null}
                    </td>
                    <td class="nowrap">{c.publishTime ? formatDate(c.publishTime) : '—'}</td>
                    <td>
                      {categoryName(c.category)}
                      <br />
                      <span class="muted">{platformName(c.platform)}</span>
                    </td>
                    <td class="cell-id">
                      <code>{c.chunkId}</code>
                      <br />
                      <code class="muted">{c.documentId}</code>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>

      <AnswerEdit g={g} />
    </>
  );
}

/**
 * The correction of this answer, if someone made one. ListAnswerEdits lists an author's edits in generation
 * order (oldest first) with no filter by generation, so this pages through them up to this generation's id.
 */
function AnswerEdit({ g }: { g: inferencev1.Generation }) {
  const edits = useLoad(
    async (signal) => {
      let pageToken = '';
      for (let pages = 0; pages < 20; pages++) {
        const res = await api.inference.listAnswerEdits(
          { authorId: g.authorId, page: { pageSize: 500, pageToken } },
          { signal },
        );
        const found = res.edits.find((e) => e.generationId === g.id);
        if (found) return found;
        const last = res.edits[res.edits.length - 1];
        pageToken = res.page?.nextPageToken ?? '';
        if (!pageToken || (last && last.generationId > g.id)) return null;
      }
      return null;
    },
    [g.id, g.authorId],
  );
  const e = edits.data;
  return (
    <Section title="Answer edit" id="answer-edit">
      <ErrorNote error={edits.error} />
      {e === undefined ? (
        edits.error ? null : (
          <Loading what="answer edits" />
        )
      ) : e === null ? (
        <p>No one has corrected this answer.</p>
      ) : (
        <dl class="gen-dl">
          <Item term="Corrected answer">
            <div class="gen-text gen-answer">{e.editedAnswer}</div>
          </Item>
          <Item term="Comment">{e.comment ? <span class="gen-text">{e.comment}</span> : none}</Item>
          <Item term="Edited by">{orNone(e.editor)}</Item>
          <Item term="Edited">{formatTime(e.editTime)}</Item>
        </dl>
      )}
    </Section>
  );
}
