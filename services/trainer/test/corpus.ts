// A synthetic author for the trainer's tests: documents of distinct pseudo-random prose (from a seeded
// generator, so two paragraphs share almost no 3-word shingles), plus the troublemakers a real snapshot has:
// exact and near copies of paragraphs across documents, e-mail addresses and phone numbers, a German post,
// a tombstone, a draft and code. The in-memory snapshot reader below is a test double of the port.
import { commonv1 } from '@llmtwin/contracts';
import type {
  AnswerEdit,
  AnswerEditReader,
  CleanedDocument,
  RawDocumentRef,
  SnapshotReader,
} from '../src/domain/snapshot-reader.port.js';

const WORDS = (
  'river stone garden lantern copper harbor meadow violin engine planet orbit signal canvas mirror forest ' +
  'ladder window bridge cotton marble pepper silver thunder candle rocket pillow basket feather compass ' +
  'island kettle saddle tunnel velvet walnut anchor bakery cactus dragon falcon glacier hammer jungle ' +
  'kitten lemon magnet needle oyster parrot quartz rabbit salmon tomato umbrella vacuum whistle yogurt zebra ' +
  'acorn blossom cedar dolphin ember fossil granite hazel iris jasmine kayak lilac maple nectar olive ' +
  'pebble quill raven spruce tulip urchin vessel willow yarrow zinnia amber beacon cobalt dune estuary ' +
  'fjord grove heron inlet juniper kelp lagoon mesa nimbus onyx prairie quarry reef sierra tundra ' +
  'valley wharf yucca zephyr alloy bolt circuit diode flux gear hinge ingot joule kiln lever motor ' +
  'nozzle piston rotor spring turbine valve winch axle beam cable drill forge gauge hoist jack knot ' +
  'latch mallet nail pulley rivet screw torque wedge'
).split(' ');

/** xorshift32: the same prose for the same seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Sentences with English function words around random nouns: detected as English, yet any two
 * paragraphs share almost no 3-word shingles (most shingles hold a random noun). */
export function prose(seed: number, sentences = 6): string {
  const next = rng(seed * 7919 + 17);
  const w = () => WORDS[Math.floor(next() * WORDS.length)]!;
  const out: string[] = [];
  for (let s = 0; s < sentences; s++) {
    out.push(`The ${w()} ${w()} of the ${w()} is in the ${w()} ${w()} and ${w()} ${w()} with ${w()} ${w()}.`);
  }
  return out.join(' ');
}

export const AUTHOR = 'jane';
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);

export function doc(id: string, text: string, extra: Partial<CleanedDocument> = {}): CleanedDocument {
  return {
    id,
    version: 1,
    authorId: AUTHOR,
    category: commonv1.Category.ARTICLE,
    platform: commonv1.Platform.SUBSTACK,
    canonicalUrl: `https://jane.example.com/${id}`,
    title: `Notes on ${id}`,
    publishedAt: T0 + Number(id.replace(/\D/g, '') || 0) * DAY,
    text,
    language: '',
    codePath: '',
    tombstone: false,
    draft: false,
    ...extra,
  };
}

/** Twelve articles of three paragraphs each (~80 words per paragraph), and the copies and oddities. */
export function corpus(): CleanedDocument[] {
  const docs: CleanedDocument[] = [];
  for (let d = 0; d < 12; d++) {
    docs.push(doc(`doc${String(d).padStart(2, '0')}`, [0, 1, 2].map((p) => prose(d * 10 + p)).join('\n\n')));
  }
  // Exact copy (up to case and punctuation) and a near copy of doc03's paragraphs, in later documents.
  const exact = prose(30).toUpperCase().replace(/\./g, '!');
  const near = prose(31).replace(/^(\w+) (\w+)/, '$1 changed');
  docs.push(doc('doc20', [exact, prose(200)].join('\n\n')));
  docs.push(doc('doc21', [near, prose(210)].join('\n\n')));
  // Personal data in a paragraph.
  docs.push(
    doc('doc22', `${prose(220)} Write to jane.doe@example.com or call +1 415 555 0134.\n\n${prose(221)}`),
  );
  docs.push(
    doc(
      'doc23',
      'Das ist ein Artikel über die Arbeit, und es ist nicht der einzige, aber er wird gelesen. '.repeat(8),
      {
        title: 'Über die Arbeit',
      },
    ),
  );
  docs.push(doc('doc24', prose(240), { tombstone: true, text: '' }));
  docs.push(doc('doc25', prose(250), { draft: true }));
  docs.push(
    doc(
      'doc26',
      '```ts\n' + Array.from({ length: 12 }, (_, i) => `export const v${i} = ${i} * 2;`).join('\n') + '\n```',
      {
        category: commonv1.Category.CODE,
        platform: commonv1.Platform.GITHUB,
        language: 'typescript',
        codePath: 'src/values.ts',
        title: 'src/values.ts',
      },
    ),
  );
  return docs;
}

export const rawRefs = (docs: readonly CleanedDocument[]): RawDocumentRef[] =>
  docs
    .filter((d) => !d.tombstone)
    .map((d) => ({
      id: d.id,
      version: d.id === 'doc05' ? d.version + 1 : d.version,
      contentHash: `raw-${d.id}`,
      sourceId: 'src_blog',
    }));

/** Test double of the snapshot port: serves the given documents as clean and ingest would. */
export class InMemorySnapshot implements SnapshotReader {
  categoriesAsked: (number | undefined)[] = [];
  constructor(
    private readonly docs: CleanedDocument[],
    private readonly raw: RawDocumentRef[] = rawRefs(docs),
  ) {}

  async *cleanedDocuments(authorId: string, category: number | undefined) {
    this.categoriesAsked.push(category);
    for (const d of this.docs) if (d.authorId === authorId && (!category || d.category === category)) yield d;
  }

  async *rawDocuments() {
    yield* this.raw;
  }
}

/** Test double of the answer-edit port. */
export class InMemoryAnswerEdits implements AnswerEditReader {
  constructor(private readonly edits: AnswerEdit[]) {}
  async *answerEdits() {
    yield* this.edits;
  }
}
