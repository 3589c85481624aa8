/**
 * The indexer's queue over a real store (SQLite file, sqlite-vec) and the real chunker. Its
 * boundaries are parameters, as PieceBatcher's scheduler is: the extraction (a function of the bytes:
 * the worker's own tests are extract.test.ts), the embedding (recorded, vectors from the text) and
 * whether a chat reply is being written (a gate the test opens), so what runs when is the test's to see.
 */
import { createHash } from 'crypto';
import type { Extracted } from '../../main/docs/extract';
import { EMBED_BATCH, Indexer, type IndexerDeps } from '../../main/docs/indexer';
import { silentLogger } from '../../main/logging';
import { DocumentSettings } from '../../main/params';
import type { Store } from '../../main/store';
import { cleanupDirs, closeStores, openStore } from '../store/helpers';

afterEach(() => {
  closeStores();
  cleanupDirs();
});

const DIMS = 8;
const settings = DocumentSettings.parse({ chunkTokens: 32, chunkOverlapTokens: 0 });

/** A document of `paragraphs` paragraphs, each about one chunk. */
const text = (paragraphs: number) => Array.from({ length: paragraphs }, (_, i) => `Paragraph ${i} ${'word '.repeat(20)}`.trim()).join('\n\n');
const extracted = (t: string): Extracted => ({
  kind: 'text',
  blocks: t.split('\n\n').filter(Boolean).map((p) => ({ type: 'paragraph' as const, text: p, page: null })),
  pages: null,
  chars: t.length,
  note: t.trim() ? null : 'no text found in this file',
  truncated: false,
});
const vectorOf = (s: string) => Array.from({ length: DIMS }, (_, i) => (s.charCodeAt(i % s.length) % 7) + i + 1);
/** The stand-in embedding model's special-token text (the engine's tokenizer says which texts hold one: doc-models.test.ts). */
const SPECIAL = '</s>';
const holdsSpecialText = async (texts: string[]) => texts.map((t) => t.includes(SPECIAL));

interface Harness {
  store: Store;
  indexer: Indexer;
  embedded: string[][];
  /** the gate: while set, a chat reply is being written */
  replying: { on: boolean; release: (() => void) | null };
  add(name: string, body: string): number;
  states(): string[];
}

function harness(over: Partial<IndexerDeps> = {}): Harness {
  const store = openStore();
  const space = store.docs.ensureSpace('embed-a', 'a', DIMS);
  const bodies = new Map<string, string>();
  const embedded: string[][] = [];
  const replying: Harness['replying'] = { on: false, release: null };
  const indexer = new Indexer({
    store: store.docs,
    settings: () => settings,
    read: async (doc) => Buffer.from(bodies.get(doc.hash) ?? ''),
    extract: async (_name, bytes) => extracted(Buffer.from(bytes).toString()),
    vectors: async () => ({
      spaceId: space,
      embed: async (texts) => {
        embedded.push(texts);
        return texts.map(vectorOf);
      },
      holdsSpecialText,
    }),
    chatIdle: () => (replying.on ? new Promise<void>((r) => (replying.release = r)) : Promise.resolve()),
    progress: () => undefined,
    changed: () => undefined,
    logger: silentLogger,
    ...over,
  });
  const ids: number[] = [];
  return {
    store,
    indexer,
    embedded,
    replying,
    add(name, body) {
      const hash = createHash('sha256').update(body).digest('hex');
      bodies.set(hash, body);
      const d = store.docs.ensureDocument({ hash, kind: 'text', size: body.length });
      store.docs.linkThread('t1', d.id, name);
      ids.push(d.id);
      indexer.add(d, name);
      return d.id;
    },
    states: () => ids.map((id) => store.docs.document(id)!.state),
  };
}

const flush = () => new Promise((r) => setImmediate(r));

/** Another indexer over the harness's store that only catches up (nothing to read or extract), with `vectors`. */
function catchUpIndexer(h: Harness, vectors: IndexerDeps['vectors']): Indexer {
  return new Indexer({
    store: h.store.docs,
    settings: () => settings,
    read: async () => null,
    extract: async () => extracted(''),
    vectors,
    chatIdle: async () => undefined,
    progress: () => undefined,
    changed: () => undefined,
    logger: silentLogger,
  });
}

test('a chat reply being written keeps priority: no embedding batch runs until it ends, then every chunk gets its vector', async () => {
  const h = harness();
  h.replying.on = true;
  const id = h.add('a.txt', text(EMBED_BATCH + 5));
  for (let i = 0; i < 20 && !h.replying.release; i++) await flush();
  // chunked and searchable by keywords, waiting to embed
  expect(h.store.docs.document(id)!.state).toBe('embedding');
  expect(h.store.docs.searchText([id], 'Paragraph', 5).length).toBeGreaterThan(0);
  expect(h.embedded).toHaveLength(0);
  h.replying.on = false;
  h.replying.release!();
  await h.indexer.idle();
  const chunks = h.store.docs.document(id)!.chunkCount;
  expect(chunks).toBeGreaterThan(EMBED_BATCH);
  expect(h.embedded.map((b) => b.length)).toEqual([EMBED_BATCH, chunks - EMBED_BATCH]);
  expect(h.states()).toEqual(['ready']);
  expect(h.store.docs.vectorCount(h.store.docs.spaces()[0].id, id)).toBe(chunks);
});

test('documents are indexed one at a time in order; a cancelled one stops between batches, and indexed again it finishes', async () => {
  const h = harness();
  h.replying.on = true;
  const a = h.add('a.txt', text(EMBED_BATCH * 2));
  h.add('b.txt', text(3));
  for (let i = 0; i < 20 && !h.replying.release; i++) await flush();
  expect(h.states()).toEqual(['embedding', 'queued']);
  expect(h.indexer.queued()).toBe(2);
  // Stop on a: the batch it waits for never runs
  expect(h.indexer.cancel(a)).toBe(true);
  h.replying.on = false;
  h.replying.release!();
  await h.indexer.idle();
  expect(h.states()).toEqual(['cancelled', 'ready']);
  const space = h.store.docs.spaces()[0].id;
  expect(h.store.docs.vectorCount(space, a)).toBe(0);
  h.indexer.add(h.store.docs.document(a)!, 'a.txt');
  await h.indexer.idle();
  expect(h.states()).toEqual(['ready', 'ready']);
  expect(h.store.docs.vectorCount(space, a)).toBe(h.store.docs.document(a)!.chunkCount);
  expect(h.indexer.cancel(a)).toBe(false);
});

test('no text: empty with its note; an extraction that throws: failed with its message; no embedding model: ready for keyword search', async () => {
  const h = harness({
    extract: async (_n, bytes) => {
      const t = Buffer.from(bytes).toString();
      if (t.startsWith('BAD')) throw new Error('this PDF is damaged');
      return extracted(t);
    },
  });
  h.add('blank.txt', '   ');
  h.add('bad.pdf', 'BAD file');
  await h.indexer.idle();
  expect(h.states()).toEqual(['empty', 'failed']);
  const [blank, bad] = h.store.docs.threadDocs('t1').map((l) => l.doc);
  expect(blank.note).toBe('no text found in this file');
  expect(bad.error).toBe('this PDF is damaged');

  const off = harness({ vectors: async () => ({ off: 'no embedding model is chosen' }) });
  const id = off.add('c.txt', text(3));
  await off.indexer.idle();
  expect(off.states()).toEqual(['ready']);
  expect(off.embedded).toHaveLength(0);
  expect(off.store.docs.searchText([id], 'Paragraph', 5).length).toBe(3);
});

test('a new embedding model: every indexed document is embedded into its space once the queue is empty, and the old space goes', async () => {
  const h = harness();
  const id = h.add('a.txt', text(4));
  await h.indexer.idle();
  const old = h.store.docs.spaces()[0].id;
  const next = h.store.docs.ensureSpace('embed-b', 'b', DIMS);
  const embedded: number[] = [];
  const swapped = catchUpIndexer(h, async () => ({ spaceId: next, embed: async (texts) => (embedded.push(texts.length), texts.map(vectorOf)), holdsSpecialText }));
  swapped.reembed();
  await swapped.idle();
  expect(embedded).toEqual([4]);
  expect(h.store.docs.vectorCount(next, id)).toBe(4);
  expect(h.store.docs.spaces().map((s) => s.id)).toEqual([next]);
  expect(old).not.toBe(next);
});

test('a model changed while a catch-up embeds into the old one: the new space is kept, and a pass for it follows', async () => {
  const h = harness();
  h.add('a.txt', text(3));
  await h.indexer.idle();
  const a = h.store.docs.spaces()[0].id;
  const b = h.store.docs.ensureSpace('embed-b', 'b', DIMS);
  const c = h.store.docs.ensureSpace('embed-c', 'c', DIMS);
  // the settings name b when the pass starts, c once its first batch is under way
  let current = b;
  const into: number[] = [];
  const indexer = catchUpIndexer(h, async () => {
    const spaceId = current;
    return { spaceId, embed: async (texts) => (into.push(spaceId), (current = c), texts.map(vectorOf)), holdsSpecialText };
  });
  indexer.reembed();
  await indexer.idle();
  // b's pass did not drop c; c's pass embedded everything and dropped a and b
  expect(into).toEqual([b, c]);
  expect(h.store.docs.spaces().map((s) => s.id)).toEqual([c]);
  expect(h.store.docs.spaces().map((s) => s.id)).not.toContain(a);
  expect(h.store.docs.vectorCount(c)).toBe(3);
});

/** A space made before special-token text was embedded as text, as migration 11 leaves one: its chunks of now to check. */
const madeBefore = (h: Harness, spaceId: number) =>
  h.store.db.prepare('UPDATE embedding_spaces SET special_from = 0, special_to = (SELECT max(id) FROM doc_chunks) WHERE id = ?').run(spaceId);

/** A document (named `name`, which its text holds) whose chunks have a < or a [ that is no special text, the stand-in's special text, and neither. */
function mixedDocument(h: Harness, name: string): number {
  const pad = 'word '.repeat(30).trim();
  return h.add(name, [`${name}: paragraph with a <b>tag</b> and [a link] ${pad}`, `Paragraph that quotes ${SPECIAL} in it ${pad}`, `Plain paragraph ${pad}`].join('\n\n'));
}

test("a space made before special-token text was embedded as text: its chunks holding such text are embedded again, once", async () => {
  const h = harness();
  const id = mixedDocument(h, 'a.txt');
  await h.indexer.idle();
  // the chunks as the chunker cut them: those with a < or a [, and the one holding the special text
  const chunks = h.store.docs.chunks(id).map((c) => c.text);
  const markup = chunks.filter((t) => /[<[]/.test(t));
  const quote = chunks.filter((t) => t.includes(SPECIAL));
  expect(chunks.length).toBeGreaterThan(markup.length);
  expect(markup.length).toBeGreaterThan(quote.length);
  expect(quote).toHaveLength(1);
  const space = h.store.docs.spaces()[0];
  expect(space.specialPass).toBeNull();
  madeBefore(h, space.id);
  const asked: string[][] = [];
  const again: string[][] = [];
  const ones = Array.from({ length: DIMS }, () => 1);
  const indexer = catchUpIndexer(h, async () => ({
    spaceId: space.id,
    // a different vector this time: the stored one is replaced
    embed: async (texts) => (again.push(texts), texts.map(() => ones)),
    holdsSpecialText: async (texts) => (asked.push(texts), holdsSpecialText(texts)),
  }));
  indexer.reembed();
  await indexer.idle();
  // only the chunks with a < or a [ were asked about; the one holding the model's special text was embedded again
  expect(asked).toEqual([markup]);
  expect(again).toEqual([quote]);
  expect(h.store.docs.space(space.id)!.specialPass).toBeNull();
  const nearest = h.store.docs.searchVectorsExact(space.id, [id], Float32Array.from(ones), 1)[0];
  expect(h.store.docs.chunk(nearest.chunkId)!.text).toBe(quote[0]);
  expect(nearest.distance).toBeCloseTo(0, 5);
  // done: the next pass asks nothing
  indexer.reembed();
  await indexer.idle();
  expect(asked).toHaveLength(1);
});

test("that pass failing (the model's tokenizer cannot be asked) leaves the catch-up going and goes on from its place the next time; a batch that fails twice is passed over", async () => {
  const h = harness();
  const first = mixedDocument(h, 'a.txt');
  await h.indexer.idle();
  const space = h.store.docs.spaces()[0];
  madeBefore(h, space.id);
  // a document whose vectors are missing (as for one indexed while no embedding model could be used)
  const second = mixedDocument(h, 'b.txt');
  await h.indexer.idle();
  expect(second).not.toBe(first);
  h.store.db.prepare('DELETE FROM doc_embedded WHERE doc_id = ?').run(second);
  expect(h.store.docs.vectorCount(space.id, second)).toBe(0);
  let failures = 1;
  let thrown = 0;
  const asked: string[][] = [];
  const embedded: string[][] = [];
  const indexer = catchUpIndexer(h, async () => ({
    spaceId: space.id,
    embed: async (texts) => (embedded.push(texts), texts.map(vectorOf)),
    holdsSpecialText: async (texts) => {
      if (thrown < failures) {
        thrown++;
        throw new Error('the embedding model does not fit');
      }
      asked.push(texts);
      return holdsSpecialText(texts);
    },
  }));
  indexer.reembed();
  await indexer.idle();
  // the missing vectors were made all the same; the pass has not moved
  expect(thrown).toBe(1);
  expect(h.store.docs.vectorCount(space.id, second)).toBe(h.store.docs.chunks(second).length);
  expect(h.store.docs.space(space.id)!.specialPass!.from).toBe(0);
  // the next catch-up goes on from there, over the chunks there were when the space was marked (a.txt's)
  indexer.reembed();
  await indexer.idle();
  expect(asked.flat().length).toBeGreaterThan(0);
  expect(asked.flat().every((t) => h.store.docs.chunks(first).some((c) => c.text === t))).toBe(true);
  expect(h.store.docs.space(space.id)!.specialPass).toBeNull();

  // failing twice at one place: that batch is passed over (its chunks keep their vectors), and the pass ends
  madeBefore(h, space.id);
  failures = thrown + 2;
  asked.length = 0;
  indexer.reembed();
  await indexer.idle();
  expect(h.store.docs.space(space.id)!.specialPass!.from).toBe(0);
  indexer.reembed();
  await indexer.idle();
  expect(thrown).toBe(failures);
  expect(asked).toEqual([]);
  expect(h.store.docs.space(space.id)!.specialPass).toBeNull();
});

test('the pass reads a batch of candidates at a time, going on after the last one it read', async () => {
  const h = harness();
  const pad = 'word '.repeat(30).trim();
  const id = h.add('many.txt', Array.from({ length: EMBED_BATCH + 8 }, (_, i) => `Paragraph ${i} with <i>markup</i> ${pad}`).join('\n\n'));
  await h.indexer.idle();
  const candidates = h.store.docs.chunks(id).filter((c) => c.text.includes('<'));
  expect(candidates.length).toBeGreaterThan(EMBED_BATCH);
  const space = h.store.docs.spaces()[0];
  madeBefore(h, space.id);
  const asked: number[] = [];
  const indexer = catchUpIndexer(h, async () => ({ spaceId: space.id, embed: async (texts) => texts.map(vectorOf), holdsSpecialText: async (texts) => (asked.push(texts.length), texts.map(() => false)) }));
  indexer.reembed();
  await indexer.idle();
  expect(asked).toEqual([EMBED_BATCH, candidates.length - EMBED_BATCH]);
  expect(h.store.docs.space(space.id)!.specialPass).toBeNull();
});
