import fs from 'fs';
import { LIMITS } from '../../main/store';
import { cleanupDirs, closeStores, expectCode, openStore } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('messages', () => {
  test('a conversation is a chain of parent links; fields round trip', () => {
    const s = openStore();
    const t = s.threads.create();
    const sys = s.messages.add({ threadId: t.id, role: 'system', content: 'Be brief.' });
    const u = s.messages.add({ threadId: t.id, role: 'user', content: 'Weather?', attachments: [{ type: 'image', ref: 'blob:abc', name: 'sky.png', mimeType: 'image/png', size: 1234 }] });
    const a = s.messages.add({
      threadId: t.id, role: 'assistant', content: '', reasoning: 'Need a tool.', model: 'qwen3-8b',
      toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Oslo' } }],
      metrics: { promptTokens: 50, cachedTokens: 10, generatedTokens: 12, ttftMs: 90.5, genTps: 33.3 },
    });
    const tool = s.messages.add({ threadId: t.id, role: 'tool', content: '{"temp": -3}', toolCallId: 'c1' });
    const final = s.messages.add({ threadId: t.id, role: 'assistant', content: 'It is -3 °C in Oslo.', status: 'done' });
    const list = s.messages.list(t.id);
    expect(list.map((m) => m.id)).toEqual([sys.id, u.id, a.id, tool.id, final.id]);
    expect(list.map((m) => m.parentId)).toEqual([null, sys.id, u.id, a.id, tool.id]);
    expect(list.every((m) => m.alternatives.count === 1)).toBe(true);
    expect(s.messages.get(u.id).attachments).toEqual([{ type: 'image', ref: 'blob:abc', name: 'sky.png', mimeType: 'image/png', size: 1234 }]);
    expect(s.messages.get(a.id)).toMatchObject({
      reasoning: 'Need a tool.', model: 'qwen3-8b', status: 'done',
      toolCalls: [{ id: 'c1', name: 'weather', arguments: { city: 'Oslo' } }],
      metrics: { promptTokens: 50, cachedTokens: 10, generatedTokens: 12, ttftMs: 90.5, genTps: 33.3 },
    });
    expect(s.messages.get(tool.id).toolCallId).toBe('c1');
    // updates in place
    const upd = s.messages.update(final.id, { content: 'It is -3 °C.', status: 'error', error: 'cut short' });
    expect(upd).toMatchObject({ content: 'It is -3 °C.', status: 'error', error: 'cut short' });
    expect(upd.updatedAt).toBeGreaterThan(final.updatedAt);
  });

  test('editing a user message keeps the old branch as an alternative', () => {
    const s = openStore();
    const t = s.threads.create();
    const u1 = s.messages.add({ threadId: t.id, role: 'user', content: 'Capital of Australia?' });
    const a1 = s.messages.add({ threadId: t.id, role: 'assistant', content: 'Sydney.' });
    const u2 = s.messages.add({ threadId: t.id, role: 'user', content: 'Are you sure?' });
    const a2 = s.messages.add({ threadId: t.id, role: 'assistant', content: 'Sorry: Canberra.' });

    const edited = s.messages.edit(u1.id, 'What is the capital of Australia?');
    expect(edited.parentId).toBeNull();
    let path = s.messages.list(t.id);
    expect(path.map((m) => m.id)).toEqual([edited.id]);
    expect(path[0].alternatives).toEqual({ index: 1, count: 2, ids: [u1.id, edited.id] });

    // regenerate under the edited question
    const w = s.messages.beginReply({ threadId: t.id, model: 'm' });
    w.append('Canberra.');
    const r = w.finish({ status: 'done' });
    expect(r.parentId).toBe(edited.id);
    path = s.messages.list(t.id);
    expect(path.map((m) => m.content)).toEqual(['What is the capital of Australia?', 'Canberra.']);

    // page back to the original: its whole branch comes back, nothing was destroyed
    path = s.messages.selectAlternative(u1.id);
    expect(path.map((m) => m.id)).toEqual([u1.id, a1.id, u2.id, a2.id]);
    expect(path[0].alternatives.index).toBe(0);
    // and forward again, to the branch last used there
    path = s.messages.selectAlternative(edited.id);
    expect(path.map((m) => m.id)).toEqual([edited.id, r.id]);
    // new messages continue the selected branch
    const next = s.messages.add({ threadId: t.id, role: 'user', content: 'Thanks' });
    expect(next.parentId).toBe(r.id);
    expect(s.messages.listAll(t.id)).toHaveLength(7);
  });

  test('regenerate keeps earlier replies as alternatives', () => {
    const s = openStore();
    const t = s.threads.create();
    const u = s.messages.add({ threadId: t.id, role: 'user', content: 'Tell me a joke' });
    const w1 = s.messages.beginReply({ threadId: t.id, model: 'a' });
    w1.append('Joke one');
    const r1 = w1.finish({ status: 'done' });
    const w2 = s.messages.regenerate(r1.id);
    w2.append('Joke two');
    const r2 = w2.finish({ status: 'done' });
    const w3 = s.messages.regenerate(r2.id, { model: 'b' });
    w3.append('Joke three');
    const r3 = w3.finish({ status: 'done' });
    expect(r3.model).toBe('b');
    let path = s.messages.list(t.id);
    expect(path.map((m) => m.id)).toEqual([u.id, r3.id]);
    expect(path[1].alternatives).toEqual({ index: 2, count: 3, ids: [r1.id, r2.id, r3.id] });
    path = s.messages.selectAlternative(r1.id);
    expect(path[1].content).toBe('Joke one');
    expect(path[1].alternatives.index).toBe(0);

    // deleting the selected alternative selects the newest remaining one
    s.messages.delete(r1.id);
    path = s.messages.list(t.id);
    expect(path[1].id).toBe(r3.id);
    expect(path[1].alternatives.count).toBe(2);
  });

  test('paging through alternatives with prev/next', () => {
    const s = openStore();
    const t = s.threads.create();
    s.messages.add({ threadId: t.id, role: 'user', content: 'Name a colour' });
    const replies = ['red', 'green', 'blue'].map((c, i) => {
      const w = i === 0 ? s.messages.beginReply({ threadId: t.id }) : s.messages.regenerate(s.messages.list(t.id)[1].id);
      w.append(c);
      return w.finish({ status: 'done' });
    });
    const shown = () => s.messages.list(t.id)[1];
    expect(shown().content).toBe('blue');
    expect(s.messages.switchAlternative(replies[2].id, 'next')[1].content).toBe('blue'); // at the end: no change
    expect(s.messages.switchAlternative(replies[2].id, 'prev')[1].content).toBe('green');
    expect(s.messages.switchAlternative(shown().id, 'prev')[1].content).toBe('red');
    expect(s.messages.switchAlternative(shown().id, 'prev')[1].content).toBe('red');
    expect(s.messages.switchAlternative(shown().id, 'next')[1].alternatives).toEqual({ index: 1, count: 3, ids: replies.map((r) => r.id) });
    expectCode(() => s.messages.switchAlternative(shown().id, 'up' as never), 'invalid_input');
  });

  test('continue an interrupted reply', () => {
    const s = openStore();
    const t = s.threads.create();
    s.messages.add({ threadId: t.id, role: 'user', content: 'Tell a long story' });
    const w = s.messages.beginReply({ threadId: t.id });
    w.append('Once upon a time');
    const cut = w.finish({ status: 'aborted' });
    expect(s.search({ query: 'upon' }).hits).toHaveLength(1);
    const more = s.messages.continueReply(cut.id);
    expect(s.messages.get(cut.id).status).toBe('streaming');
    expect(s.search({ query: 'upon' }).hits).toHaveLength(0); // out of the index while it streams
    more.append(', there was a dragon.');
    const done = more.finish({ status: 'done' });
    expect(done.content).toBe('Once upon a time, there was a dragon.');
    expect(s.search({ query: 'dragon upon' }).hits.map((h) => h.messageId)).toEqual([cut.id]);
    expectCode(() => s.messages.continueReply(s.messages.list(t.id)[0].id), 'invalid_input');
  });

  test('a reply keeps why it ended (SQLite and temporary chats); continue clears it until it ends again', () => {
    const s = openStore();
    for (const api of [s, s.temporary]) {
      const t = api.threads.create();
      api.messages.add({ threadId: t.id, role: 'user', content: 'Tell a long story' });
      const w = api.messages.beginReply({ threadId: t.id });
      expect(api.messages.get(w.messageId).finishReason).toBeNull();
      w.append('Once upon a time');
      const cut = w.finish({ status: 'done', finishReason: 'maxTokens', metrics: { generatedTokens: 4, contextSize: 2048 } });
      expect(cut).toMatchObject({ status: 'done', finishReason: 'maxTokens', metrics: { contextSize: 2048 } });
      expect(api.messages.get(cut.id).finishReason).toBe('maxTokens');
      const more = api.messages.continueReply(cut.id);
      expect(api.messages.get(cut.id).finishReason).toBeNull();
      more.append(', there was a dragon.');
      expect(more.finish({ status: 'done', finishReason: 'contextFull' }).finishReason).toBe('contextFull');
      expect(api.messages.list(t.id)[1].finishReason).toBe('contextFull');
      // a failed reply has none; a reason the store does not know is refused
      const w2 = api.messages.regenerate(cut.id);
      expect(w2.finish({ status: 'error', error: 'boom' }).finishReason).toBeNull();
      const w3 = api.messages.regenerate(cut.id);
      expectCode(() => w3.finish({ status: 'done', finishReason: 'tired' as never }), 'invalid_input');
      w3.finish({ status: 'done', finishReason: 'eos' });
    }
    // a value written by a later version reads as null, not as an error
    const id = s.messages.list(s.threads.list().items[0].id)[1].id;
    s.db.prepare('UPDATE messages SET finish_reason = ? WHERE id = ?').run('someday', id);
    expect(s.messages.get(id).finishReason).toBeNull();
  });

  test('deleting a message deletes the replies below it', () => {
    const s = openStore();
    const t = s.threads.create();
    const a = s.messages.add({ threadId: t.id, role: 'user', content: 'a' });
    const b = s.messages.add({ threadId: t.id, role: 'assistant', content: 'b' });
    s.messages.add({ threadId: t.id, role: 'user', content: 'c' });
    s.messages.delete(b.id);
    expect(s.messages.list(t.id).map((m) => m.id)).toEqual([a.id]);
    expect(s.messages.listAll(t.id)).toHaveLength(1);
    expectCode(() => s.messages.get(b.id), 'not_found');
  });

  test('invalid input gives typed errors', () => {
    const s = openStore();
    const t = s.threads.create();
    const other = s.threads.create();
    const m = s.messages.add({ threadId: other.id, role: 'user', content: 'x' });
    expectCode(() => s.messages.add({ threadId: t.id, role: 'wizard' as never, content: 'x' }), 'invalid_input');
    expectCode(() => s.messages.add({ threadId: 'bad id!', role: 'user', content: 'x' }), 'invalid_input');
    expectCode(() => s.messages.add({ threadId: '11111111-1111-4111-8111-111111111111', role: 'user', content: 'x' }), 'not_found');
    expectCode(() => s.messages.add({ threadId: t.id, role: 'user', content: 'x', parentId: m.id }), 'invalid_input');
    expectCode(() => s.messages.add({ threadId: t.id, role: 'user', content: 'x', status: 'streaming' as never }), 'invalid_input');
    expectCode(() => s.messages.add({ threadId: t.id, role: 'user', content: 42 as never }), 'invalid_input');
    expectCode(() => s.messages.add({ threadId: t.id, role: 'user', content: 'x', extra: 1 } as never), 'invalid_input');
    expectCode(() => s.messages.add({ threadId: t.id, role: 'user', content: 'x'.repeat(LIMITS.contentBytes + 1) }), 'too_large');
    // the limit is in bytes: 4-byte characters count four times
    expectCode(() => s.messages.add({ threadId: t.id, role: 'user', content: '😀'.repeat(LIMITS.contentBytes / 4 + 1) }), 'too_large');
    expectCode(() => s.messages.add({ threadId: t.id, role: 'user', content: 'x', attachments: new Array(LIMITS.attachments + 1).fill({ type: 'file', ref: 'r' }) }), 'too_large');
    expectCode(() => s.messages.update(m.id, { metrics: { ttftMs: -1 } }), 'invalid_input');
    expectCode(() => s.messages.get('nope nope'), 'invalid_input');
    expectCode(() => s.messages.selectAlternative('22222222-2222-4222-8222-222222222222'), 'not_found');
    expectCode(() => s.messages.delete('22222222-2222-4222-8222-222222222222'), 'not_found');
    const big = s.messages.add({ threadId: t.id, role: 'user', content: 'x'.repeat(LIMITS.contentBytes) });
    expect(s.messages.get(big.id).content).toHaveLength(LIMITS.contentBytes);
    // nothing half-written
    expect(s.messages.listAll(t.id)).toHaveLength(1);
  });
});

describe('streaming replies', () => {
  test('the row exists from the start; text arrives in batches; the final write sets status and metrics', async () => {
    const s = openStore({ writer: { flushIntervalMs: 30, flushChars: 1000 } });
    const t = s.threads.create();
    s.messages.add({ threadId: t.id, role: 'user', content: 'Count to ten' });
    const flushes: number[] = [];
    const w = s.messages.beginReply({ threadId: t.id, model: 'qwen' }, { onFlush: (e) => flushes.push(e.flushedChars) });
    const row = () => s.db.prepare('SELECT content, status FROM messages WHERE id = ?').get(w.messageId) as { content: string; status: string };
    expect(row()).toEqual({ content: '', status: 'streaming' });
    expect(s.messages.list(t.id)[1].status).toBe('streaming');

    w.append('one ');
    w.append('two ');
    expect(row().content).toBe(''); // buffered
    await sleep(80);
    expect(row().content).toBe('one two '); // flushed by the timer
    expect(flushes).toEqual([8]);

    w.append('x'.repeat(1000)); // size-triggered flush, at once
    expect(row().content).toHaveLength(1008);
    w.appendReasoning('thinking');
    expect(w.flush()).toBe(8);
    expect(s.messages.get(w.messageId).reasoning).toBe('thinking');
    expect(w.flush()).toBe(0);

    // not searchable while streaming
    w.append(' zyzzyva');
    expect(s.search({ query: 'zyzzyva' }).hits).toHaveLength(0);
    const done = w.finish({ status: 'done', metrics: { promptTokens: 5, generatedTokens: 300, ttftMs: 120, genTps: 42 } });
    expect(done.status).toBe('done');
    expect(done.content.endsWith(' zyzzyva')).toBe(true);
    expect(done.metrics).toEqual({ promptTokens: 5, generatedTokens: 300, ttftMs: 120, genTps: 42 });
    expect(done.model).toBe('qwen');
    expect(w.closed).toBe(true);
    expect(s.search({ query: 'zyzzyva' }).hits.map((h) => h.messageId)).toEqual([w.messageId]);
    expect(() => w.append('more')).not.toThrow(); // dropped: an append after close never throws into the stream callback
    expect(s.messages.get(w.messageId).content.endsWith(' zyzzyva')).toBe(true);
    expectCode(() => w.finish({ status: 'done' }), 'invalid_input');
    expect(s.messages.openReplies).toBe(0);
  });

  test('error and abort results keep the text written so far', () => {
    const s = openStore();
    const t = s.threads.create();
    s.messages.add({ threadId: t.id, role: 'user', content: 'q' });
    const w = s.messages.beginReply({ threadId: t.id });
    w.append('partial');
    const m = w.finish({ status: 'error', error: 'GPU out of memory' });
    expect(m).toMatchObject({ content: 'partial', status: 'error', error: 'GPU out of memory' });
    const w2 = s.messages.regenerate(m.id);
    w2.append('stopped here');
    expect(w2.finish({ status: 'aborted' })).toMatchObject({ content: 'stopped here', status: 'aborted' });
  });

  test('a flush is a small write that does not block: median well under a millisecond', () => {
    const s = openStore({ writer: { flushIntervalMs: 10_000, flushChars: 1 << 20 } });
    const t = s.threads.create();
    const w = s.messages.beginReply({ threadId: t.id });
    const times: number[] = [];
    for (let i = 0; i < 300; i++) {
      w.append(`token${i} and some more words `);
      const t0 = performance.now();
      w.flush();
      times.push(performance.now() - t0);
    }
    w.finish({ status: 'done' });
    times.sort((a, b) => a - b);
    expect(times[150]).toBeLessThan(1);
    expect(s.messages.get(w.messageId).content.startsWith('token0 and some more words token1')).toBe(true);
  });

  test('no WAL checkpoint runs while a reply streams; one runs when idle', async () => {
    const s = openStore({ checkpointIntervalMs: 20, writer: { flushIntervalMs: 60_000, flushChars: 1 << 20 } });
    expect(s.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const t = s.threads.create();
    s.checkpoint();
    const stamp = () => { const st = fs.statSync(s.path); return `${st.size}:${st.mtimeMs}`; };
    const before = stamp();
    const w = s.messages.beginReply({ threadId: t.id });
    for (let i = 0; i < 400; i++) {
      w.append('a fairly long piece of streamed text to make the row grow and the WAL fill up '.repeat(3));
      w.flush();
      if (i % 100 === 0) await sleep(30); // give the timer its chances
    }
    expect(fs.statSync(`${s.path}-wal`).size).toBeGreaterThan(4 * 1024 * 1024); // past SQLite's usual 1000-page checkpoint
    expect(stamp()).toBe(before); // the database file was not touched while streaming
    w.finish({ status: 'done' });
    await sleep(100);
    expect(stamp()).not.toBe(before);
    expect(s.checkpoint().walFrames).toBe(s.checkpoint().checkpointed);
  });

  test('closing the store ends open replies as interrupted, keeping buffered text', () => {
    const s = openStore({ writer: { flushIntervalMs: 60_000, flushChars: 1 << 20 } });
    const t = s.threads.create();
    const w = s.messages.beginReply({ threadId: t.id });
    w.append('flushed ');
    w.flush();
    w.append('buffered');
    const file = s.path;
    s.close();
    const again = openStore({ file });
    expect(again.recoveredReplies).toBe(0);
    expect(again.messages.get(w.messageId)).toMatchObject({ status: 'interrupted', content: 'flushed buffered' });
  });

  test('deleting a reply while it streams closes its writer', () => {
    const s = openStore({ writer: { flushIntervalMs: 60_000, flushChars: 1 << 20 } });
    const t = s.threads.create();
    const w = s.messages.beginReply({ threadId: t.id });
    w.append('abc');
    s.messages.delete(w.messageId);
    expect(w.closed).toBe(true);
    expect(() => w.append('more')).not.toThrow(); // dropped: an append after close never throws into the stream callback
    expect(s.messages.listAll(t.id)).toHaveLength(0);
  });

  test('an oversized reply fails with too_large (not thrown), keeping the text up to the limit', async () => {
    const s = openStore({ writer: { flushIntervalMs: 60_000, flushChars: 1 << 30 } });
    const t = s.threads.create();
    const w = s.messages.beginReply({ threadId: t.id });
    w.append('x'.repeat(LIMITS.contentBytes - 1));
    expect(() => w.append('yy')).not.toThrow();
    expect(w.failure?.code).toBe('too_large');
    w.append('z'); // dropped
    const m = await w.end({ status: 'done' });
    expect(m.content).toHaveLength(LIMITS.contentBytes - 1);
    expect(m.status).toBe('error');
  });
});
