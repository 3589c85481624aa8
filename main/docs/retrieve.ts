/**
 * The sources a turn is given from its thread's documents: when they fit the share of the context
 * the settings give whole documents (wholeDocumentShare), each goes whole; otherwise its question
 * is searched both ways — FTS5 BM25 over the chunks' words and the nearest vectors of the current
 * embedding model — the two rankings fused by reciprocal rank (./fuse.ts), optionally reordered by a
 * reranker, and the best chunks taken in order within the token budget (retrievalTokens, topK).
 */
import type { SourceDTO } from '../ipc/docs';
import type { DocumentSettings } from '../params';
import type { DocsStore } from '../store/docs';
import { fuseRanks } from './fuse';
import { joinChunks } from './prompt';

/** A document of the thread, ready to search. */
export interface ThreadDoc {
  id: number;
  hash: string;
  name: string;
  tokens: number;
}

export interface RetrieveDeps {
  store: DocsStore;
  settings: DocumentSettings;
  /** the question's vector and the space to search (null: keyword search only) */
  vector: ((text: string, signal: AbortSignal) => Promise<{ spaceId: number; vector: Float32Array } | null>) | null;
  /** scores of passages against the question on the reranker (null: none set) */
  rerank: ((query: string, passages: string[], signal: AbortSignal) => Promise<number[]>) | null;
}

/** How many candidates each list gives the fusion, per chunk taken. */
export const CANDIDATES_PER_PICK = 4;
/** The most candidates a reranker scores. */
const RERANK_CANDIDATES = 32;

export async function retrieveSources(deps: RetrieveDeps, docs: readonly ThreadDoc[], query: string, contextTokens: number, signal: AbortSignal): Promise<SourceDTO[]> {
  if (docs.length === 0) return [];
  const { store, settings } = deps;
  const byId = new Map(docs.map((d) => [d.id, d]));
  const wholeBudget = Math.floor(settings.wholeDocumentShare * contextTokens);
  const total = docs.reduce((n, d) => n + d.tokens, 0);
  if (total <= wholeBudget) {
    return docs.map((d, i) => ({
      n: i + 1, ref: d.hash, name: d.name, chunkId: null, page: null, heading: null,
      text: joinChunks(store.chunks(d.id)), mode: 'whole' as const, score: null,
    }));
  }
  const budget = Math.max(1, Math.min(settings.retrievalTokens, wholeBudget > 0 ? wholeBudget : settings.retrievalTokens));
  const k = settings.topK * CANDIDATES_PER_PICK;
  const ids = docs.map((d) => d.id);
  const q = query.trim();
  // the three at once: the engine host embeds the question and the keyword search's thread searches its words
  // while this thread searches the vectors
  const embedding = q && deps.vector ? deps.vector(q, signal) : null;
  const words = q ? store.searchTextOffThread(ids, q, k, signal) : Promise.resolve([]);
  // (each is awaited below; until then a failure must not count as unhandled)
  embedding?.catch(() => undefined);
  words.catch(() => undefined);
  const found = embedding ? await embedding : null;
  const vector = found ? store.searchVectors(found.spaceId, ids, found.vector, k) : [];
  // (stopped: what was found so far, as the embedding's and the reranker's failures give; the turn drops it)
  const keyword = await words.catch((e: Error) => {
    if (signal.aborted) return [];
    throw e;
  });
  let ranked = fuseRanks([keyword, vector]).map((f) => ({
    chunkId: f.chunkId,
    score: {
      fused: f.score,
      keywordRank: f.ranks[0],
      vectorRank: f.ranks[1],
      distance: vector.find((v) => v.chunkId === f.chunkId)?.distance ?? null,
      rerank: null as number | null,
    },
  }));
  if (ranked.length === 0) {
    // nothing matched (or no question: documents alone): the documents' first chunks, in order
    ranked = store.chunksForFallback(ids, settings.topK).map((c) => ({ chunkId: c.id, score: { fused: 0, keywordRank: null, vectorRank: null, distance: null, rerank: null } }));
  }
  if (deps.rerank && q && ranked.length > 1) {
    const head = ranked.slice(0, RERANK_CANDIDATES);
    const texts = head.map((r) => store.chunk(r.chunkId)?.text ?? '');
    const scores = await deps.rerank(q, texts, signal);
    head.forEach((r, i) => (r.score.rerank = scores[i] ?? null));
    ranked = [...head.sort((a, b) => (b.score.rerank ?? -Infinity) - (a.score.rerank ?? -Infinity)), ...ranked.slice(RERANK_CANDIDATES)];
  }
  const out: SourceDTO[] = [];
  let used = 0;
  for (const r of ranked) {
    if (out.length >= settings.topK) break;
    const c = store.chunk(r.chunkId);
    const d = c ? byId.get(c.docId) : undefined;
    if (!c || !d) continue;
    if (used + c.tokens > budget && out.length > 0) continue;
    used += c.tokens;
    out.push({ n: out.length + 1, ref: d.hash, name: d.name, chunkId: c.id, page: c.page, heading: c.heading, text: c.text, mode: 'retrieved', score: r.score });
  }
  return out;
}
