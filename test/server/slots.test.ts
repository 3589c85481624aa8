/**
 * SlotPool's choice, with keys as promptKey makes them: a follow-up goes to the slot holding its
 * conversation even when its new part is longer than the history; a conversation sharing only a
 * system prompt takes the least recently used slot instead of evicting another's cache; a full queue
 * refuses at once; a withdrawn waiter leaves the queue.
 */
import { SlotPool } from '../../main/server/slots';
import { promptKey } from '../../main/server/generate';

const system = { role: 'system', content: 'You are a helpful assistant who answers in detail.' };
const conv = (...contents: string[]) => promptKey({ messages: [system, ...contents.map((c, i) => ({ role: i % 2 ? 'assistant' : 'user', content: c }))] });

test('a follow-up finds its slot; a shared system prompt does not evict', async () => {
  let t = 0;
  const pool = new SlotPool(2, 4, () => ++t);
  const a = await pool.acquire(conv('Tell me about owls'));
  pool.release(a);
  const b = await pool.acquire(conv('Tell me about the sea'));
  expect(b.id).not.toBe(a.id); // shares only the system prompt with a's: the other (least recently used) slot
  pool.release(b);
  // a's follow-up carries a pasted file far longer than the history so far
  const a2 = await pool.acquire(conv('Tell me about owls', 'Owls are birds.', 'x'.repeat(10_000)));
  expect(a2.id).toBe(a.id);
  pool.release(a2);
  const b2 = await pool.acquire(conv('Tell me about the sea', 'It is wide.', 'and?'));
  expect(b2.id).toBe(b.id);
  pool.release(b2);
});

test('a full queue refuses with 429 at once; a withdrawn waiter leaves the queue', async () => {
  const pool = new SlotPool(1, 1);
  const held = await pool.acquire('a');
  const ac = new AbortController();
  const waiting = pool.acquire('b', ac.signal);
  await expect(pool.acquire('c')).rejects.toMatchObject({ status: 429, retryAfterS: 1 });
  ac.abort();
  await expect(waiting).rejects.toMatchObject({ status: 499 });
  expect(pool.queued).toBe(0);
  const next = pool.acquire('d');
  pool.release(held);
  expect((await next).id).toBe(held.id);
});
