/**
 * Full-text search (FTS5) over message content and thread titles: highlighted snippets, bm25 ranking, paging and
 * a thread filter. User input is turned into quoted FTS terms, so FTS syntax typed by a user never throws.
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { Role } from './types';
import { check, idSchema, LIMITS } from './validation';

import { HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN } from '../ipc/snippet';

export { HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN, splitHighlights } from '../ipc/snippet';

export interface SearchRequest {
  query: string;
  /** Only this thread. */
  threadId?: string;
  limit?: number;
  offset?: number;
  /** Search thread titles as well as messages (default true). */
  titles?: boolean;
}

export interface SearchHit {
  kind: 'message' | 'thread';
  threadId: string;
  threadTitle: string;
  messageId: string | null;
  role: Role | null;
  /** Text around the matches, each match between HIGHLIGHT_OPEN and HIGHLIGHT_CLOSE. */
  snippet: string;
  /** bm25 score: lower is better (0 for messages listed newest first). */
  score: number;
  createdAt: number;
}

export interface SearchResult {
  query: string;
  hits: SearchHit[];
  offset: number;
  limit: number;
  hasMore: boolean;
  /** 'relevance': bm25 order; 'recency': every word is very common, newest matches first. */
  ranking: 'relevance' | 'recency';
}

const requestSchema = z.object({
  query: z.string().max(LIMITS.searchQueryChars),
  threadId: idSchema.optional(),
  limit: z.number().int().min(1).max(200).optional(),
  offset: z.number().int().min(0).max(10_000).optional(),
  titles: z.boolean().optional(),
}).strict();

const WORDLIKE = /[\p{L}\p{N}]/u;

/** A search term: a word, or a "quoted phrase" typed by the user. */
export interface Phrase {
  text: string;
}

/**
 * Splits user input into words and "quoted phrases". Whole words are matched (case and accents ignored); FTS
 * syntax characters and operators lose their meaning.
 */
export function parseQuery(input: string): Phrase[] {
  const out: Phrase[] = [];
  const re = /"([^"]*)"?|(\S+)/g;
  // control characters separate words (SQLite would read the FTS query only up to a NUL)
  const spaced = input.replace(/[\u0000-\u001f\u007f]/g, ' ');
  let m: RegExpExecArray | null;
  while ((m = re.exec(spaced)) !== null) {
    const text = (m[1] ?? m[2] ?? '').replace(/"/g, ' ').replace(/\s+/g, ' ').trim();
    if (text && WORDLIKE.test(text)) out.push({ text });
  }
  return out;
}

const ftsPhrase = (p: Phrase) => `"${p.text}"`;

/**
 * Builds a safe FTS5 query from user input: words (and "quoted phrases") become quoted FTS strings joined by AND.
 * Returns null when the input has nothing searchable.
 */
export function toFtsQuery(input: string): string | null {
  const phrases = parseQuery(input);
  return phrases.length ? phrases.map(ftsPhrase).join(' AND ') : null;
}

/** The FTS5 expression for phrases in message content, optionally limited to one thread (its thread_key token). */
function matchExpr(phrases: Phrase[], threadKey: string | null): string {
  const content = `{content} : (${phrases.map(ftsPhrase).join(' AND ')})`;
  return threadKey ? `{thread_key} : "${threadKey}" AND ${content}` : content;
}

/** The single token the index holds for a thread id (see migration 3). */
export const threadKey = (threadId: string) => Buffer.from(threadId, 'utf8').toString('hex').toUpperCase();

export interface SearchOptions {
  /**
   * Relevance (bm25) is computed over the most recent `rankWindow` matches, so a query that matches a large part of
   * the history stays fast; a query with fewer matches is ranked over all of them.
   */
  rankWindow: number;
  /**
   * Words found in more messages than this carry almost no relevance signal (bm25's IDF is near zero) while computing
   * it costs a pass over all their occurrences. They still filter the results, but ranking uses the rarer words, and
   * a query made only of such words lists the newest matches first.
   */
  commonDocs: number;
  snippetTokens: number;
}

export const DEFAULT_SEARCH_OPTIONS: SearchOptions = { rankWindow: 500, commonDocs: 20_000, snippetTokens: 16 };

interface Candidate { seq: number; score: number }
interface TitleRow { id: string; title: string; updated_at: number; score: number; snippet: string }

const PROBE = 1000;
const DF_CACHE_MS = 10 * 60_000;
const DF_CACHE_SIZE = 1000;

/*
 * Note: FTS5 honours a rowid constraint only when the bound value is an INTEGER; better-sqlite3 binds JS numbers as
 * REAL, so rowid parameters are never bound directly here (snippets are taken in a scan instead).
 */
export class Search {
  private readonly stmts;
  private readonly opts: SearchOptions;
  private readonly dfCache = new Map<string, { df: number; at: number }>();

  constructor(db: Database.Database, opts: Partial<SearchOptions> = {}) {
    this.opts = { ...DEFAULT_SEARCH_OPTIONS, ...opts };
    const o = `'${HIGHLIGHT_OPEN}'`;
    const c = `'${HIGHLIGHT_CLOSE}'`;
    const n = Math.max(1, Math.floor(this.opts.snippetTokens));
    this.stmts = {
      // newest matches first, no scoring
      recent: db.prepare(`SELECT rowid FROM messages_fts WHERE messages_fts MATCH @q ORDER BY rowid DESC LIMIT @limit`).pluck(),
      // bm25 over the newest @window matches
      ranked: db.prepare(`
        SELECT seq, score FROM (
          SELECT rowid AS seq, bm25(messages_fts, 1.0, 0.0) AS score FROM messages_fts
          WHERE messages_fts MATCH @q ORDER BY rowid DESC LIMIT @window
        ) ORDER BY score, seq DESC LIMIT @limit`),
      scores: db.prepare(`
        SELECT rowid AS seq, bm25(messages_fts, 1.0, 0.0) AS score FROM messages_fts
        WHERE messages_fts MATCH @q ORDER BY rowid DESC LIMIT @window`),
      // snippets for the page's rows only, taken while scanning the newest matches
      snippets: db.prepare(`
        SELECT seq, snippet FROM (
          SELECT rowid AS seq, CASE WHEN rowid IN (SELECT value FROM json_each(@page))
            THEN snippet(messages_fts, 0, ${o}, ${c}, '…', ${n}) END AS snippet
          FROM messages_fts WHERE messages_fts MATCH @q ORDER BY rowid DESC LIMIT @window
        ) WHERE snippet IS NOT NULL`),
      probe: db.prepare(`SELECT count(*) AS n, min(rowid) AS lo FROM (
          SELECT rowid FROM messages_fts WHERE messages_fts MATCH @q ORDER BY rowid DESC LIMIT ${PROBE})`),
      bounds: db.prepare('SELECT (SELECT min(seq) FROM messages) AS lo, (SELECT max(seq) FROM messages) AS hi'),
      messageInfo: db.prepare(`
        SELECT m.seq, m.id, m.role, m.created_at, t.id AS thread_id, t.title
        FROM messages m JOIN threads t ON t.id = m.thread_id WHERE m.seq IN (SELECT value FROM json_each(?))`),
      titles: db.prepare(`
        SELECT t.id, t.title, t.updated_at, r.score, r.snippet FROM (
          SELECT rowid, bm25(threads_fts) AS score, highlight(threads_fts, 0, ${o}, ${c}) AS snippet
          FROM threads_fts WHERE threads_fts MATCH @q ORDER BY rowid DESC LIMIT @window
        ) AS r JOIN threads t ON t.seq = r.rowid ORDER BY r.score LIMIT @limit`),
      titleInThread: db.prepare(`
        SELECT t.id, t.title, t.updated_at, bm25(threads_fts) AS score,
          highlight(threads_fts, 0, ${o}, ${c}) AS snippet
        FROM threads t CROSS JOIN threads_fts ON threads_fts.rowid = t.seq
        WHERE t.id = @thread AND threads_fts MATCH @q`),
    };
  }

  /** Estimated number of messages containing a word: exact below ${PROBE}, else from the density of its newest matches. */
  private wordDocs(word: string): number {
    const key = word.toLowerCase();
    const now = Date.now();
    const hit = this.dfCache.get(key);
    if (hit && now - hit.at < DF_CACHE_MS) return hit.df;
    const r = this.stmts.probe.get({ q: `{content} : ${ftsPhrase({ text: word })}` }) as { n: number; lo: number | null };
    let df = r.n;
    if (r.n >= PROBE && r.lo !== null) {
      const b = this.stmts.bounds.get() as { lo: number; hi: number };
      df = Math.round((PROBE * (b.hi - b.lo + 1)) / Math.max(1, b.hi - r.lo + 1));
    }
    if (this.dfCache.size >= DF_CACHE_SIZE) this.dfCache.delete(this.dfCache.keys().next().value as string);
    this.dfCache.set(key, { df, at: now });
    return df;
  }

  /** A phrase costs as much to rank as its rarest word. */
  private phraseDocs(p: Phrase): number {
    const words = p.text.split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    if (words.length === 0) return 0;
    return Math.min(...words.map((w) => this.wordDocs(w)));
  }

  search(req: SearchRequest): SearchResult {
    const v = check(requestSchema, req, 'search request');
    const limit = v.limit ?? 20;
    const offset = v.offset ?? 0;
    const phrases = parseQuery(v.query);
    if (phrases.length === 0) return { query: v.query, hits: [], offset, limit, hasMore: false, ranking: 'relevance' };
    const want = offset + limit + 1;
    const key = v.threadId ? threadKey(v.threadId) : null;
    const full = matchExpr(phrases, key);
    const window = Math.max(this.opts.rankWindow, want);
    const rankable = phrases.filter((p) => this.phraseDocs(p) <= this.opts.commonDocs);

    // 1. message candidates, best first
    let ranking: SearchResult['ranking'] = 'relevance';
    let messages: Candidate[];
    if (rankable.length === 0) {
      ranking = 'recency';
      messages = (this.stmts.recent.all({ q: full, limit: want }) as number[]).map((seq) => ({ seq, score: 0 }));
    } else if (rankable.length === phrases.length) {
      messages = this.stmts.ranked.all({ q: full, window, limit: want }) as Candidate[];
    } else {
      // filter by every word, rank by the rarer ones
      const newest = this.stmts.recent.all({ q: full, limit: window }) as number[];
      const scores = new Map((this.stmts.scores.all({ q: matchExpr(rankable, key), window }) as Candidate[])
        .map((c) => [c.seq, c.score]));
      messages = newest.map((seq) => ({ seq, score: scores.get(seq) ?? 0 }))
        .sort((a, b) => a.score - b.score || b.seq - a.seq).slice(0, want);
    }

    // 2. title candidates
    const q = phrases.map(ftsPhrase).join(' AND ');
    const titles = v.titles === false ? [] : (v.threadId
      ? this.stmts.titleInThread.all({ q, thread: v.threadId })
      : this.stmts.titles.all({ q, window, limit: want })) as TitleRow[];

    // 3. merge (title hits rank with their own bm25; newest-first message hits have score 0) and page
    type Merged = { kind: 'message'; c: Candidate } | { kind: 'thread'; t: TitleRow };
    const merged: Merged[] = [
      ...titles.map((t): Merged => ({ kind: 'thread', t })),
      ...messages.map((c): Merged => ({ kind: 'message', c })),
    ];
    const score = (x: Merged) => (x.kind === 'thread' ? x.t.score : x.c.score);
    merged.sort((a, b) => score(a) - score(b));
    const page = merged.slice(offset, offset + limit);

    // 4. details and snippets for the page only
    const seqs = page.flatMap((x) => (x.kind === 'message' ? [x.c.seq] : []));
    const info = new Map<number, { id: string; role: Role; created_at: number; thread_id: string; title: string }>();
    const snippets = new Map<number, string>();
    if (seqs.length > 0) {
      const json = JSON.stringify(seqs);
      for (const r of this.stmts.messageInfo.all(json) as { seq: number; id: string; role: Role; created_at: number; thread_id: string; title: string }[]) {
        info.set(r.seq, r);
      }
      const oldest = Math.min(...seqs);
      const reach = ranking === 'recency' ? want : window;
      for (const r of this.stmts.snippets.iterate({ q: full, page: json, window: reach }) as IterableIterator<{ seq: number; snippet: string }>) {
        snippets.set(r.seq, r.snippet);
        if (r.seq === oldest) break;
      }
    }
    const hits: SearchHit[] = [];
    for (const x of page) {
      if (x.kind === 'thread') {
        hits.push({ kind: 'thread', threadId: x.t.id, threadTitle: x.t.title, messageId: null, role: null,
          snippet: x.t.snippet, score: x.t.score, createdAt: x.t.updated_at });
        continue;
      }
      const m = info.get(x.c.seq);
      if (!m) continue; // deleted between the two reads (cannot happen on one connection; defensive)
      hits.push({ kind: 'message', threadId: m.thread_id, threadTitle: m.title, messageId: m.id, role: m.role,
        snippet: snippets.get(x.c.seq) ?? '', score: x.c.score, createdAt: m.created_at });
    }
    return { query: v.query, hits, offset, limit, hasMore: merged.length > offset + limit, ranking };
  }
}
