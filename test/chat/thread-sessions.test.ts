/**
 * Every thread keeps its KV cache (main/chat/sessions.ts), through the IPC entry point with the real
 * store, the real engine host and a generated model: threads on sequences of their own, an evicted
 * thread's state saved to <data>/sessions and restored on its next turn (after a restart too), a
 * state made under other load settings or a corrupt one deleted (the turn reads again), the disk
 * budget and the age bound, a deleted thread's state deleted.
 */
import fs from 'fs';
import path from 'path';
import { ThreadSessions } from '../../main/chat/sessions';
import type { MessageDTO } from '../../main/ipc/contract';
import { silentLogger } from '../../main/logging';
import { CHAT_MODEL_ID } from '../../main/models/library';
import { type ChatApp, chatApp, nextDone } from '../helpers/chat';

jest.setTimeout(120_000);

/** A long user message (a few hundred tokens), different per thread and turn. */
function long(tag: string): string {
  return Array.from({ length: 40 }, (_, i) => `${tag} line ${i}: the quick brown fox jumps over the lazy dog.`).join('\n');
}

const apps: ChatApp[] = [];
afterEach(async () => {
  while (apps.length) await apps.pop()!.close();
});

function open(opts: { dir?: string; liveThreads?: number; diskBudgetMiB?: number } = {}): ChatApp {
  const a = chatApp({ dir: opts.dir, chatDefaults: { maxTokens: 8, temperature: 0, seed: 1 } });
  a.app.store.settings.set('threadCache', { liveThreads: opts.liveThreads ?? 4, diskBudgetMiB: opts.diskBudgetMiB ?? 2048, maxAgeDays: 30 });
  apps.push(a);
  return a;
}

/** Closes the app and its engine, keeping the data folder (a restart opens it again). */
async function quit(a: ChatApp): Promise<void> {
  apps.splice(apps.indexOf(a), 1);
  await a.app.close();
  await a.engine.close();
}

async function send(a: ChatApp, threadId: string, content: string): Promise<MessageDTO> {
  const done = nextDone(a.app, threadId);
  await a.call('chat.send', { threadId, content });
  const m = await done;
  await a.app.chat.idle(); // the title too
  expect(m.status).toBe('done');
  return m;
}

const kvFile = (a: ChatApp, threadId: string) => path.join(a.paths.sessions, `${threadId}.kv`);
const metaFile = (a: ChatApp, threadId: string) => path.join(a.paths.sessions, `${threadId}.json`);

/** A thread with one long turn done; the first turn's reply. */
async function threadWithTurn(a: ChatApp, tag: string): Promise<{ id: string; first: MessageDTO }> {
  const t = await a.call('threads.create', {});
  return { id: t.id, first: await send(a, t.id, long(tag)) };
}

test('two threads alternate: each turn after a switch finds its own conversation cached', async () => {
  const a = open();
  // room for both conversations and the titles
  await a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 4096 } });
  await a.call('models.load', { path: a.modelPath });
  const A = await threadWithTurn(a, 'alpha');
  const B = await threadWithTurn(a, 'beta');
  expect(A.first.metrics!.promptTokens).toBeGreaterThan(200);
  const a2 = await send(a, A.id, 'and then?');
  const b2 = await send(a, B.id, 'and then?');
  // the whole first prompt is the second's prefix (one sequence for both would hold only the other thread's)
  expect(a2.metrics!.cachedTokens).toBeGreaterThanOrEqual(A.first.metrics!.promptTokens);
  expect(b2.metrics!.cachedTokens).toBeGreaterThanOrEqual(B.first.metrics!.promptTokens);
  // nothing was evicted: nothing was written
  expect(fs.existsSync(kvFile(a, A.id))).toBe(false);
  // the header's meter reads the thread's own sequence
  const state = await a.call('models.state');
  expect(state.loaded.tokensUsed).toBeGreaterThanOrEqual(b2.metrics!.promptTokens);
});

test('eviction saves the thread state and its next turn restores it; a deleted thread takes its file along', async () => {
  const a = open({ liveThreads: 1 });
  await a.call('models.load', { path: a.modelPath });
  const A = await threadWithTurn(a, 'alpha');
  expect(fs.existsSync(kvFile(a, A.id))).toBe(false);
  const B = await threadWithTurn(a, 'beta'); // takes A's sequence: A is saved
  expect(fs.statSync(kvFile(a, A.id)).size).toBeGreaterThan(0);
  const meta = JSON.parse(fs.readFileSync(metaFile(a, A.id), 'utf8'));
  expect(meta.tokens).toBeGreaterThanOrEqual(A.first.metrics!.promptTokens);
  const a2 = await send(a, A.id, 'and then?'); // B saved, A restored
  expect(a2.metrics!.cachedTokens).toBeGreaterThanOrEqual(A.first.metrics!.promptTokens);
  expect(fs.existsSync(kvFile(a, B.id))).toBe(true);
  await a.call('threads.delete', { id: B.id });
  expect(fs.existsSync(kvFile(a, B.id))).toBe(false);
  expect(fs.existsSync(metaFile(a, B.id))).toBe(false);
});

test('a restart restores the thread from disk; other load settings invalidate the saved state', async () => {
  let a = open();
  const dir = a.dir;
  await a.call('models.load', { path: a.modelPath });
  const A = await threadWithTurn(a, 'alpha');
  await quit(a); // the model goes with the app: its live threads are saved
  expect(fs.existsSync(path.join(dir, 'sessions', `${A.id}.kv`))).toBe(true);

  a = open({ dir });
  await a.call('models.load', { path: a.modelPath });
  const a2 = await send(a, A.id, 'and then?');
  expect(a2.metrics!.cachedTokens).toBeGreaterThanOrEqual(A.first.metrics!.promptTokens);

  // another context size: the model reloads (saving A under the old settings), and the state is refused
  await a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 1024 } });
  await a.call('models.load', { path: a.modelPath });
  expect(fs.existsSync(kvFile(a, A.id))).toBe(true);
  const a3 = await send(a, A.id, 'and after that?');
  expect(a3.metrics!.cachedTokens).toBeLessThan(A.first.metrics!.promptTokens / 4);
  expect(fs.existsSync(kvFile(a, A.id))).toBe(false);

  // another cache type likewise
  await a.call('models.load', { path: a.modelPath }); // same settings: nothing reloads, nothing is saved
  await a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 1024, cacheTypeK: 'q8_0' } });
  await a.call('models.load', { path: a.modelPath });
  expect(fs.existsSync(kvFile(a, A.id))).toBe(true);
  const a4 = await send(a, A.id, 'and at last?');
  expect(a4.status).toBe('done');
  expect(a4.metrics!.cachedTokens).toBeLessThan(A.first.metrics!.promptTokens / 4);
  expect(fs.existsSync(kvFile(a, A.id))).toBe(false);
});

test('a corrupt saved state is deleted and the turn reads the conversation again', async () => {
  const a = open({ liveThreads: 1 });
  await a.call('models.load', { path: a.modelPath });
  const A = await threadWithTurn(a, 'alpha');
  await threadWithTurn(a, 'beta'); // A saved
  const kv = kvFile(a, A.id);
  const bytes = fs.readFileSync(kv);
  fs.writeFileSync(kv, Buffer.concat([bytes.subarray(0, 64), Buffer.alloc(256, 0xab)])); // truncated, garbage
  const a2 = await send(a, A.id, 'and then?');
  expect(a2.metrics!.cachedTokens).toBeLessThan(A.first.metrics!.promptTokens / 4);
  expect(a2.metrics!.generatedTokens).toBeGreaterThan(0);
  expect(fs.existsSync(kv)).toBe(false);
  expect(fs.existsSync(metaFile(a, A.id))).toBe(false);
});

test('the disk budget deletes the oldest saved states; age deletes the old ones', async () => {
  const a = open({ liveThreads: 1 });
  await a.call('models.load', { path: a.modelPath });
  const ids: string[] = [];
  for (const tag of ['one', 'two', 'three', 'four']) ids.push((await threadWithTurn(a, tag)).id);
  // the first three were evicted in turn
  const saved = ids.slice(0, 3);
  for (const id of saved) expect(fs.existsSync(kvFile(a, id))).toBe(true);
  const sizes = saved.map((id) => fs.statSync(kvFile(a, id)).size);

  // the same folder under a controlled clock and a budget that holds two of the three
  let now = Date.now() + 1000;
  const budget = { liveThreads: 1, diskBudgetMiB: 0, maxAgeDays: 1 };
  const sessions = new ThreadSessions({
    engine: a.engine,
    dir: a.paths.sessions,
    settings: () => budget,
    loaded: () => null,
    persist: () => true,
    now: () => now,
    logger: silentLogger,
  });
  // the budget is in MiB: each state padded to 1 MiB, saved a second apart
  const mib = 1024 * 1024;
  for (const [i, id] of saved.entries()) {
    fs.appendFileSync(kvFile(a, id), Buffer.alloc(mib - sizes[i])); // each exactly 1 MiB
    const meta = JSON.parse(fs.readFileSync(metaFile(a, id), 'utf8'));
    fs.writeFileSync(metaFile(a, id), JSON.stringify({ ...meta, savedAt: now - (3 - i) * 1000 }));
  }
  budget.diskBudgetMiB = 2;
  await sessions.prune();
  expect(saved.map((id) => fs.existsSync(kvFile(a, id)))).toEqual([false, true, true]); // the oldest went
  expect(fs.existsSync(metaFile(a, saved[0]))).toBe(false);

  now += 86_400_000 - 1500; // past a day for the second, not the third
  budget.diskBudgetMiB = 100;
  await sessions.prune();
  expect(saved.map((id) => fs.existsSync(kvFile(a, id)))).toEqual([false, false, true]);

  // a state whose description is gone is never trusted: deleted
  fs.rmSync(metaFile(a, saved[2]));
  await sessions.prune();
  expect(fs.existsSync(kvFile(a, saved[2]))).toBe(false);
});

test('a turn or title that needs room saves the least recently used thread first, and it is restored', async () => {
  const a = open(); // 2048 tokens: two long threads and a title do not fit together
  await a.call('models.load', { path: a.modelPath });
  const A = await threadWithTurn(a, 'alpha');
  await threadWithTurn(a, 'beta'); // its title needs room: A is saved and its sequence freed
  expect(fs.existsSync(kvFile(a, A.id))).toBe(true);
  const a2 = await send(a, A.id, 'and then?');
  expect(a2.metrics!.cachedTokens).toBeGreaterThanOrEqual(A.first.metrics!.promptTokens);
});

test("a turn run on another thread's sequence (every sequence was generating) is never saved as that thread's", async () => {
  const a = open({ liveThreads: 1 }); // one sequence for threads
  await a.call('models.load', { path: a.modelPath });
  const P = await threadWithTurn(a, 'alpha');
  const Q = await a.call('threads.create', { temporary: true });
  const { sessions } = a.app;
  const p = await sessions.acquire(P.id, 100); // P's turn is generating
  const q = await sessions.acquire(Q.id, 100); // the temporary chat's turn comes: it runs after P's, on P's sequence
  expect(q.seq).toBe(p.seq);
  sessions.release(P.id);
  const reply = await a.engine.chat(CHAT_MODEL_ID, { messages: [{ role: 'user', content: long('temporary') }], maxTokens: 4, seq: q.seq });
  expect(reply.timings.promptTokens).toBeGreaterThan(100);
  sessions.release(Q.id);
  // another thread takes the sequence: what is there is the temporary chat's, so nothing is written as P's
  const R = await a.call('threads.create', {});
  const r = await sessions.acquire(R.id, 100);
  expect(r.seq).toBe(p.seq);
  expect(fs.existsSync(kvFile(a, P.id))).toBe(false);
  expect((await a.engine.contextInfo(CHAT_MODEL_ID)).sequenceTokens[r.seq]).toBe(0); // cleared for R
  sessions.release(R.id);
  // a request on a thread's sequence that is not its turn (a title, in a context of one sequence) likewise
  await sessions.makeRoom(0, r.seq);
  await a.engine.chat(CHAT_MODEL_ID, { messages: [{ role: 'user', content: long('title') }], maxTokens: 4, seq: r.seq });
  const S = await a.call('threads.create', {});
  await sessions.acquire(S.id, 100);
  expect(fs.existsSync(kvFile(a, R.id))).toBe(false);
  sessions.release(S.id);
  // a thread's own turn on its sequence makes its cells its own again; a title coming there saves them
  // first, and what the title leaves is not saved as the thread's
  const s2 = await send(a, S.id, long('sigma'));
  expect(s2.metrics!.promptTokens).toBeGreaterThan(100);
  const sSeq = sessions.seqOf(S.id)!;
  await sessions.makeRoom(0, sSeq);
  const before = fs.readFileSync(metaFile(a, S.id), 'utf8');
  expect(JSON.parse(before).tokens).toBeGreaterThan(s2.metrics!.promptTokens);
  await a.engine.chat(CHAT_MODEL_ID, { messages: [{ role: 'user', content: 'a title' }], maxTokens: 4, seq: sSeq });
  await sessions.acquire(R.id, 100);
  expect(fs.readFileSync(metaFile(a, S.id), 'utf8')).toBe(before);
  sessions.release(R.id);
  // and its next turn restores what was saved
  const s3 = await send(a, S.id, 'and then?');
  expect(s3.metrics!.cachedTokens).toBeGreaterThan(s2.metrics!.promptTokens);
});

test("a thread's turn that evicts an idle thread, or restores its own state, does not wait for another thread's reply to end (the save and the restore run between its steps)", async () => {
  const a = open({ liveThreads: 2 });
  await a.call('models.load', { path: a.modelPath });
  // short turns: the long reply below fits beside them in the model's 2,048 tokens
  const A = { id: (await a.call('threads.create', {})).id as string };
  const first = await send(a, A.id, 'alpha: a short question');
  const B = { id: (await a.call('threads.create', {})).id as string };
  await send(a, B.id, 'beta: another short question');
  const { sessions } = a.app;
  // B's turn generates a long reply on its sequence
  const b = await sessions.acquire(B.id);
  let bDone = false;
  let bPieces = 0;
  const reply = a.engine
    .chat(CHAT_MODEL_ID, { messages: [{ role: 'user', content: 'on and on' }], maxTokens: 1200, ignoreEos: true, sampling: { temperature: 0 }, seq: b.seq }, { onPiece: () => bPieces++ })
    .finally(() => (bDone = true));
  reply.catch(() => undefined); // awaited below; a failed expectation before that must not leave it unhandled
  while (bPieces === 0) await new Promise((r) => setTimeout(r, 5));
  // C's turn needs a sequence: A's (idle, cached, never saved) is saved and given to C while B's reply goes on
  const info = await a.engine.contextInfo(CHAT_MODEL_ID);
  expect(info.sequenceTokens[sessions.seqOf(A.id)!]).toBeGreaterThan(0);
  expect(fs.existsSync(kvFile(a, A.id))).toBe(false);
  const C = await a.call('threads.create', {});
  const c = await sessions.acquire(C.id);
  expect(bDone).toBe(false);
  expect(c.seq).toBe(sessions.seqOf(C.id));
  expect(fs.statSync(kvFile(a, A.id)).size).toBeGreaterThan(0);
  sessions.release(C.id);
  // A's turn comes back while B's reply still goes on: C's sequence (idle) is given to it, and A's state
  // saved a moment ago is restored into it
  const a1 = await sessions.acquire(A.id);
  expect(bDone).toBe(false);
  expect(a1.restored).toBeGreaterThanOrEqual(first.metrics!.promptTokens);
  sessions.release(A.id);
  expect((await reply).tokens).toHaveLength(1200);
  sessions.release(B.id);
  // and A's next turn finds it cached
  const a2 = await send(a, A.id, 'and then?');
  expect(a2.metrics!.cachedTokens).toBeGreaterThanOrEqual(first.metrics!.promptTokens);
});
