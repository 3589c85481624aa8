/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): the retrieved chunks of several ranked lists
 * (keyword search, vector search) as one list. A chunk scores Σ 1 / (k + rank) over the lists it is in,
 * so one found well by both beats one found first by one only; a list that is empty adds nothing, so the
 * other alone decides the order. Pure: no store, no I/O.
 */
import { RRF_K } from '../params/docs';

export interface RankedChunk {
  chunkId: number;
  /** 1 for the best of its list */
  rank: number;
}

export interface FusedChunk {
  chunkId: number;
  score: number;
  /** the chunk's rank in each list (null: not in that list), in the lists' order */
  ranks: (number | null)[];
}

/** Fuses ranked lists, best first; equal scores in ascending chunk id. A chunk listed twice in one list counts once, at its best rank. */
export function fuseRanks(lists: readonly (readonly RankedChunk[])[], k: number = RRF_K): FusedChunk[] {
  if (!(k >= 0) || !Number.isFinite(k)) throw new RangeError(`fuseRanks: k must be a finite number ≥ 0, not ${k}`);
  const byChunk = new Map<number, (number | null)[]>();
  lists.forEach((list, li) => {
    for (const { chunkId, rank } of list) {
      if (!(rank >= 1) || !Number.isFinite(rank)) throw new RangeError(`fuseRanks: rank must be a finite number ≥ 1, not ${rank}`);
      let ranks = byChunk.get(chunkId);
      if (!ranks) {
        ranks = lists.map(() => null);
        byChunk.set(chunkId, ranks);
      }
      const prev = ranks[li];
      if (prev === null || rank < prev) ranks[li] = rank;
    }
  });
  const fused: FusedChunk[] = [];
  for (const [chunkId, ranks] of byChunk) {
    let score = 0;
    for (const r of ranks) if (r !== null) score += 1 / (k + r);
    fused.push({ chunkId, score, ranks });
  }
  return fused.sort((a, b) => b.score - a.score || a.chunkId - b.chunkId);
}
