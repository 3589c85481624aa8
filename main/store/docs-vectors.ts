/**
 * The documents' vectors (migration 8): one embedding space per embedding model (`embedding_spaces`,
 * keyed by the indexer's fingerprint of the model), each space's vectors in its own sqlite-vec vec0
 * table `doc_vec_<space id>` (chunk_id, embedding float[dims] cosine, doc_id as a metadata column so a
 * KNN search is filtered to a set of documents while it runs). Vectors of different models never mix.
 * Which chunks have a vector in a space is kept in plain SQLite as well (`doc_embedded`, written in the
 * same transaction as the vector, gone with its chunk or space by cascade): counts and "what is left to
 * embed" read that index, never a vec0 table (a vec0 metadata filter is a full scan).
 * Where sqlite-vec did not load (vector-ext.ts) spaces are still recorded, but every vector operation
 * is a no-op or an empty result and no vec0 table is made or dropped (that needs the module).
 *
 * searchVectors is approximate, in two stages (binary quantization with rescoring, as sqlite-vec's docs and many
 * vector stores do): (1) the space's vectors as sign bits in memory (docs-binary.ts), the nearest k × OVERSAMPLE (at
 * least MIN_CANDIDATES) of the documents by Hamming distance; (2) those candidates' cosine distances from the int8
 * codes held in memory beside the bits (a vec0 point lookup costs ~1 ms: docs-binary.ts), within ~1e-3 of the exact.
 * A vec0 KNN reads every float vector of the space whatever the document filter (256 MB at 100,000 × 640); this reads
 * 8 MB of bits and k × OVERSAMPLE codes, at the cost of holding them in memory (dims + 8 bytes a vector besides the bits and ids, ~74 MB in all at
 * 100,000 × 640). It equals the exact KNN when the documents hold no more vectors than the candidates (and the nearest
 * are not nearly tied); otherwise a true neighbour whose sign bits differ much from the query's can be missed.
 *
 * The index is built off the main thread (seconds at 100,000 × 640): the space's first search, or warmIndex (the
 * documents' service warms the space in use), starts a worker (docs-index-build.ts) that reads the vectors through its
 * own read-only connection and moves the arrays back. Until then searches answer from vec0's exact KNN
 * (searchVectorsExact); this class's writes meanwhile are logged and replayed onto the index when it arrives. It is
 * kept in step by this class's writes; before a search after another connection committed (data_version) or a write
 * here, doc_embedded's count and highest chunk id are compared with the index's, and a stale index is dropped and
 * built again (exact searches meanwhile). Another connection's replacement of a vector that changes neither the count
 * nor the highest chunk id is not seen until a rebuild. Without a worker (DocVectorsOptions.indexWorker null, or a
 * database in memory) the index is built on the calling thread as the first search waits.
 * Used through store.docs (docs.ts).
 */
import type Database from 'better-sqlite3';
import type { Logger } from '../logging';
import { StoreError } from './errors';
import type { Clock } from './types';
import { check } from './validation';
import type { VectorSupport } from './vector-ext';
import { VectorCompactor } from './docs-compact';
import { BinaryIndex } from './docs-binary';
import { buildIndexInWorker, type IndexBuild } from './docs-index-build';
import { type ChunkDbRow, type ChunkToEmbed, type EmbeddingSpace, INDEX_RETRY_MS, MIN_CANDIDATES, OVERSAMPLE, passPlace, type SpaceDbRow, spaceSchema, toSpace, type VectorHit, type VectorRow, docIdsSchema, kSchema, limitSchema, rowId, toChunkToEmbed } from './docs-vector-shapes';

export { INDEX_RETRY_MS, MAX_DIMS, MAX_KNN, MIN_CANDIDATES, OVERSAMPLE, docIdsSchema, kSchema, limitSchema, rowId } from './docs-vector-shapes';
export type { ChunkToEmbed, EmbeddingSpace, VectorHit, VectorRow } from './docs-vector-shapes';

/** The vec0 table of a space (the id is an integer from the database, never user text). */
const tableOf = (spaceId: number) => `doc_vec_${spaceId}`;
const TABLE_NAME = /^doc_vec_(\d+)$/;
/** Makes a space's vec0 table if it is missing (needs sqlite-vec). */
const createTable = (db: Database.Database, spaceId: number, dims: number) => db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${tableOf(spaceId)}
  USING vec0(chunk_id integer primary key, embedding float[${dims}] distance_metric=cosine, doc_id integer)`);

interface SpaceStmts {
  remove: Database.Statement;
  insert: Database.Statement;
  knn: Database.Statement;
  all: Database.Statement;
}

/** A space's sign-bit index and what doc_embedded said when it was last known to be in step. */
interface SpaceIndex {
  index: BinaryIndex;
  /** PRAGMA data_version then (it changes when another connection commits) */
  dataVersion: number;
  /** false after a write of this connection (which may yet be rolled back): check doc_embedded before the next search */
  verified: boolean;
}

/** A write of this connection to a space while its index is built: replayed onto the index when it arrives. */
type LoggedWrite = { chunkId: number; docId: number; vector: Float32Array } | { chunkId: number; docId?: undefined };

/** A space's index being built in the worker, the writes made here since it started, and who waits for it. */
interface SpaceBuild {
  build: IndexBuild;
  writes: LoggedWrite[];
  /** resolves true when the index is in place, false when the build failed or was stopped */
  ready: Promise<boolean>;
}

/** Where the index is built: in a worker thread (its bundled file), or on the calling thread (null). */
export interface DocVectorsOptions {
  indexWorker: string | null;
}

/** Where a space's index stands: searches use it ('ready'), or vec0's exact KNN while it is built or not yet asked for. */
export type VectorIndexState = 'none' | 'building' | 'reading' | 'ready';

export class DocVectors {
  private readonly stmts;
  private readonly perSpace = new Map<number, SpaceStmts>();
  private readonly indexes = new Map<number, SpaceIndex>();
  /** gives back the space of deleted vectors (docs-compact.ts) */
  private readonly compactor: VectorCompactor;
  private readonly builds = new Map<number, SpaceBuild>();
  /** when a space's last build failed (performance.now()) */
  private readonly failedAt = new Map<number, number>();
  private closed = false;

  constructor(private readonly db: Database.Database, private readonly clock: Clock, private readonly logger: Logger,
    readonly support: VectorSupport, private readonly opts: DocVectorsOptions = { indexWorker: null }) {
    this.stmts = {
      space: db.prepare('SELECT * FROM embedding_spaces WHERE id = ?'),
      spaceByKey: db.prepare('SELECT * FROM embedding_spaces WHERE model_key = ?'),
      spaces: db.prepare('SELECT * FROM embedding_spaces ORDER BY id'),
      insertSpace: db.prepare('INSERT INTO embedding_spaces (model_key, model_name, dims, created_at) VALUES (?, ?, ?, ?)'),
      renameSpace: db.prepare('UPDATE embedding_spaces SET model_name = ? WHERE id = ?'),
      specialFrom: db.prepare('UPDATE embedding_spaces SET special_from = ? WHERE id = ? AND special_from IS NOT NULL'),
      specialDone: db.prepare('UPDATE embedding_spaces SET special_from = NULL, special_to = NULL WHERE id = ?'),
      deleteSpace: db.prepare('DELETE FROM embedding_spaces WHERE id = ?'),
      hasTable: db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").pluck(),
      vecTables: db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'doc\\_vec\\_%' ESCAPE '\\' AND sql LIKE 'CREATE VIRTUAL TABLE%'").pluck(),
      chunkDoc: db.prepare('SELECT doc_id FROM doc_chunks WHERE id = ?').pluck(),
      // which chunks have a vector in a space: doc_embedded (plain SQLite, indexed), never a vec0 scan
      embedded: db.prepare('INSERT INTO doc_embedded (space_id, chunk_id, doc_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
      count: db.prepare('SELECT count(*) FROM doc_embedded WHERE space_id = ?').pluck(),
      extent: db.prepare('SELECT count(*) AS n, coalesce(max(chunk_id), 0) AS hi FROM doc_embedded WHERE space_id = ?'),
      embeddedIds: db.prepare('SELECT chunk_id FROM doc_embedded WHERE space_id = ?').pluck(),
      liveChunk: db.prepare('SELECT 1 FROM doc_chunks WHERE id = ?').pluck(),
      countDoc: db.prepare('SELECT count(*) FROM doc_embedded WHERE space_id = ? AND doc_id = ?').pluck(),
      missing: db.prepare(`SELECT c.id, c.doc_id, c.text, c.heading FROM doc_chunks c
        WHERE NOT EXISTS (SELECT 1 FROM doc_embedded e WHERE e.space_id = ? AND e.chunk_id = c.id) ORDER BY c.id LIMIT ?`),
      missingDoc: db.prepare(`SELECT c.id, c.doc_id, c.text, c.heading FROM doc_chunks c
        WHERE c.doc_id = ? AND NOT EXISTS (SELECT 1 FROM doc_embedded e WHERE e.space_id = ? AND e.chunk_id = c.id) ORDER BY c.seq LIMIT ?`),
    };
    this.compactor = new VectorCompactor({
      db, logger,
      tables: () => this.spaces().filter((sp) => this.stmts.hasTable.get(tableOf(sp.id))).map((sp) => ({ spaceId: sp.id, dims: sp.dims, table: tableOf(sp.id) })),
      put: (spaceId, rows) => this.putVectors(spaceId, rows),
    });
  }

  get available(): boolean {
    return this.support.available;
  }

  /** The space of `modelKey`, made (with its vec0 table) if new; a model key recorded with other dims is invalid_input. */
  ensureSpace(modelKey: string, modelName: string | null, dims: number): number {
    const v = check(spaceSchema, { modelKey, modelName, dims }, 'embedding space');
    return this.db.transaction(() => {
      const found = this.stmts.spaceByKey.get(v.modelKey) as SpaceDbRow | undefined;
      if (found && found.dims !== v.dims) {
        throw new StoreError('invalid_input', `embedding model ${v.modelKey} has ${found.dims} dimensions here, not ${v.dims}`,
          { spaceId: found.id, dims: found.dims });
      }
      const id = found ? found.id : Number(this.stmts.insertSpace.run(v.modelKey, v.modelName, v.dims, this.clock()).lastInsertRowid);
      if (found && v.modelName !== null && found.model_name !== v.modelName) this.stmts.renameSpace.run(v.modelName, id);
      if (this.available) createTable(this.db, id, v.dims);
      return id;
    })();
  }

  spaces(): EmbeddingSpace[] {
    return (this.stmts.spaces.all() as SpaceDbRow[]).map(toSpace);
  }

  space(id: number): EmbeddingSpace | null {
    const r = this.stmts.space.get(check(rowId, id, 'space id')) as SpaceDbRow | undefined;
    return r ? toSpace(r) : null;
  }

  /** Where a space's pass over its chunks for special-token text goes on (EmbeddingSpace.specialPass), or (null) that it is done. */
  moveSpecialPass(id: number, from: number | null): void {
    const spaceId = check(rowId, id, 'space id');
    if (from === null) this.stmts.specialDone.run(spaceId);
    else this.stmts.specialFrom.run(check(passPlace, from, 'chunk id'), spaceId);
  }

  /** Deletes a space and its vectors, and its doc_embedded rows (its table stays where sqlite-vec is unavailable; dropOrphanTables drops it later). */
  dropSpace(id: number): boolean {
    const spaceId = check(rowId, id, 'space id');
    return this.db.transaction(() => {
      const gone = this.stmts.deleteSpace.run(spaceId).changes > 0;
      this.perSpace.delete(spaceId);
      this.forgetIndex(spaceId);
      if (this.available) this.db.exec(`DROP TABLE IF EXISTS ${tableOf(spaceId)}`);
      return gone;
    })();
  }

  /** Chunks that have no vector in the space yet, oldest first (of one document: in order), with their headings ([] without sqlite-vec). */
  chunksWithoutVectors(spaceId: number, opts: { docId?: number; limit: number }): ChunkToEmbed[] {
    const s = this.statements(spaceId);
    const limit = check(limitSchema, opts.limit, 'limit');
    if (!s) return [];
    const rows = (opts.docId === undefined ? this.stmts.missing.all(spaceId, limit)
      : this.stmts.missingDoc.all(check(rowId, opts.docId, 'document id'), spaceId, limit)) as ChunkDbRow[];
    return rows.map(toChunkToEmbed);
  }

  /**
   * Stores vectors (a chunk's previous vector in the space is replaced). A chunk no longer stored (its document was
   * re-chunked or deleted while it was embedded) is skipped; returns how many were stored (0 without sqlite-vec).
   */
  putVectors(spaceId: number, rows: VectorRow[]): number {
    const space = this.requireSpace(spaceId);
    const s = this.statements(spaceId);
    if (!s) return 0;
    for (const [i, r] of rows.entries()) {
      check(rowId, r.chunkId, `vectors[${i}].chunkId`);
      check(rowId, r.docId, `vectors[${i}].docId`);
      this.checkVector(r.vector, space.dims, `vectors[${i}].vector`);
    }
    const mem = this.indexes.get(spaceId);
    if (mem) mem.verified = false;
    const building = this.builds.get(spaceId);
    return this.db.transaction(() => {
      let stored = 0;
      for (const r of rows) {
        const docId = this.stmts.chunkDoc.get(r.chunkId) as number | undefined;
        if (docId === undefined) continue;
        if (docId !== r.docId) throw new StoreError('invalid_input', `chunk ${r.chunkId} belongs to document ${docId}, not ${r.docId}`);
        s.remove.run(BigInt(r.chunkId));
        s.insert.run(BigInt(r.chunkId), r.vector, BigInt(r.docId));
        this.stmts.embedded.run(spaceId, r.chunkId, r.docId);
        mem?.index.put(r.chunkId, r.docId, r.vector);
        building?.writes.push({ chunkId: r.chunkId, docId: r.docId, vector: r.vector.slice() });
        stored++;
      }
      return stored;
    })();
  }

  /** Chunks (of one document) with a vector in the space, 0 without sqlite-vec: an index range of doc_embedded, no vec0 scan. */
  vectorCount(spaceId: number, docId?: number): number {
    const s = this.statements(spaceId);
    if (!s) return 0;
    return (docId === undefined ? this.stmts.count.get(spaceId) : this.stmts.countDoc.get(spaceId, check(rowId, docId, 'document id'))) as number;
  }

  /** A search's arguments checked, with the space's statements; null: nothing to search (no sqlite-vec, no documents). */
  private searchArgs(spaceId: number, docIds: number[], vector: Float32Array, k: number) {
    const space = this.requireSpace(spaceId);
    const ids = check(docIdsSchema, docIds, 'document ids');
    const n = check(kSchema, k, 'k');
    this.checkVector(vector, space.dims, 'query vector');
    const s = this.statements(spaceId);
    return s && ids.length > 0 ? { space, ids, n, s } : null;
  }

  /**
   * The `k` chunks of `docIds` nearest to `vector`, nearest first ([] without sqlite-vec): from the space's in-memory
   * index when it is ready; otherwise (its build just started, or under way in the worker) from vec0's exact KNN.
   */
  searchVectors(spaceId: number, docIds: number[], vector: Float32Array, k: number): VectorHit[] {
    const q = this.searchArgs(spaceId, docIds, vector, k);
    if (!q) return [];
    const { space, ids, n, s } = q;
    return this.db.transaction(() => {
      const index = this.binaryIndex(spaceId, space.dims, s);
      if (!index) return this.knn(s, vector, n, ids);
      // 1. candidates by the sign bits' Hamming distance
      const candidates = index.nearest(vector, new Set(ids), Math.max(MIN_CANDIDATES, n * OVERSAMPLE));
      // 2. their exact distances (a chunk gone since its vector was stored is never returned)
      let qq = 0;
      for (let i = 0; i < vector.length; i++) qq += vector[i] * vector[i];
      const hits: { chunkId: number; distance: number }[] = [];
      for (const chunkId of candidates) {
        const distance = index.distance(chunkId, vector, Math.sqrt(qq));
        if (distance !== undefined && this.stmts.liveChunk.get(chunkId)) hits.push({ chunkId, distance });
      }
      hits.sort((a, b) => a.distance - b.distance || a.chunkId - b.chunkId);
      return hits.slice(0, n).map((h, i) => ({ chunkId: h.chunkId, rank: i + 1, distance: h.distance }));
    })();
  }

  /**
   * The exact KNN (vec0 reads every vector of the space): the `k` chunks of `docIds` nearest to `vector`. What
   * searchVectors approximates, and answers with while the space's index is not ready.
   */
  searchVectorsExact(spaceId: number, docIds: number[], vector: Float32Array, k: number): VectorHit[] {
    const q = this.searchArgs(spaceId, docIds, vector, k);
    return q ? this.knn(q.s, vector, q.n, q.ids) : [];
  }

  private knn(s: SpaceStmts, vector: Float32Array, n: number, ids: number[]): VectorHit[] {
    // the IN list is read from JSON (json_each), so any number of documents is one query and one KNN pass
    const rows = s.knn.all(vector, n, JSON.stringify(ids)) as { chunk_id: number; distance: number }[];
    return rows.map((r, i) => ({ chunkId: r.chunk_id, rank: i + 1, distance: r.distance }));
  }

  /**
   * Starts building the space's index if it is neither ready nor being built (a search would start it too): the
   * documents' service warms the space in use so a session's first question rarely finds it unbuilt. Resolves true
   * once the index is ready, false when it cannot be (no sqlite-vec, no worker, the build failed). not_found for an
   * unknown space.
   */
  warmIndex(spaceId: number): Promise<boolean> {
    const space = this.requireSpace(check(rowId, spaceId, 'space id'));
    const s = this.statements(spaceId);
    if (!s || this.opts.indexWorker === null || this.db.memory) return Promise.resolve(false);
    if (this.db.transaction(() => this.binaryIndex(spaceId, space.dims, s))()) return Promise.resolve(true);
    return this.builds.get(spaceId)?.ready ?? Promise.resolve(false);
  }

  /** Where the space's index stands (for the bench and tests; a stale index is found only by the next search). */
  indexState(spaceId: number): VectorIndexState {
    const building = this.builds.get(spaceId);
    if (building) return building.build.snapshot ? 'reading' : 'building';
    return this.indexes.has(spaceId) ? 'ready' : 'none';
  }

  /** Stops the builds under way (the store closes). */
  close(): void {
    this.closed = true;
    for (const id of [...this.builds.keys()]) this.forgetIndex(id);
  }

  /**
   * The space's sign-bit index when it is ready and in step with the database. Null while it is built: a build
   * is started here when there is none (not sooner than INDEX_RETRY_MS after a failed one). Without a worker
   * (opts.indexWorker null) it is built here, on this thread, as the call waits.
   */
  private binaryIndex(spaceId: number, dims: number, s: SpaceStmts): BinaryIndex | null {
    const mem = this.indexes.get(spaceId);
    const dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    if (mem && mem.verified && mem.dataVersion === dataVersion) return mem.index;
    const extent = this.stmts.extent.get(spaceId) as { n: number; hi: number };
    if (mem && mem.index.dims === dims && mem.index.size === extent.n && mem.index.maxChunkId() === extent.hi) {
      mem.verified = true;
      mem.dataVersion = dataVersion;
      return mem.index;
    }
    // missing, or stale: another connection changed the space (or a write here was rolled back)
    this.indexes.delete(spaceId);
    // (a database in memory has no file another connection could read)
    const worker = this.db.memory ? null : this.opts.indexWorker;
    if (worker === null) {
      const index = this.buildHere(spaceId, dims, s);
      this.indexes.set(spaceId, { index, dataVersion, verified: true });
      return index;
    }
    if (!this.builds.has(spaceId) && !this.closed && performance.now() - (this.failedAt.get(spaceId) ?? -Infinity) >= INDEX_RETRY_MS) {
      this.startBuild(worker, spaceId, dims);
    }
    return null;
  }

  private startBuild(workerFile: string, spaceId: number, dims: number): void {
    const build = buildIndexInWorker(workerFile, { dbFile: this.db.name, extensionFile: this.support.file ?? '', spaceId, dims });
    const entry: SpaceBuild = {
      build,
      writes: [],
      ready: build.done.then(
        ({ index }) => {
          if (this.builds.get(spaceId) !== entry) return false;
          this.builds.delete(spaceId);
          this.failedAt.delete(spaceId);
          // what this connection wrote since the build started (some of it perhaps in the worker's snapshot
          // already: a put or a removal again changes nothing), in order
          for (const w of entry.writes) {
            if (w.docId === undefined) index.remove(w.chunkId);
            else index.put(w.chunkId, w.docId, w.vector);
          }
          // checked against doc_embedded before its first search: another connection's writes, or one of these
          // rolled back, make it stale (then it is built again)
          this.indexes.set(spaceId, { index, dataVersion: -1, verified: false });
          return true;
        },
        (e: Error) => {
          if (this.builds.get(spaceId) !== entry) return false;
          this.builds.delete(spaceId);
          this.failedAt.set(spaceId, performance.now());
          this.logger.warn('store: the vector index could not be built; vector search reads every vector meanwhile', { spaceId, error: e.message });
          return false;
        },
      ),
    };
    this.builds.set(spaceId, entry);
  }

  /** The space's index built on this thread from vec0 (no worker). */
  private buildHere(spaceId: number, dims: number, s: SpaceStmts): BinaryIndex {
    // the vectors doc_embedded lists (a vec0 row left behind by a deletion without sqlite-vec is not one)
    const listed = new Set(this.stmts.embeddedIds.all(spaceId) as number[]);
    const index = new BinaryIndex(dims, listed.size);
    for (const r of s.all.iterate() as Iterable<{ chunk_id: number; doc_id: number; embedding: Buffer }>) {
      if (!listed.has(r.chunk_id)) continue;
      const b = r.embedding;
      // a Float32Array view needs a 4-byte aligned offset; copy otherwise
      const v = b.byteOffset % 4 === 0 ? new Float32Array(b.buffer, b.byteOffset, dims) : new Float32Array(Uint8Array.from(b.subarray(0, dims * 4)).buffer);
      index.put(r.chunk_id, r.doc_id, v);
    }
    return index;
  }

  /** Drops the space's index and stops its build. */
  private forgetIndex(spaceId: number): void {
    this.indexes.delete(spaceId);
    const building = this.builds.get(spaceId);
    this.builds.delete(spaceId);
    building?.build.stop();
  }

  /** Deletes the vectors of these chunks in every space (before the chunks themselves go; their doc_embedded rows go with them by cascade). */
  deleteChunks(chunkIds: readonly number[]): void {
    if (!this.available || chunkIds.length === 0) return;
    for (const space of this.spaces()) {
      const s = this.statements(space.id);
      if (!s) continue;
      const mem = this.indexes.get(space.id);
      if (mem) mem.verified = false;
      const building = this.builds.get(space.id);
      for (const id of chunkIds) {
        s.remove.run(BigInt(id));
        mem?.index.remove(id);
        building?.writes.push({ chunkId: id });
      }
    }
  }

  /** One step (about `budgetMs`) of giving back the space of deleted vectors (docs-compact.ts); whether more remains. */
  compactStep(budgetMs: number): boolean {
    return this.available && this.compactor.step(budgetMs);
  }

  /** Drops the vec0 tables no space owns (a space dropped where sqlite-vec was unavailable); returns how many. */
  dropOrphanTables(): number {
    if (!this.available) return 0;
    const owned = new Set(this.spaces().map((sp) => sp.id));
    let dropped = 0;
    for (const name of this.stmts.vecTables.all() as string[]) {
      const m = TABLE_NAME.exec(name);
      if (!m || owned.has(Number(m[1]))) continue;
      this.db.exec(`DROP TABLE IF EXISTS ${name}`);
      this.logger.info('store: dropped the vectors of an embedding space no longer kept', { table: name });
      dropped++;
    }
    return dropped;
  }

  private requireSpace(spaceId: number): EmbeddingSpace {
    const space = this.space(spaceId);
    if (!space) throw new StoreError('not_found', `no embedding space ${spaceId}`);
    return space;
  }

  private checkVector(v: unknown, dims: number, what: string): void {
    if (!(v instanceof Float32Array)) throw new StoreError('invalid_input', `${what}: not a Float32Array`);
    if (v.length !== dims) throw new StoreError('invalid_input', `${what}: ${v.length} dimensions, the space has ${dims}`);
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new StoreError('invalid_input', `${what}: value ${i} is not a finite number`);
    }
  }

  /** The space's statements (its vec0 table made if missing); null without sqlite-vec. not_found for an unknown space. */
  private statements(spaceId: number): SpaceStmts | null {
    const id = check(rowId, spaceId, 'space id');
    const cached = this.perSpace.get(id);
    if (cached) return cached;
    const space = this.requireSpace(id);
    if (!this.available) return null;
    const t = tableOf(id);
    // recorded where sqlite-vec was unavailable: its table is made on first use
    if (!this.stmts.hasTable.get(t)) createTable(this.db, id, space.dims);
    const db = this.db;
    const stmts: SpaceStmts = {
      remove: db.prepare(`DELETE FROM ${t} WHERE chunk_id = ?`),
      insert: db.prepare(`INSERT INTO ${t} (chunk_id, embedding, doc_id) VALUES (?, ?, ?)`),
      // joined to doc_chunks so a vector whose chunk is gone is never returned
      // (MATERIALIZED: the KNN query stays whole, vec0 takes no other ORDER BY)
      knn: db.prepare(`WITH v AS MATERIALIZED (
          SELECT chunk_id, distance FROM ${t}
          WHERE embedding MATCH ? AND k = ? AND doc_id IN (SELECT value FROM json_each(?))
        ) SELECT v.chunk_id, v.distance FROM v JOIN doc_chunks c ON c.id = v.chunk_id ORDER BY v.distance, v.chunk_id`),
      all: db.prepare(`SELECT chunk_id, doc_id, embedding FROM ${t}`),
    };
    this.perSpace.set(id, stmts);
    return stmts;
  }
}
