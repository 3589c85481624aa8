import { LIMITS } from '../../main/store';
import { cleanupDirs, closeStores, expectCode, openStore } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

describe('threads', () => {
  test('create with defaults, get, rename, pin, archive, overrides', () => {
    const s = openStore();
    const t = s.threads.create();
    expect(t).toMatchObject({ title: 'New chat', assistantId: 'default', model: null, pinned: false, archived: false, temporary: false });
    expect(t.createdAt).toBe(t.updatedAt);
    expect(s.threads.get(t.id)).toEqual(t);

    expect(s.threads.rename(t.id, 'Holiday plans').title).toBe('Holiday plans');
    expect(s.threads.setPinned(t.id, true).pinned).toBe(true);
    expect(s.threads.setPinned(t.id, false).pinned).toBe(false);
    expect(s.threads.setArchived(t.id, true).archived).toBe(true);
    expect(s.threads.setArchived(t.id, false).archived).toBe(false);

    const u = s.threads.update(t.id, {
      model: 'llama-3.2-3b.gguf',
      overrides: { instructions: 'Talk like a pirate.', sampling: { temperature: 1.2, topK: 20 }, load: { contextSize: 4096, gpuLayers: 'max' } },
    });
    expect(u.model).toBe('llama-3.2-3b.gguf');
    expect(u.overrides).toEqual({ instructions: 'Talk like a pirate.', sampling: { temperature: 1.2, topK: 20 }, load: { contextSize: 4096, gpuLayers: 'max' } });
    // a partial override update leaves the rest
    expect(s.threads.update(t.id, { overrides: { sampling: { topP: 0.5 } } }).overrides)
      .toEqual({ instructions: 'Talk like a pirate.', sampling: { topP: 0.5 }, load: { contextSize: 4096, gpuLayers: 'max' } });
    expect(s.threads.update(t.id, { overrides: { instructions: null } }).overrides.instructions).toBeNull();
  });

  test('list: pinned first, then most recently updated; paged; archived apart', () => {
    const s = openStore();
    const ids = Array.from({ length: 7 }, (_, i) => s.threads.create({ title: `t${i}` }).id);
    // activity in t2 moves it to the top of the unpinned ones
    s.messages.add({ threadId: ids[2], role: 'user', content: 'hello' });
    s.threads.setPinned(ids[5], true);
    s.threads.setArchived(ids[6], true);
    const titles = s.threads.list().items.map((t) => t.title);
    expect(titles).toEqual(['t5', 't2', 't4', 't3', 't1', 't0']);
    const p1 = s.threads.list({ limit: 4 });
    expect(p1.items.map((t) => t.title)).toEqual(['t5', 't2', 't4', 't3']);
    expect(p1.hasMore).toBe(true);
    const p2 = s.threads.list({ limit: 4, offset: 4 });
    expect(p2.items.map((t) => t.title)).toEqual(['t1', 't0']);
    expect(p2.hasMore).toBe(false);
    expect(s.threads.list({ archived: true }).items.map((t) => t.title)).toEqual(['t6']);
    // renaming or pinning does not count as activity
    s.threads.rename(ids[0], 'renamed');
    expect(s.threads.list().items.map((t) => t.title).slice(-1)).toEqual(['renamed']);
  });

  test('cursor paging is stable while threads move', () => {
    const s = openStore();
    const ids = Array.from({ length: 9 }, (_, i) => s.threads.create({ title: `c${i}` }).id);
    s.threads.setPinned(ids[0], true);
    const p1 = s.threads.list({ limit: 4 });
    expect(p1.items.map((t) => t.title)).toEqual(['c0', 'c8', 'c7', 'c6']);
    expect(p1.nextCursor).not.toBeNull();
    // activity in a thread already shown moves it up; the next page neither repeats nor skips anything
    s.messages.add({ threadId: ids[7], role: 'user', content: 'bump' });
    const p2 = s.threads.list({ limit: 4, cursor: p1.nextCursor! });
    expect(p2.items.map((t) => t.title)).toEqual(['c5', 'c4', 'c3', 'c2']);
    const p3 = s.threads.list({ limit: 4, cursor: p2.nextCursor! });
    expect(p3.items.map((t) => t.title)).toEqual(['c1']);
    expect(p3.nextCursor).toBeNull();
    expect(p3.hasMore).toBe(false);
    expectCode(() => s.threads.list({ cursor: 'garbage' }), 'invalid_input');
  });

  test('delete cascades to messages and search', () => {
    const s = openStore();
    const t = s.threads.create({ title: 'Zanzibar trip' });
    const keep = s.threads.create({ title: 'other' });
    s.messages.add({ threadId: t.id, role: 'user', content: 'spice markets of zanzibar' });
    const w = s.messages.beginReply({ threadId: t.id });
    w.append('Stone town zanzibar');
    w.finish({ status: 'done' });
    s.messages.add({ threadId: keep.id, role: 'user', content: 'zanzibar too' });
    s.messages.edit(s.messages.list(t.id)[0].id, 'edited zanzibar question');
    expect(s.db.prepare('SELECT count(*) FROM messages WHERE thread_id = ?').pluck().get(t.id)).toBe(3);
    expect(s.search({ query: 'zanzibar' }).hits.length).toBe(5);

    s.threads.delete(t.id);
    expectCode(() => s.threads.get(t.id), 'not_found');
    expectCode(() => s.messages.list(t.id), 'not_found');
    expect(s.db.prepare('SELECT count(*) FROM messages WHERE thread_id = ?').pluck().get(t.id)).toBe(0);
    expect(s.search({ query: 'zanzibar' }).hits.map((h) => h.threadId)).toEqual([keep.id]);
    expect(s.db.prepare(`INSERT INTO messages_fts(messages_fts, rank) VALUES ('integrity-check', 1)`).run()).toBeTruthy();
    expect(s.integrityCheck()).toEqual(['ok']);
    expectCode(() => s.threads.delete(t.id), 'not_found');
  });

  test('deleting an assistant unlinks its threads; the default assistant cannot be deleted', () => {
    const s = openStore();
    const a = s.assistants.create({ name: 'Chef', avatar: '🧑‍🍳', instructions: 'You cook.' });
    const t = s.threads.create({ assistantId: a.id });
    expect(t.assistantId).toBe(a.id);
    s.assistants.delete(a.id);
    expect(s.threads.get(t.id).assistantId).toBeNull();
    expectCode(() => s.assistants.delete('default'), 'invalid_input');
    expectCode(() => s.threads.create({ assistantId: 'nobody' }), 'not_found');
  });

  test('invalid ids and oversized input give typed errors', () => {
    const s = openStore();
    const t = s.threads.create();
    expectCode(() => s.threads.get('no such thread'), 'invalid_input'); // malformed (spaces)
    expectCode(() => s.threads.get(''), 'invalid_input');
    expectCode(() => s.threads.get('x'.repeat(65)), 'invalid_input');
    expectCode(() => s.threads.get(42 as unknown as string), 'invalid_input');
    expectCode(() => s.threads.get('0f0e0d0c-0000-4000-8000-000000000000'), 'not_found');
    expectCode(() => s.threads.rename('0f0e0d0c-0000-4000-8000-000000000000', 'x'), 'not_found');
    expectCode(() => s.threads.rename(t.id, 'x'.repeat(LIMITS.titleChars + 1)), 'too_large');
    expectCode(() => s.threads.create({ title: 'y'.repeat(LIMITS.titleChars + 1) }), 'too_large');
    expectCode(() => s.threads.update(t.id, { overrides: { sampling: { temperature: -1 } } }), 'invalid_input');
    expectCode(() => s.threads.update(t.id, { overrides: { sampling: { tempurature: 1 } as never } }), 'invalid_input');
    expectCode(() => s.threads.list({ limit: 0 }), 'invalid_input');
    expectCode(() => s.threads.list({ limit: 10_000 }), 'invalid_input');
    expect(s.threads.rename(t.id, 'x'.repeat(LIMITS.titleChars)).title).toHaveLength(LIMITS.titleChars);
  });
});
