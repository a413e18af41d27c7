import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { registryv1 } from '@llmtwin/contracts';
import {
  datasetRequest,
  openRegistry,
  rejection,
  sha256,
  source,
  type DatasetRequestInit,
  type RegistryFixture,
} from '../registry.fixture.js';

let f: RegistryFixture;
beforeEach(async () => {
  f = await openRegistry();
});
afterEach(async () => {
  await f.close();
});

describe('dataset versions', () => {
  it('numbers versions per dataset name and keeps what was sent', async () => {
    const a = await f.registry.datasets.create(datasetRequest());
    const b = await f.registry.datasets.create(datasetRequest({ contentHash: sha256('examples v2') }));
    const other = await f.registry.datasets.create(
      datasetRequest({ dataset: 'jane-prefs', kind: registryv1.DatasetKind.PREFERENCE }),
    );
    expect([a.created, b.created, other.created]).toEqual([true, true, true]);
    expect(a.datasetVersion.version).toBe(1n);
    expect(b.datasetVersion.version).toBe(2n);
    expect(other.datasetVersion.version).toBe(1n);
    expect(other.datasetVersion.schemaVersion).toBe('prompt-chosen-rejected/1');
    const got = await f.registry.datasets.get(a.datasetVersion.id);
    expect(got.sources.map((s) => s.documentId)).toEqual(['doc_1', 'doc_2']);
    expect(got.splits.map((s) => [s.name, s.examples])).toEqual([
      ['train', 90n],
      ['test', 10n],
    ]);
    expect(got.schemaVersion).toBe('chat-messages/1');
    expect(got.authorId).toBe('jane');
    expect(got.createTime).toBeDefined();
  });

  it('returns the existing version for the same dataset and content hash, with one event', async () => {
    const first = await f.registry.datasets.create(datasetRequest());
    const again = await f.registry.datasets.create(
      datasetRequest({ splits: [{ name: 'train', examples: 5n }] }),
    );
    expect(again.created).toBe(false);
    expect(again.datasetVersion.id).toBe(first.datasetVersion.id);
    expect(again.datasetVersion.splits).toHaveLength(2);
    const events = await f.events();
    expect(events.map((e) => e.event.case)).toEqual(['datasetVersionCreated']);
    const created = events[0]!.event.value as { datasetVersion: registryv1.DatasetVersion };
    expect(created.datasetVersion.id).toBe(first.datasetVersion.id);
    expect(created.datasetVersion.sources).toHaveLength(2);
    const [message] = await f.bus.read('llmtwin.registry.v1');
    expect(message!.key).toBe(first.datasetVersion.id);
  });

  it('gives concurrent creations distinct consecutive versions, and one version per content', async () => {
    const different = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        f.registry.datasets.create(datasetRequest({ contentHash: sha256(`c${n}`) })),
      ),
    );
    expect(different.map((r) => Number(r.datasetVersion.version)).sort()).toEqual([1, 2, 3, 4, 5]);
    const same = await Promise.all(
      [1, 2, 3].map(() => f.registry.datasets.create(datasetRequest({ contentHash: sha256('same') }))),
    );
    expect(new Set(same.map((r) => r.datasetVersion.id)).size).toBe(1);
    expect(same.filter((r) => r.created)).toHaveLength(1);
    expect(await f.registry.datasets.records.count({ dataset: 'jane-instruct' })).toBe(6);
  });

  it('lists newest first, by dataset and author, in pages', async () => {
    for (const n of [1, 2, 3])
      await f.registry.datasets.create(datasetRequest({ contentHash: sha256(`p${n}`) }));
    await f.registry.datasets.create(datasetRequest({ dataset: 'other', authorId: 'joe' }));
    const first = await f.registry.datasets.list(
      { dataset: 'jane-instruct', authorId: '' },
      { size: 2, after: '' },
    );
    expect(first.map((r) => r.version)).toEqual([3, 2]);
    const second = await f.registry.datasets.list(
      { dataset: 'jane-instruct', authorId: '' },
      { size: 2, after: first[1]!._id },
    );
    expect(second.map((r) => r.version)).toEqual([1]);
    expect(
      (await f.registry.datasets.list({ dataset: '', authorId: 'joe' }, { size: 10, after: '' })).map(
        (r) => r.dataset,
      ),
    ).toEqual(['other']);
  });

  it.each([
    ['no dataset name', { dataset: '' }, 'dataset is required'],
    ['a dataset name with a space', { dataset: 'has space' }, 'not a valid dataset name'],
    ['no kind', { kind: registryv1.DatasetKind.UNSPECIFIED }, 'kind is required'],
    ['no author', { authorId: '' }, 'author_id is required'],
    ['no splits', { splits: [] }, 'splits is required'],
    ['splits without examples', { splits: [{ name: 'train', examples: 0n }] }, 'no examples'],
    ['a split without a name', { splits: [{ name: '', examples: 3n }] }, 'splits[0].name is required'],
    ['a content hash that is not hex', { contentHash: 'abc' }, 'content_hash must be a SHA-256 digest'],
    [
      'an upper-case content hash',
      { contentHash: sha256('x').toUpperCase() },
      'content_hash must be a SHA-256 digest',
    ],
    ['no sources', { sources: [] }, 'sources is required'],
    [
      'a source without its cleaned hash',
      { sources: [source(1, { cleanedContentHash: '' })] },
      'sources[0].cleaned_content_hash',
    ],
    [
      'a source at version 0',
      { sources: [source(1, { version: 0n })] },
      'sources[0].version must be at least 1',
    ],
    ['a source listed twice', { sources: [source(1), source(1)] }, 'sources[1] repeats document doc_1@1'],
  ] as [string, DatasetRequestInit, string][])(
    'refuses %s with a message that says what to fix',
    async (_what, overrides, message) => {
      const err = await rejection(f.registry.datasets.create(datasetRequest(overrides)));
      expect(err.kind).toBe('invalid-argument');
      expect(err.message).toContain(message);
      expect(await f.registry.datasets.records.count()).toBe(0);
    },
  );

  it('refuses a version built from a document already deleted', async () => {
    await f.registry.taint.documentDeleted({
      documentId: 'doc_2',
      version: 2,
      sourceId: 'src_blog',
      canonicalUrl: 'https://blog.example.com/post-2',
      title: 'Post 2',
    });
    const err = await rejection(f.registry.datasets.create(datasetRequest()));
    expect(err.kind).toBe('failed-precondition');
    expect(err.message).toContain(
      'document doc_2 (https://blog.example.com/post-2), source src_blog was deleted',
    );
    // A later version of the document (crawled again after the deletion) is fine.
    const ok = await f.registry.datasets.create(
      datasetRequest({ sources: [source(1), source(2, { version: 3n })] }),
    );
    expect(ok.created).toBe(true);
  });

  it('answers NotFound for an unknown id', async () => {
    const err = await rejection(f.registry.datasets.get('dsv_nope'));
    expect(err.kind).toBe('not-found');
    expect(err.message).toContain('dsv_nope');
  });
});
