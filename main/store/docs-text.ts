/**
 * Keyword search over the documents' chunks (FTS5 bm25), within a set of documents: store.docs.searchText
 * (docs.ts). The query is any of the question's words or "phrases" (search.ts's parsing), very common English
 * words left out (STOP_WORDS) unless nothing else is left. The document filter is applied the cheapest way:
 * - when the documents hold a large part of all chunks, the best matches of all chunks are taken (enough that
 *   k of them are expected to be the documents') and filtered; if fewer than k remain, the filtered search below;
 * - when their chunks form few runs of consecutive chunk ids (a document's chunks are stored together), the match
 *   is limited to those rowid ranges, which FTS5 checks per row far more cheaply than a join to doc_chunks;
 * - otherwise each match is joined to its chunk and its document looked up in the set.
 * bm25 uses the whole index's statistics whatever the filter, so every way ranks the same.
 * A word in half the chunks or more has no weight in bm25 (FTS5 gives it an IDF of 1e-6) while matching it costs a
 * pass over most of the index: such words are left out of the search when other words are left and k hits are
 * found without them (scores then differ from the full query's by a few millionths; rows matching only such words
 * would have ranked after every other one). Their chunk counts come from fts5vocab, kept until the chunks' count
 * changes.
 */
import type Database from 'better-sqlite3';
import { parseQuery } from './search';

/** The most words of a query searched (the rest of a long message is left out). */
export const MAX_QUERY_TERMS = 64;

/**
 * English function words: in nearly every chunk, so they weigh almost nothing in bm25 while matching them costs a
 * pass over most of the index. Left out of a question unless it has nothing else.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'the', 'of', 'to', 'in', 'on', 'at', 'by', 'for', 'with', 'from', 'as', 'into', 'about',
  'is', 'are', 'was', 'were', 'be', 'been', 'being', 'am', 'do', 'does', 'did', 'have', 'has', 'had',
  'and', 'or', 'but', 'if', 'then', 'so', 'not', 'no',
  'what', 'where', 'when', 'how', 'why', 'who', 'whom', 'which',
  'this', 'that', 'these', 'those', 'it', 'its', 'i', 'me', 'my', 'we', 'our', 'you', 'your', 'he', 'she', 'they', 'them', 'their',
  'can', 'could', 'would', 'should', 'will', 'shall', 'may', 'might', 'there', 'here', 'any', 'some',
]);

/** A retrieval query's FTS5 expression: search.ts's words and "quoted phrases" (FTS syntax loses its meaning), any of them. */
export function toDocFtsQuery(input: string): string | null {
  const terms = docQueryTerms(input);
  return terms.length ? terms.join(' OR ') : null;
}

/** A retrieval query's terms as FTS5 strings (see toDocFtsQuery). */
export function docQueryTerms(input: string): string[] {
  const seen = new Set<string>();
  const terms: string[] = [];
  const stops: string[] = [];
  for (const p of parseQuery(input)) {
    const key = p.text.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    (STOP_WORDS.has(key) ? stops : terms).push(`"${p.text}"`);
  }
  return (terms.length ? terms : stops).slice(0, MAX_QUERY_TERMS);
}

/** The one token of an FTS5 string as the index holds it (unicode61 remove_diacritics 2), or null for a phrase of several. */
function singleToken(term: string): string | null {
  const words = term.slice(1, -1).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  return words.length === 1 ? words[0].normalize('NFD').replace(/\p{M}/gu, '').toLowerCase() : null;
}

/** Matches taken per wanted hit when filtering afterwards: k / (the documents' share of chunks) × this. */
const POST_FILTER_MARGIN = 2;
/** The documents' least share of all chunks for filtering afterwards. */
const POST_FILTER_SHARE = 0.05;
/** The most rowid ranges one query lists. */
const MAX_RANGES = 64;

export interface TextRow { chunk_id: number; score: number }

export class DocText {
  private readonly stmts;
  private readonly ranged = new Map<number, Database.Statement>();
  /** chunks holding a word (fts5vocab), while the chunks' count is `dfTotal` */
  private readonly df = new Map<string, number>();
  private dfTotal = -1;

  constructor(private readonly db: Database.Database) {
    // a connection's own view of the index's vocabulary (temp: nothing is written to the file)
    db.exec("CREATE VIRTUAL TABLE IF NOT EXISTS temp.doc_chunks_vocab USING fts5vocab(main, doc_chunks_fts, 'row')");
    this.stmts = {
      wordChunks: db.prepare('SELECT doc FROM temp.doc_chunks_vocab WHERE term = ?').pluck(),
      chunks: db.prepare('SELECT coalesce(sum(chunk_count), 0) FROM documents').pluck(),
      docsChunks: db.prepare('SELECT coalesce(sum(chunk_count), 0) FROM documents WHERE id IN (SELECT value FROM json_each(?))').pluck(),
      docsChunkIds: db.prepare('SELECT c.id FROM json_each(?) j JOIN doc_chunks c ON c.doc_id = j.value ORDER BY c.id').pluck(),
      unfiltered: db.prepare(`WITH m AS MATERIALIZED (
          SELECT rowid AS chunk_id, bm25(doc_chunks_fts) AS score FROM doc_chunks_fts WHERE doc_chunks_fts MATCH @q ORDER BY score, chunk_id LIMIT @limit
        ) SELECT m.chunk_id, m.score, c.doc_id FROM m JOIN doc_chunks c ON c.id = m.chunk_id ORDER BY m.score, m.chunk_id`),
      joined: db.prepare(`SELECT f.rowid AS chunk_id, bm25(doc_chunks_fts) AS score
        FROM doc_chunks_fts f JOIN doc_chunks c ON c.id = f.rowid
        WHERE doc_chunks_fts MATCH @q AND c.doc_id IN (SELECT value FROM json_each(@docs))
        ORDER BY score, chunk_id LIMIT @k`),
    };
  }

  /** The best `k` chunks of `docIds` matching any of `terms` (FTS5 strings), best first. */
  search(terms: string[], docIds: number[], k: number): TextRow[] {
    return this.db.transaction(() => {
      const total = this.stmts.chunks.get() as number;
      if (total !== this.dfTotal) {
        this.df.clear();
        this.dfTotal = total;
      }
      const rare = terms.filter((t) => this.wordChunks(t) * 2 < total);
      if (rare.length > 0 && rare.length < terms.length) {
        const rows = this.filtered(rare.join(' OR '), docIds, k, total);
        if (rows.length === k) return rows;
      }
      return this.filtered(terms.join(' OR '), docIds, k, total);
    })();
  }

  /** Chunks holding a single-word term (0 for a phrase of several words: it is kept). */
  private wordChunks(term: string): number {
    const token = singleToken(term);
    if (token === null) return 0;
    let n = this.df.get(token);
    if (n === undefined) {
      n = (this.stmts.wordChunks.get(token) as number | undefined) ?? 0;
      if (this.df.size >= 10_000) this.df.clear();
      this.df.set(token, n);
    }
    return n;
  }

  /** The best `k` matches of FTS5 expression `q` among the chunks of `docIds`; `total`: all chunks. */
  private filtered(q: string, docIds: number[], k: number, total: number): TextRow[] {
    const docs = JSON.stringify(docIds);
    const share = (this.stmts.docsChunks.get(docs) as number) / Math.max(1, total);
    if (share >= POST_FILTER_SHARE) {
      const limit = Math.ceil((k / share) * POST_FILTER_MARGIN);
      const rows = this.stmts.unfiltered.all({ q, limit }) as (TextRow & { doc_id: number })[];
      const wanted = new Set(docIds);
      const kept = rows.filter((r) => wanted.has(r.doc_id)).slice(0, k);
      // all matches seen, or k of the documents' among the best: the same as filtering first
      if (kept.length === k || rows.length < limit) return kept.map((r) => ({ chunk_id: r.chunk_id, score: r.score }));
    }
    const ids = this.stmts.docsChunkIds.all(docs) as number[];
    const ranges: number[] = [];
    for (const id of ids) {
      if (ranges.length > 0 && ranges[ranges.length - 1] === id - 1) ranges[ranges.length - 1] = id;
      else if (ranges.length / 2 === MAX_RANGES) return this.stmts.joined.all({ q, docs, k }) as TextRow[];
      else ranges.push(id, id);
    }
    if (ranges.length === 0) return [];
    return this.rangedStatement(ranges.length / 2).all(q, ranges[0], ranges[ranges.length - 1], ...ranges, k) as TextRow[];
  }

  /** The search limited to `n` rowid ranges (and, for FTS5 to seek, their span). */
  private rangedStatement(n: number): Database.Statement {
    let s = this.ranged.get(n);
    if (!s) {
      const within = Array.from({ length: n }, () => 'rowid BETWEEN ? AND ?').join(' OR ');
      s = this.db.prepare(`SELECT rowid AS chunk_id, bm25(doc_chunks_fts) AS score FROM doc_chunks_fts
        WHERE doc_chunks_fts MATCH ? AND rowid >= ? AND rowid <= ? AND (${within}) ORDER BY score, chunk_id LIMIT ?`);
      this.ranged.set(n, s);
    }
    return s;
  }
}
