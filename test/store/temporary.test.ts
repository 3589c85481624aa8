import fs from 'fs';
import path from 'path';
import type { MessagesApi, ThreadsApi } from '../../main/store';
import { TemporaryChats } from '../../main/store/temporary';
import { cleanupDirs, closeStores, expectCode, fakeClock, openStore, recordingLogger } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

/** The same scenario against either implementation; returns a comparable summary. */
function scenario(api: { threads: ThreadsApi; messages: MessagesApi }, marker: string) {
  const t = api.threads.create({ title: `Temporary ${marker}`, overrides: { sampling: { temperature: 0.3 } } });
  const u = api.messages.add({ threadId: t.id, role: 'user', content: `secret ${marker} question` });
  const w = api.messages.beginReply({ threadId: t.id, model: 'm' });
  w.append(`secret ${marker} `);
  w.appendReasoning('hmm');
  w.append('answer');
  const r1 = w.finish({ status: 'done', metrics: { generatedTokens: 3 } });
  const w2 = api.messages.regenerate(r1.id);
  w2.append('second');
  const r2 = w2.finish({ status: 'aborted' });
  const w3 = api.messages.continueReply(r2.id);
  w3.append(' answer');
  w3.finish({ status: 'done' });
  const paged = api.messages.switchAlternative(r2.id, 'prev').map((m) => m.content);
  api.messages.switchAlternative(r1.id, 'next');
  const edited = api.messages.edit(u.id, `edited ${marker} question`);
  api.messages.add({ threadId: t.id, role: 'assistant', content: 'reply to edit' });
  const afterEdit = api.messages.list(t.id).map((m) => [m.role, m.content, m.alternatives.index, m.alternatives.count]);
  const back = api.messages.selectAlternative(u.id).map((m) => [m.role, m.content, m.alternatives.index, m.alternatives.count]);
  api.threads.rename(t.id, `Renamed ${marker}`);
  api.threads.setPinned(t.id, true);
  const thread = api.threads.get(t.id);
  const all = api.messages.listAll(t.id).length;
  api.messages.delete(edited.id);
  const afterDelete = api.messages.list(t.id).map((m) => m.content);
  return {
    id: t.id,
    summary: {
      afterEdit, back, all, afterDelete, paged, title: thread.title, pinned: thread.pinned, overrides: thread.overrides,
      reasoning: r1.reasoning, metrics: r1.metrics, listed: api.threads.list().items.map((x) => x.title),
      paging: [api.threads.list({ limit: 1 }).nextCursor === null, api.threads.list({ limit: 1, cursor: '1.0.0' }).items.length],
    },
  };
}

describe('temporary chats', () => {
  test('behave like saved chats', () => {
    const s = openStore();
    const saved = scenario(s, 'A');
    const temp = scenario(s.temporary, 'A');
    expect(s.temporary.threads.get(temp.id).temporary).toBe(true);
    expect(temp.summary).toEqual(saved.summary);
    expect(saved.summary.overrides).toEqual({ instructions: null, sampling: { temperature: 0.3 }, load: {} });
  });

  test('an edit keeps the message\'s attachments unless given others, in both stores', () => {
    const s = openStore();
    const img = (c: string) => ({ type: 'image', ref: c.repeat(64), name: `${c}.png`, mimeType: 'image/png', size: 10 });
    for (const api of [s, s.temporary]) {
      const t = api.threads.create({});
      const u = api.messages.add({ threadId: t.id, role: 'user', content: 'look', attachments: [img('a')] });
      expect(api.messages.edit(u.id, 'look again').attachments).toEqual([img('a')]);
      const other = api.messages.edit(u.id, 'look at this', [img('b'), img('c')]);
      expect(api.messages.get(other.id).attachments).toEqual([img('b'), img('c')]);
      expect(api.messages.get(u.id).attachments).toEqual([img('a')]);
      expectCode(() => api.messages.edit(u.id, 'bad', [{ type: '', ref: 'x' }]), 'invalid_input');
    }
  });

  test('leave no trace on disk', () => {
    const s = openStore();
    const marker = 'qzxjvkwtemporarymarker';
    const tables = () => s.db.prepare('SELECT (SELECT count(*) FROM threads) + (SELECT count(*) FROM messages)').pluck().get();
    const before = tables();
    const { id } = scenario(s.temporary, marker);
    // a streaming temporary reply left open
    const w = s.temporary.messages.beginReply({ threadId: id });
    w.append(`still ${marker} streaming`);
    expect(tables()).toBe(before);
    expect(s.threads.list().items).toHaveLength(0);
    expect(s.search({ query: marker }).hits).toHaveLength(0);
    expectCode(() => s.threads.get(id), 'not_found');
    expect(s.exportThreadJson(id).thread.title).toContain(marker); // exportable from memory

    const dir = path.dirname(s.path);
    s.close();
    const needles = [Buffer.from(marker, 'utf8'), Buffer.from(marker, 'utf16le')];
    for (const f of fs.readdirSync(dir)) {
      const bytes = fs.readFileSync(path.join(dir, f));
      for (const n of needles) expect(bytes.includes(n)).toBe(false);
    }
    const again = openStore({ file: path.join(dir, 'hearth.db') });
    expect(again.temporary.threads.list().items).toHaveLength(0);
    expect(again.threads.list().items).toHaveLength(0);
  });

  test('a temporary chat can be saved on request', () => {
    const s = openStore();
    const { id } = scenario(s.temporary, 'keepme');
    const saved = s.saveTemporary(id);
    expect(saved.temporary).toBe(false);
    expect(saved.title).toBe('Renamed keepme');
    expect(s.temporary.has(id)).toBe(false);
    expect(s.messages.list(saved.id).map((m) => m.content)).toEqual(['secret keepme question', 'second answer']);
    expect(s.search({ query: 'keepme' }).hits.length).toBeGreaterThan(0);
  });

  test('validate input and report unknown ids like the store', () => {
    const tc = new TemporaryChats({ clock: fakeClock(), logger: recordingLogger() });
    expectCode(() => tc.threads.get('missing'), 'not_found');
    expectCode(() => tc.threads.get('bad id'), 'invalid_input');
    const t = tc.threads.create();
    expectCode(() => tc.messages.add({ threadId: t.id, role: 'user', content: 'x'.repeat(4 * 1024 * 1024 + 1) }), 'too_large');
    expectCode(() => tc.threads.rename(t.id, 'x'.repeat(501)), 'too_large');
    // returned objects are copies
    const m = tc.messages.add({ threadId: t.id, role: 'user', content: 'a' });
    m.content = 'changed';
    expect(tc.messages.get(m.id).content).toBe('a');
    tc.clear();
    expectCode(() => tc.threads.get(t.id), 'not_found');
  });
});
