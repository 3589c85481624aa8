import fs from 'fs';
import path from 'path';
import { LIMITS, type Store, type ThreadExport } from '../../main/store';
import { toMillis } from '../../main/store/import-jan';
import { cleanupDirs, closeStores, expectCode, openStore, tmpDir } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

/** A thread using every feature: alternatives, reasoning, tool calls, attachments (a document too), a reply's sources, metrics, statuses, overrides. */
function richThread(s: Store) {
  const coach = s.assistants.create({ name: 'Coach', avatar: '🏃', instructions: 'Motivate.', sampling: { temperature: 0.9 }, model: 'phi-4' });
  const t = s.threads.create({ title: 'Marathon plan', assistantId: coach.id, model: 'phi-4',
    overrides: { instructions: 'Be concise.', sampling: { topP: 0.8 }, load: { contextSize: 8192 } } });
  s.messages.add({ threadId: t.id, role: 'system', content: 'You are a running coach.' });
  const u = s.messages.add({ threadId: t.id, role: 'user', content: 'Plan my first marathon', attachments: [{ type: 'file', ref: 'file:///home/me/log.csv', name: 'log.csv', size: 2048 }] });
  const w = s.messages.beginReply({ threadId: t.id, model: 'phi-4' });
  w.appendReasoning('Consider the base mileage.');
  w.append('Start with 30 km a week.');
  const r1 = w.finish({ status: 'done', finishReason: 'maxTokens', metrics: { promptTokens: 40, cachedTokens: 8, generatedTokens: 9, ttftMs: 150, genTps: 25, contextSize: 4096 },
    toolCalls: [{ id: 'call_1', name: 'calendar', arguments: { weeks: 16 }, result: { ok: true } }] });
  // the documents' passages the reply was given (a document attached beside the file)
  s.messages.update(u.id, { attachments: [...s.messages.get(u.id).attachments, { type: 'document', ref: 'a'.repeat(64), name: 'plan.pdf', mimeType: 'application/pdf', size: 4096 }] });
  s.messages.setSources(r1.id, [{ n: 1, ref: 'a'.repeat(64), name: 'plan.pdf', chunkId: 12, page: 3, heading: 'Base › Mileage', text: 'Run 30 km a week.', mode: 'retrieved',
    score: { fused: 0.032, keywordRank: 1, vectorRank: 2, distance: 0.41, rerank: null } }]);
  s.messages.add({ threadId: t.id, role: 'tool', content: '{"ok":true}', toolCallId: 'call_1' });
  const w2 = s.messages.regenerate(r1.id);
  w2.append('Follow a 16-week plan ```code``` with `ticks`');
  w2.finish({ status: 'error', error: 'context overflow' });
  s.messages.edit(u.id, 'Plan my first half marathon');
  const w3 = s.messages.beginReply({ threadId: t.id });
  w3.append('Twelve weeks is enough.');
  w3.finish({ status: 'aborted' });
  s.threads.setPinned(t.id, true);
  s.threads.setArchived(t.id, true);
  return t;
}

const strip = (d: ThreadExport) => ({ ...d, exportedAt: 0 });

describe('export and import', () => {
  test('JSON round trip into another store is lossless', () => {
    const a = openStore();
    const t = richThread(a);
    const doc = a.exportThreadJson(t.id);
    expect(doc.format).toBe('hearth.thread');
    expect(doc.messages).toHaveLength(7);
    expect(doc.assistant?.name).toBe('Coach');
    expect(doc.messages.flatMap((m) => m.sources ?? []).map((x) => x.heading)).toEqual(['Base › Mileage']);

    const b = openStore();
    const text = JSON.stringify(doc);
    const res = b.importJson(text);
    expect(res).toMatchObject({ threadIds: [t.id], messages: 7, assistants: 1, remapped: false });
    expect(strip(b.exportThreadJson(t.id))).toEqual(strip(doc));
    expect(b.messages.list(t.id)).toEqual(a.messages.list(t.id));
    expect(b.messages.listAll(t.id).find((m) => m.sources)?.sources).toEqual(a.messages.listAll(t.id).find((m) => m.sources)?.sources);
    expect(b.threads.get(t.id)).toEqual(a.threads.get(t.id));
    expect(b.assistants.get(doc.assistant!.id)).toEqual(a.assistants.get(doc.assistant!.id));
    expect(b.search({ query: 'twelve' }).hits).toHaveLength(1);
  });

  test('a version 1 file (before finish reasons were kept) still imports, its replies without one', () => {
    const a = openStore();
    const t = richThread(a);
    const doc = a.exportThreadJson(t.id);
    expect(doc.version).toBe(3);
    expect(doc.messages.find((m) => m.role === 'assistant' && m.status === 'done')?.finishReason).toBe('maxTokens');
    const v1 = { ...doc, version: 1, messages: doc.messages.map(({ finishReason: _, ...m }) => m) };
    const b = openStore();
    expect(b.importJson(JSON.stringify(v1)).messages).toBe(7);
    expect(b.messages.listAll(t.id).map((m) => m.finishReason)).toEqual(Array(7).fill(null));
  });

  test('importing into the same store gives new ids and leaves the original alone', () => {
    const s = openStore();
    const t = richThread(s);
    const doc = s.exportThreadJson(t.id);
    const res = s.importJson(doc);
    expect(res.remapped).toBe(true);
    expect(res.threadIds[0]).not.toBe(t.id);
    const copy = s.exportThreadJson(res.threadIds[0]);
    const normalize = (d: ThreadExport) => {
      const ids = new Map(d.messages.map((m, i) => [m.id, `m${i}`]));
      return { ...d, exportedAt: 0, thread: { ...d.thread, id: 'x' }, messages: d.messages.map((m) => ({ ...m, id: ids.get(m.id), parentId: m.parentId && ids.get(m.parentId) })) };
    };
    expect(normalize(copy)).toEqual(normalize(doc));
    expect(strip(s.exportThreadJson(t.id))).toEqual(strip(doc));
  });

  test('a file export imports from a path', () => {
    const s = openStore();
    const t = richThread(s);
    const file = path.join(tmpDir(), 'thread.json');
    fs.writeFileSync(file, JSON.stringify(s.exportThreadJson(t.id), null, 2));
    const b = openStore();
    expect(b.importJsonFile(file).messages).toBe(7);
  });

  test('Markdown export shows the current path readably', () => {
    const s = openStore();
    const t = richThread(s);
    s.threads.setArchived(t.id, false);
    const md = s.exportThreadMarkdown(t.id);
    expect(md.startsWith('# Marathon plan\n')).toBe(true);
    expect(md).toContain('model: phi-4');
    expect(md).toContain('> **Instructions:** Be concise.');
    expect(md).toContain('## System');
    expect(md).toContain('## User · alternative 2 of 2');
    expect(md).toContain('Plan my first half marathon');
    expect(md).not.toContain('Plan my first marathon');
    expect(md).toContain('## Assistant · aborted');
    expect(md).toContain('Twelve weeks is enough.');
    // the other branch has reasoning, tool calls and an attachment
    s.messages.selectAlternative(s.messages.listAll(t.id)[1].id);
    s.messages.selectAlternative(s.messages.listAll(t.id)[2].id);
    const md2 = s.exportThreadMarkdown(t.id);
    expect(md2).toContain('## Assistant · phi-4 · alternative 1 of 2 · stopped at the max tokens limit');
    expect(md2).toContain('<details><summary>Reasoning</summary>');
    expect(md2).toContain('Consider the base mileage.');
    expect(md2).toContain('<details><summary>Tool call: calendar</summary>');
    expect(md2).toContain('"weeks": 16');
    expect(md2).toContain('- Attachment (file): log.csv');
    expect(md2).toContain('## Tool');
  });

  test('bad import files give a clear error and import nothing', () => {
    const s = openStore();
    const t = richThread(s);
    const good = s.exportThreadJson(t.id);
    const b = openStore();
    const count = () => b.db.prepare('SELECT (SELECT count(*) FROM threads) * 1000 + (SELECT count(*) FROM messages)').pluck().get();
    const before = count();
    const bad: [string, unknown, RegExp][] = [
      ['not json', '{"format": "hearth.thread", ', /not valid JSON/],
      ['not an export', { hello: 'world' }, /not a Hearth export/],
      ['wrong role', { ...good, messages: good.messages.map((m, i) => (i === 3 ? { ...m, role: 'wizard' } : m)) }, /messages\.3\.role/],
      ['dangling parent', { ...good, messages: good.messages.map((m, i) => (i === 2 ? { ...m, parentId: 'missing-parent' } : m)) }, /not in the file/],
      ['cycle', { ...good, messages: good.messages.map((m, i) => (i === 0 ? { ...m, parentId: good.messages[1].id } : m)) }, /own ancestor/],
      ['duplicate id', { ...good, messages: [...good.messages, good.messages[0]] }, /appears twice/],
      ['oversized', { ...good, messages: good.messages.map((m, i) => (i === 1 ? { ...m, content: 'x'.repeat(4 * 1024 * 1024 + 1) } : m)) }, /over 4194304 bytes/],
      ['newer export version', { ...good, version: 99 }, /version/],
      ['bundle with one bad thread', { format: 'hearth.threads', version: 1, exportedAt: 0, threads: [good, { ...good, thread: { ...good.thread, title: 42 } }] }, /thread\.title/],
    ];
    for (const [name, input, msg] of bad) {
      let err: unknown;
      try { b.importJson(input as object); } catch (e) { err = e; }
      expect([name, (err as { code?: string })?.code]).toEqual([name, 'import_failed']);
      expect((err as Error).message).toMatch(msg);
      expect(count()).toBe(before);
    }
    expectCode(() => b.importJsonFile(path.join(tmpDir(), 'missing.json')), 'import_failed');
  });

  test('a tool call\'s arguments nested 200,000 deep: an issue naming the field (import_failed, invalid_input), not a RangeError', () => {
    const s = openStore();
    const good = s.exportThreadJson(richThread(s).id);
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const text = JSON.stringify(good).replace('{"weeks":16}', deep);
    expect(text.length).toBeGreaterThan(400_000);
    const b = openStore();
    let err: unknown;
    try { b.importJson(text); } catch (e) { err = e; }
    expect(err).toMatchObject({ code: 'import_failed' });
    expect((err as Error).message).toMatch(/messages\.\d+\.toolCalls\.0\.arguments: not a JSON value that can be kept \(nested too deeply\)/);
    expect(b.db.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(0);
    const t = b.threads.create({ title: 'Deep' });
    expectCode(() => b.messages.add({ threadId: t.id, role: 'assistant', toolCalls: [{ id: 'c1', name: 'calendar', arguments: JSON.parse(deep) }] }), 'invalid_input');
  });

  test('text given whole (the store\'s importJson) is refused past one conversation\'s bytes', () => {
    const big = `{"format":"hearth.thread","x":"${'x'.repeat(LIMITS.conversationBytes)}"}`;
    expect(() => openStore().importJson(big)).toThrow(expect.objectContaining({ code: 'import_failed', message: `import is too large (more than ${LIMITS.conversationBytes} bytes)` }));
  });
});

/* ------------------------------------------------------------------ Jan */

function writeJan(root: string) {
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  const sec = 1_700_000_000;
  write('threads/jan_1700000000/thread.json', JSON.stringify({
    id: 'jan_1700000000', object: 'thread', title: 'Jan: learning Go',
    assistants: [{ id: 'jan', name: 'Jan', model: { id: 'llama3.2-3b-instruct', settings: {}, parameters: {} }, instructions: 'Explain simply.', tools: [] }],
    created: sec, updated: sec + 100, metadata: { isFavorite: true },
  }));
  const msg = (o: Record<string, unknown>) => JSON.stringify({ object: 'thread.message', thread_id: 'jan_1700000000', assistant_id: 'jan', attachments: [], type: 'text', metadata: {}, ...o });
  write('threads/jan_1700000000/messages.jsonl', [
    // out of order on purpose: ordered by created_at on import
    msg({ id: '01HF0000000000000000000002', role: 'assistant', content: [{ type: 'text', text: { value: '<think>They want basics.</think>Goroutines are light threads.', annotations: [] } }], status: 'ready', created_at: sec + 20, completed_at: sec + 25, metadata: { tokenSpeed: { tokenSpeed: 31.5, tokenCount: 120 } } }),
    msg({ id: '01HF0000000000000000000001', role: 'user', content: [{ type: 'text', text: { value: 'What is a goroutine?', annotations: [] } }, { type: 'image_url', image_url: { url: 'https://example.com/gopher.png' } }], status: 'ready', created_at: sec + 10, completed_at: sec + 10 }),
    '',
    msg({ id: '01HF0000000000000000000003', role: 'user', content: [{ type: 'text', text: { value: 'And channels?', annotations: [] } }], status: 'ready', created_at: sec + 30 }),
    msg({ id: '01HF0000000000000000000004', role: 'assistant', content: [{ type: 'text', text: { value: 'Channels conn', annotations: [] } }], status: 'stopped', created_at: sec + 40 }),
  ].join('\n') + '\n');
  // a second thread with millisecond timestamps and an error
  const ms = 1_710_000_000_000;
  write('threads/01HG000000000000000000000T/thread.json', JSON.stringify({
    id: '01HG000000000000000000000T', object: 'thread', title: 'Jan: broken model', assistants: [{ id: 'jan', name: 'Jan', model: 'mistral-7b' }],
    created: ms, updated: ms + 5000, metadata: {}, model: { id: 'mistral-7b-v0.3', provider: 'llama.cpp' },
  }));
  write('threads/01HG000000000000000000000T/messages.jsonl', [
    JSON.stringify({ id: 'msg-a', thread_id: '01HG000000000000000000000T', role: 'user', content: [{ type: 'text', text: { value: 'Hello?' } }], status: 'ready', created_at: ms + 1000 }),
    JSON.stringify({ id: 'msg-b', thread_id: '01HG000000000000000000000T', role: 'assistant', content: [], status: 'error', error_code: 'out_of_memory', created_at: ms + 2000 }),
  ].join('\n'));
  write('assistants/jan/assistant.json', JSON.stringify({
    id: 'jan', avatar: '👋', name: 'Jan', description: 'Default Jan assistant', model: '*', instructions: 'You are Jan.',
    tools: [], created_at: sec, parameters: { temperature: 0.6, top_p: 0.95, max_tokens: 2048, frequency_penalty: 0, stream: true },
  }));
}

describe('Jan import', () => {
  test('imports a Jan data folder: threads, messages, assistant; twice imports nothing new', async () => {
    const root = tmpDir();
    writeJan(root);
    const s = openStore();
    const res = await s.importJan(root);
    expect(res).toMatchObject({ messages: 6, assistants: 1, skipped: 0 });
    expect(res.threadIds.sort()).toEqual(['01HG000000000000000000000T', 'jan_1700000000']);

    const go = s.threads.get('jan_1700000000');
    expect(go).toMatchObject({ title: 'Jan: learning Go', pinned: true, model: 'llama3.2-3b-instruct', assistantId: 'jan',
      createdAt: 1_700_000_000_000, updatedAt: 1_700_000_100_000 });
    expect(go.overrides.instructions).toBe('Explain simply.');
    const msgs = s.messages.list(go.id);
    expect(msgs.map((m) => [m.role, m.content, m.status])).toEqual([
      ['user', 'What is a goroutine?', 'done'],
      ['assistant', 'Goroutines are light threads.', 'done'],
      ['user', 'And channels?', 'done'],
      ['assistant', 'Channels conn', 'aborted'],
    ]);
    expect(msgs[0].attachments).toEqual([{ type: 'image', ref: 'https://example.com/gopher.png' }]);
    expect(msgs[1]).toMatchObject({ reasoning: 'They want basics.', model: 'llama3.2-3b-instruct', createdAt: 1_700_000_020_000,
      updatedAt: 1_700_000_025_000, metrics: { genTps: 31.5, generatedTokens: 120 } });
    expect(msgs[1].id).toBe('01HF0000000000000000000002');

    const broken = s.messages.list('01HG000000000000000000000T');
    expect(s.threads.get('01HG000000000000000000000T').model).toBe('mistral-7b-v0.3');
    expect(broken.map((m) => [m.status, m.error, m.createdAt])).toEqual([['done', null, 1_710_000_001_000], ['error', 'out_of_memory', 1_710_000_002_000]]);

    const jan = s.assistants.get('jan');
    expect(jan).toMatchObject({ name: 'Jan', avatar: '👋', instructions: 'You are Jan.', sampling: { temperature: 0.6, topP: 0.95, maxTokens: 2048 } });
    expect(s.search({ query: 'goroutines' }).hits).toHaveLength(1);

    const again = await s.importJan(root);
    expect(again).toMatchObject({ threadIds: [], messages: 0, skipped: 2, assistants: 0 });
    expect(s.threads.list().items).toHaveLength(2);
  });

  test('imports a single Jan thread folder', async () => {
    const root = tmpDir();
    writeJan(root);
    const s = openStore();
    const res = await s.importJan(path.join(root, 'threads', '01HG000000000000000000000T'));
    expect(res.threadIds).toEqual(['01HG000000000000000000000T']);
    expect(s.threads.get('01HG000000000000000000000T').assistantId).toBe('default');
  });

  test('a bad Jan file imports nothing and says where', async () => {
    const root = tmpDir();
    writeJan(root);
    const file = path.join(root, 'threads/01HG000000000000000000000T/messages.jsonl');
    fs.appendFileSync(file, '\n{"id": "msg-c", "role": "user", "content": [{"type": "text", "text": {"value": "cut');
    const s = openStore();
    let err: unknown;
    try { await s.importJan(root); } catch (e) { err = e; }
    expect((err as { code: string }).code).toBe('import_failed');
    expect((err as Error).message).toContain('messages.jsonl:3');
    expect(s.threads.list().items).toHaveLength(0);
    expect(s.assistants.list().map((a) => a.id)).toEqual(['default']);

    fs.writeFileSync(file, JSON.stringify({ id: 'x', role: 'narrator', content: 'hi' }));
    await expect(s.importJan(root)).rejects.toThrow(/not a Jan message/);
    fs.writeFileSync(file, '');
    fs.writeFileSync(path.join(root, 'threads/jan_1700000000/thread.json'), '[]');
    await expect(s.importJan(root)).rejects.toThrow(/not a Jan thread/);
    await expect(s.importJan(tmpDir())).rejects.toMatchObject({ code: 'import_failed' });
    await expect(s.importJan(path.join(root, 'nope'))).rejects.toMatchObject({ code: 'import_failed' });
    expect(s.threads.list().items).toHaveLength(0);
  });

  test('a tool call whose arguments nest 200,000 deep is left out; its message and the other calls are kept', async () => {
    const root = tmpDir();
    writeJan(root);
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const call = (id: string, name: string, args: string) => ({ tool: { id, function: { name, arguments: args } } });
    fs.appendFileSync(path.join(root, 'threads/01HG000000000000000000000T/messages.jsonl'), `\n${JSON.stringify({
      id: 'msg-c', role: 'assistant', content: 'Called.', status: 'ready', created_at: 1_710_000_003_000,
      metadata: { tool_calls: [call('t1', 'deep', deep), call('t2', 'weather', '{"city":"Oslo"}')] },
    })}`);
    const s = openStore();
    expect((await s.importJan(root)).messages).toBe(7);
    expect(s.messages.get('msg-c')).toMatchObject({ content: 'Called.', toolCalls: [{ id: 't2', name: 'weather', arguments: { city: 'Oslo' } }] });
  });

  test('timestamps in seconds or milliseconds', () => {
    expect(toMillis(1_700_000_000, 0)).toBe(1_700_000_000_000);
    expect(toMillis(1_700_000_000_123, 0)).toBe(1_700_000_000_123);
    expect(toMillis(undefined, 5)).toBe(5);
    expect(toMillis(0, 5)).toBe(5);
  });
});
