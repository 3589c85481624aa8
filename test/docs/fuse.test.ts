/** Reciprocal rank fusion (main/docs/fuse.ts) on fixed lists: its arithmetic, its order and its edges. */
import { fuseRanks } from '../../main/docs/fuse';
import { RRF_K } from '../../main/params/docs';

const list = (...ids: number[]) => ids.map((chunkId, i) => ({ chunkId, rank: i + 1 }));

test('a chunk ranked well by both lists beats one ranked first by one only', () => {
  // 7 is first by keywords only; 3 is second by both
  const fused = fuseRanks([list(7, 3, 5), list(9, 3, 1)]);
  expect(fused[0]).toEqual({ chunkId: 3, score: 2 / (RRF_K + 2), ranks: [2, 2] });
  expect(fused.map((f) => f.chunkId)).toEqual([3, 7, 9, 1, 5]) // 1 and 5: both third in one list, a tie;
  expect(fused.find((f) => f.chunkId === 7)).toEqual({ chunkId: 7, score: 1 / (RRF_K + 1), ranks: [1, null] });
  expect(fused.find((f) => f.chunkId === 1)!.ranks).toEqual([null, 3]);
});

test('scores are Σ 1/(k + rank) with the k given', () => {
  const [top] = fuseRanks([list(4), list(8, 4)], 0);
  expect(top).toEqual({ chunkId: 4, score: 1 / 1 + 1 / 2, ranks: [1, 2] });
  const withK = fuseRanks([list(4), list(8, 4)], 10);
  expect(withK.map((f) => f.score)).toEqual([1 / 11 + 1 / 12, 1 / 11]);
});

test('equal scores are ordered by ascending chunk id', () => {
  // 30 is first in one list, 20 first in the other: the same score
  expect(fuseRanks([list(30), list(20)]).map((f) => f.chunkId)).toEqual([20, 30]);
  expect(fuseRanks([list(30, 20), list(20, 30)]).map((f) => f.chunkId)).toEqual([20, 30]);
  expect(fuseRanks([list(5, 6, 7), list(7, 6, 5)]).map((f) => f.chunkId)).toEqual([5, 7, 6]);
});

test('empty lists: nothing in, nothing out; an empty vector list leaves BM25 alone to decide', () => {
  expect(fuseRanks([])).toEqual([]);
  expect(fuseRanks([[], []])).toEqual([]);
  const bm25 = list(42, 7, 19, 3);
  const fused = fuseRanks([bm25, []]);
  expect(fused.map((f) => f.chunkId)).toEqual([42, 7, 19, 3]);
  expect(fused.map((f) => f.ranks)).toEqual([[1, null], [2, null], [3, null], [4, null]]);
  // and the other way round
  expect(fuseRanks([[], bm25]).map((f) => f.chunkId)).toEqual([42, 7, 19, 3]);
});

test('ranks as given (not positions): a chunk listed twice in one list counts once, at its best rank', () => {
  const fused = fuseRanks([[{ chunkId: 1, rank: 5 }, { chunkId: 2, rank: 2 }, { chunkId: 1, rank: 3 }]]);
  expect(fused).toEqual([
    { chunkId: 2, score: 1 / (RRF_K + 2), ranks: [2] },
    { chunkId: 1, score: 1 / (RRF_K + 3), ranks: [3] },
  ]);
  expect(() => fuseRanks([[{ chunkId: 1, rank: 0 }]])).toThrow(RangeError);
  expect(() => fuseRanks([list(1)], -1)).toThrow(RangeError);
});
