/**
 * The store's parts of the tools (migration 7): an assistant's tools (a JSON column, NULL: every
 * enabled tool), the grants "Allow for this thread" keeps per thread (tool_grants, gone with the
 * thread), and an export that carries the assistant's tools. Real SQLite files, the v6 fixture.
 */
import fs from 'fs';
import path from 'path';
import Database from 'better-sqlite3';
import { cleanupDirs, closeStores, expectCode, FIXTURES, openStore, tmpDir } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

const columns = (db: Database.Database, table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
const hasTable = (db: Database.Database, name: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

describe('migration 7', () => {
  test('on the v6 fixture: assistants get tools (null for every one), tool_grants is made and keeps its thread\'s grants', () => {
    const file = path.join(tmpDir(), 'hearth.db');
    fs.copyFileSync(path.join(FIXTURES, 'store-v6.db'), file);
    const raw = new Database(file, { readonly: true });
    expect(columns(raw, 'assistants')).not.toContain('tools');
    expect(hasTable(raw, 'tool_grants')).toBe(false);
    const assistantIds = raw.prepare('SELECT id FROM assistants ORDER BY id').pluck().all();
    raw.close();

    const s = openStore({ file });
    expect(s.migratedFrom).toBe(6);
    expect(columns(s.db, 'assistants')).toContain('tools');
    expect(columns(s.db, 'tool_grants')).toEqual(['thread_id', 'tool', 'granted_at']);
    expect(s.db.prepare('SELECT count(*) FROM assistants WHERE tools IS NOT NULL').pluck().get()).toBe(0);
    expect(s.assistants.list().map((a) => a.id).sort()).toEqual(assistantIds);
    for (const a of s.assistants.list()) expect(a.tools).toBeNull();

    const t = s.threads.list().items[0];
    expect(s.toolGrants.list(t.id)).toEqual([]);
    s.toolGrants.add(t.id, 'mcp:fx:shout');
    expect(s.toolGrants.list(t.id)).toEqual(['mcp:fx:shout']);
    expect(s.db.pragma('foreign_key_check')).toEqual([]);
  });
});

describe('tool grants', () => {
  test('listed in the order granted, once each; a key empty or too long is refused; an unknown thread is not_found', () => {
    const s = openStore();
    const t = s.threads.create({ title: 'grants' });
    s.toolGrants.add(t.id, 'builtin:fetch_url');
    s.toolGrants.add(t.id, 'mcp:fx:shout');
    s.toolGrants.add(t.id, 'builtin:fetch_url');
    expect(s.toolGrants.list(t.id)).toEqual(['builtin:fetch_url', 'mcp:fx:shout']);
    expectCode(() => s.toolGrants.add(t.id, ''), 'invalid_input');
    expectCode(() => s.toolGrants.add(t.id, 'k'.repeat(301)), 'too_large');
    expectCode(() => s.toolGrants.add('00000000-0000-4000-8000-000000000000', 'mcp:fx:shout'), 'not_found');
    expect(s.toolGrants.list(s.threads.create({}).id)).toEqual([]);
  });

  test('deleting a thread deletes its grants, and only its own', () => {
    const s = openStore();
    const a = s.threads.create({ title: 'a' });
    const b = s.threads.create({ title: 'b' });
    s.toolGrants.add(a.id, 'mcp:fx:shout');
    s.toolGrants.add(b.id, 'mcp:fx:shout');
    s.threads.delete(a.id);
    expect(s.db.prepare('SELECT thread_id FROM tool_grants').pluck().all()).toEqual([b.id]);
    expect(s.toolGrants.list(b.id)).toEqual(['mcp:fx:shout']);
  });
});

describe('an assistant\'s tools', () => {
  test('create and update round-trip through the column; null is every enabled tool; a bad choice is refused', () => {
    const s = openStore();
    const a = s.assistants.create({ name: 'Researcher', tools: { builtins: ['web_search', 'fetch_url'], servers: ['fx'] } });
    expect(a.tools).toEqual({ builtins: ['web_search', 'fetch_url'], servers: ['fx'] });
    expect(JSON.parse(s.db.prepare('SELECT tools FROM assistants WHERE id = ?').pluck().get(a.id) as string)).toEqual(a.tools);
    expect(s.assistants.create({ name: 'Plain' }).tools).toBeNull();
    // defaults fill in
    expect(s.assistants.create({ name: 'Clock', tools: { builtins: ['current_time'] } as never }).tools).toEqual({ builtins: ['current_time'], servers: [] });

    expect(s.assistants.update(a.id, { tools: { builtins: [], servers: [] } }).tools).toEqual({ builtins: [], servers: [] });
    expect(s.assistants.get(a.id).tools).toEqual({ builtins: [], servers: [] });
    // another field's update keeps them
    expect(s.assistants.update(a.id, { name: 'Renamed' }).tools).toEqual({ builtins: [], servers: [] });
    expect(s.assistants.update(a.id, { tools: null }).tools).toBeNull();
    expect(s.db.prepare('SELECT tools FROM assistants WHERE id = ?').pluck().get(a.id)).toBeNull();

    expectCode(() => s.assistants.create({ name: 'Bad', tools: { builtins: ['rm_rf'], servers: [] } as never }), 'invalid_input');
    expectCode(() => s.assistants.update(a.id, { tools: { builtins: [], servers: ['bad name'] } }), 'invalid_input');
  });

  test('a thread\'s export carries its assistant\'s tools into another store; an export without them imports as null', () => {
    const a = openStore();
    const helper = a.assistants.create({ name: 'Helper', tools: { builtins: ['fetch_url'], servers: ['weather'] } });
    const t = a.threads.create({ title: 'with tools', assistantId: helper.id });
    a.messages.add({ threadId: t.id, role: 'user', content: 'hi' });
    const doc = a.exportThreadJson(t.id);
    expect(doc.assistant?.tools).toEqual({ builtins: ['fetch_url'], servers: ['weather'] });

    const b = openStore();
    expect(b.importJson(JSON.stringify(doc))).toMatchObject({ threadIds: [t.id], assistants: 1 });
    expect(b.assistants.get(helper.id)).toEqual(a.assistants.get(helper.id));

    const c = openStore();
    const older = JSON.parse(JSON.stringify(doc));
    delete older.assistant.tools;
    c.importJson(older);
    expect(c.assistants.get(helper.id).tools).toBeNull();
    expect(c.threads.get(t.id).assistantId).toBe(helper.id);
  });
});
