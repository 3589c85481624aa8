import { DEFAULT_SETTINGS } from '../../main/store';
import { MAX_PROVIDERS, MAX_SHELVED_CHARS, MAX_SHELVED_DEPTH, TENSOR_SPLIT_MAX } from '../../main/params';
import { cleanupDirs, closeStores, expectCode, openStore, recordingLogger } from './helpers';

afterEach(() => { closeStores(); cleanupDirs(); });

describe('settings', () => {
  test('typed defaults', () => {
    const s = openStore();
    expect(s.settings.getAll()).toEqual(DEFAULT_SETTINGS);
    expect(s.settings.get('theme')).toBe('system');
    expect(s.settings.get('guardrail')).toBe('warn');
    expect(s.settings.get('chatDefaults')).toEqual({ temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1.1, maxTokens: -1 });
    // the data folder is not a setting: it is decided before the store (in it) opens
    expectCode(() => s.settings.get('dataDir' as never), 'invalid_input');
  });

  test('set, update and reset are validated and persist', () => {
    const s = openStore();
    s.settings.set('theme', 'dark');
    s.settings.set('chatDefaults', { ...DEFAULT_SETTINGS.chatDefaults, temperature: 1.3 });
    expect(s.settings.update({ guardrail: 'strict', fontSize: 16 })).toMatchObject({ theme: 'dark', guardrail: 'strict', fontSize: 16 });
    const again = openStore({ file: s.path });
    expect(again.settings.get('chatDefaults').temperature).toBe(1.3);
    expect(again.settings.get('guardrail')).toBe('strict');
    expect(again.settings.reset('theme')).toBe('system');
    expect(again.settings.get('theme')).toBe('system');

    expectCode(() => s.settings.set('theme', 'neon' as never), 'invalid_input');
    expectCode(() => s.settings.set('fontSize', 2.5 as never), 'invalid_input');
    expectCode(() => s.settings.set('chatDefaults', { temperature: 9 } as never), 'invalid_input');
    expectCode(() => s.settings.set('nope' as never, 1 as never), 'invalid_input');
    // all or nothing
    s.settings.set('theme', 'dark');
    expectCode(() => s.settings.update({ theme: 'light', guardrail: 'maybe' as never }), 'invalid_input');
    expect(s.settings.get('theme')).toBe('dark');
  });

  test('a repeat penalty of 0 is refused (llama.cpp refuses it at every reply), stored or saved', () => {
    // found by the IPC fuzz: chat defaults with repeatPenalty 0 were saved, and every reply then failed
    const s = openStore();
    expectCode(() => s.settings.set('chatDefaults', { ...DEFAULT_SETTINGS.chatDefaults, repeatPenalty: 0 }), 'invalid_input');
    expectCode(() => s.assistants.create({ name: 'Zero', sampling: { repeatPenalty: 0 } }), 'invalid_input');
    s.db.prepare('INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, 0)').run('chatDefaults', '{"repeatPenalty": 0}');
    expect(s.settings.get('chatDefaults').repeatPenalty).toBe(DEFAULT_SETTINGS.chatDefaults.repeatPenalty);
    expect(s.settings.set('chatDefaults', { ...DEFAULT_SETTINGS.chatDefaults, repeatPenalty: 0.05 }).repeatPenalty).toBe(0.05);
  });

  test('a corrupt stored value falls back to its default with a logged warning, never throws', () => {
    const logger = recordingLogger();
    const s = openStore({ logger });
    const put = s.db.prepare('INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, 0)');
    put.run('theme', '"ultraviolet"');
    put.run('chatDefaults', '{broken');
    put.run('fontSize', '99999');
    put.run('unknownKey', '"ignored"');
    const all = s.settings.getAll();
    expect(all.theme).toBe('system');
    expect(all.chatDefaults).toEqual(DEFAULT_SETTINGS.chatDefaults);
    expect(all.fontSize).toBe(DEFAULT_SETTINGS.fontSize);
    expect(logger.warnings.map((w) => w.meta?.key).sort()).toEqual(['chatDefaults', 'fontSize', 'theme']);
    // a partially stored object gets the defaults of its missing fields
    put.run('chatDefaults', '{"temperature": 0.2}');
    expect(s.settings.get('chatDefaults')).toEqual({ ...DEFAULT_SETTINGS.chatDefaults, temperature: 0.2 });
  });

  test("a providers setting that does not parse as a whole keeps what does: each provider that parses, the others shelved as stored, and allowRemote off unless stored on", () => {
    const logger = recordingLogger();
    const s = openStore({ logger });
    const put = s.db.prepare('INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES (?, ?, 0)');
    const good = { id: 'p1', name: 'Local', kind: 'openai-server', baseUrl: 'http://127.0.0.1:8080/v1', headers: {}, models: [] };
    // a kind this build does not know (a newer build's), a damaged entry, and the same id twice
    const stored = { allowRemote: false, list: [good, { ...good, id: 'p2', kind: 'future-kind' }, { id: 3 }, { ...good, name: 'Again' }] };
    // never written so: a write is checked whole
    expect(() => s.settings.set('providers', stored as never)).toThrow();
    put.run('providers', JSON.stringify(stored));
    const kept = s.settings.get('providers');
    expect(kept.allowRemote).toBe(false);
    expect(kept.list.map((p) => [p.id, p.name])).toEqual([['p1', 'Local']]);
    // the unknown kind and the damaged entry kept as stored; the repeated id gone
    expect(kept.shelved).toEqual([stored.list[1], stored.list[2]]);
    expect(logger.warnings.at(-1)).toMatchObject({ msg: 'store: invalid stored value partly kept', meta: { key: 'providers', dropped: ['provider 3 (p1)'], shelved: ['provider 1 (p2)', 'provider 2'] } });
    // what is kept is a setting the store writes, and reads back whole
    expect(s.settings.set('providers', kept)).toEqual(kept);
    expect(s.settings.get('providers')).toEqual(kept);
    // a shelf is kept as stored on the next read too; an entry of it that is not an object, or past its bound, goes
    put.run('providers', JSON.stringify({ list: [{ kind: 'y' }], shelved: [{ id: 'p9', kind: 'z' }, 'text', { big: 'x'.repeat(MAX_SHELVED_CHARS) }], extra: 1 }));
    expect(s.settings.get('providers').shelved).toEqual([{ kind: 'y' }, { id: 'p9', kind: 'z' }]);
    expect(logger.warnings.at(-1)!.meta).toMatchObject({ dropped: ['shelved 1', 'shelved 2'], shelved: ['provider 0'] });
    // a shelved entry with a listed provider's id is never kept beside it (a write refuses it)
    const clash = { allowRemote: true, list: [good], shelved: [{ id: 'p1', kind: 'z' }] };
    expect(() => s.settings.set('providers', clash as never)).toThrow();
    put.run('providers', JSON.stringify(clash));
    expect(s.settings.get('providers')).toEqual({ allowRemote: true, list: [expect.objectContaining({ id: 'p1' })] });
    expect(logger.warnings.at(-1)!.meta).toMatchObject({ dropped: ['shelved 0 (p1)'] });
    // nor two shelved with one id (the first kept)
    const twice = { allowRemote: true, list: [], shelved: [{ id: 'x', kind: 'z' }, { id: 'x', kind: 'w' }] };
    expect(() => s.settings.set('providers', twice as never)).toThrow();
    put.run('providers', JSON.stringify(twice));
    expect(s.settings.get('providers')).toEqual({ allowRemote: true, list: [], shelved: [{ id: 'x', kind: 'z' }] });
    expect(logger.warnings.at(-1)!.meta).toMatchObject({ dropped: ['shelved 1 (x)'] });
    // allowRemote that is not a boolean is off; absent, its default
    put.run('providers', JSON.stringify({ allowRemote: 'yes', list: [good] }));
    expect(s.settings.get('providers')).toMatchObject({ allowRemote: false, list: [{ id: 'p1' }] });
    put.run('providers', JSON.stringify({ list: [good, { kind: 'x' }] }));
    expect(s.settings.get('providers').allowRemote).toBe(DEFAULT_SETTINGS.providers.allowRemote);
    // not an object: the default, as any other setting (no providers)
    put.run('providers', '[1, 2]');
    expect(s.settings.get('providers')).toEqual(DEFAULT_SETTINGS.providers);
    // a list that is not one keeps none; a list over the bound keeps its first MAX_PROVIDERS, and names
    // at most 10 of what it left out; what is kept is a setting the store would write
    put.run('providers', JSON.stringify({ allowRemote: false, list: 'p1', extra: 1 }));
    expect(s.settings.get('providers')).toEqual({ allowRemote: false, list: [] });
    const many = Array.from({ length: MAX_PROVIDERS + 12 }, (_, i) => ({ ...good, id: `p${i}` }));
    put.run('providers', JSON.stringify({ allowRemote: true, list: [...many, { kind: 'x' }] }));
    const capped = s.settings.get('providers');
    expect(capped.list.map((p) => p.id)).toEqual(many.slice(0, MAX_PROVIDERS).map((p) => p.id));
    // those past the bound are shelved, as stored, with the one that does not parse
    expect(capped.shelved).toEqual([...many.slice(MAX_PROVIDERS), { kind: 'x' }]);
    expect(logger.warnings.at(-1)!.meta).toMatchObject({ dropped: [], shelved: [...Array.from({ length: 10 }, (_, i) => `provider ${MAX_PROVIDERS + i} (p${MAX_PROVIDERS + i})`), 'and 3 more'] });
    // a shelf past its own bound keeps its first MAX_PROVIDERS
    put.run('providers', JSON.stringify({ list: [], shelved: Array.from({ length: MAX_PROVIDERS + 2 }, (_, i) => ({ id: `s${i}`, kind: 'z' })) }));
    expect(s.settings.get('providers').shelved!.map((e) => e.id)).toEqual(Array.from({ length: MAX_PROVIDERS }, (_, i) => `s${i}`));
    // an entry nested past the stack (its JSON cannot be written again) is dropped, and the read does not throw
    // (and one past MAX_SHELVED_DEPTH, whichever the stack's depth)
    const nested = (n: number) => `{"id": "deep${n}", "kind": "z", "x": ${'['.repeat(n)}${']'.repeat(n)}}`;
    s.db.prepare("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES ('providers', ?, 0)").run(`{"list": [${nested(MAX_SHELVED_DEPTH - 2)}, ${nested(MAX_SHELVED_DEPTH)}, ${nested(4170)}]}`);
    expect(s.settings.get('providers').shelved!.map((e) => e.id)).toEqual([`deep${MAX_SHELVED_DEPTH - 2}`]);
    const deep = `{"id": "deep", "kind": "z", "x": ${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    s.db.prepare("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES ('providers', ?, 0)").run(`{"list": [${JSON.stringify(good)}, ${deep}]}`);
    expect(s.settings.get('providers')).toEqual({ allowRemote: DEFAULT_SETTINGS.providers.allowRemote, list: [expect.objectContaining({ id: 'p1' })] });
    expect(logger.warnings.at(-1)!.meta).toMatchObject({ dropped: ['provider 1 (deep)'] });
    expect(() => s.settings.getAll()).not.toThrow();
    expect(s.settings.set('providers', capped)).toEqual(capped);
  });

  test('per-model load settings keyed by model', () => {
    const logger = recordingLogger();
    const s = openStore({ logger });
    expect(s.modelSettings.get('/models/qwen.gguf')).toEqual({});
    s.modelSettings.set('/models/qwen.gguf', { contextSize: 32768, gpuLayers: 99, flashAttention: 'on' });
    s.modelSettings.set('/models/phi.gguf', { threads: 4 });
    expect(s.modelSettings.get('/models/qwen.gguf')).toEqual({ contextSize: 32768, gpuLayers: 99, flashAttention: 'on' });
    expect(s.modelSettings.list().map((m) => m.model)).toEqual(['/models/phi.gguf', '/models/qwen.gguf']);
    expectCode(() => s.modelSettings.set('/models/qwen.gguf', { contextSize: -5 }), 'invalid_input');
    expectCode(() => s.modelSettings.set('/models/qwen.gguf', { ctx: 5 } as never), 'invalid_input');
    s.db.prepare(`UPDATE model_settings SET value = 'nonsense' WHERE model = ?`).run('/models/phi.gguf');
    expect(s.modelSettings.get('/models/phi.gguf')).toEqual({});
    expect(logger.warnings).toHaveLength(1);
    s.modelSettings.delete('/models/qwen.gguf');
    expect(s.modelSettings.get('/models/qwen.gguf')).toEqual({});
  });

  test('settings stored before an adapter could be listed only once keep each file once, and the rest of them', () => {
    const logger = recordingLogger();
    const s = openStore({ logger });
    const stored = { contextSize: 8192, loraAdapters: [{ path: '/a.gguf', scale: 0.5 }, { path: '/b.gguf', scale: 1 }, { path: '/a.gguf', scale: 2 }], controlVectors: [{ path: '/c.gguf', scale: 1 }, { path: '/c.gguf', scale: 1 }] };
    s.db.prepare(`INSERT INTO model_settings (model, value, updated_at) VALUES (?, ?, 0)`).run('/models/old.gguf', JSON.stringify(stored));
    expect(s.modelSettings.get('/models/old.gguf')).toEqual({ contextSize: 8192, loraAdapters: [{ path: '/a.gguf', scale: 0.5 }, { path: '/b.gguf', scale: 1 }], controlVectors: [{ path: '/c.gguf', scale: 1 }] });
    expect(logger.warnings).toHaveLength(0);
    // a new value is held to the rule
    expectCode(() => s.modelSettings.set('/models/old.gguf', stored as never), 'invalid_input');
  });

  test('a split mode "row" stored before it was withdrawn (no backend Hearth builds can split rows) reads as "layer", the rest kept', () => {
    const logger = recordingLogger();
    const s = openStore({ logger });
    s.db.prepare(`INSERT INTO model_settings (model, value, updated_at) VALUES (?, ?, 0)`).run('/models/rows.gguf', JSON.stringify({ splitMode: 'row', mainGpu: 1, tensorSplit: [3, 1] }));
    expect(s.modelSettings.get('/models/rows.gguf')).toEqual({ splitMode: 'layer', mainGpu: 1, tensorSplit: [3, 1] });
    expect(logger.warnings).toHaveLength(0);
    expectCode(() => s.modelSettings.set('/models/rows.gguf', { splitMode: 'row' } as never), 'invalid_input');
  });

  test('a tensor split stored before its bound keeps its proportions, scaled into it, and the rest of the settings', () => {
    const logger = recordingLogger();
    const s = openStore({ logger });
    s.db.prepare(`INSERT INTO model_settings (model, value, updated_at) VALUES (?, ?, 0)`).run('/models/big.gguf', JSON.stringify({ contextSize: 8192, tensorSplit: [24e9, 12e9, 0] }));
    expect(s.modelSettings.get('/models/big.gguf')).toEqual({ contextSize: 8192, tensorSplit: [TENSOR_SPLIT_MAX, TENSOR_SPLIT_MAX / 2, 0] });
    expect(logger.warnings).toHaveLength(0);
    expectCode(() => s.modelSettings.set('/models/big.gguf', { tensorSplit: [24e9, 12e9] }), 'invalid_input');
  });
});

describe('assistants', () => {
  test('the default assistant exists from the first run; CRUD; threads use the configured default', () => {
    const s = openStore();
    const [def] = s.assistants.list();
    expect(def).toMatchObject({ id: 'default', name: 'Hearth', avatar: '🔥' });
    const a = s.assistants.create({ name: 'Translator', avatar: '🌍', instructions: 'Translate to French.', sampling: { temperature: 0.2 }, model: 'aya-8b' });
    expect(s.assistants.get(a.id)).toMatchObject({ name: 'Translator', sampling: { temperature: 0.2 }, model: 'aya-8b' });
    expect(s.assistants.update(a.id, { name: 'Traducteur', sampling: { temperature: 0.1, topP: 0.9 } })).toMatchObject({ name: 'Traducteur', avatar: '🌍', sampling: { temperature: 0.1, topP: 0.9 } });
    expect(s.assistants.list().map((x) => x.id)).toEqual(['default', a.id]);

    expect(s.threads.create().assistantId).toBe('default');
    s.settings.set('defaultAssistantId', a.id);
    expect(s.threads.create().assistantId).toBe(a.id);
    expect(s.temporary.threads.create().assistantId).toBe(a.id);
    s.assistants.delete(a.id);
    expect(s.threads.create().assistantId).toBe('default'); // the setting points nowhere: fall back
    expect(s.threads.create({ assistantId: null }).assistantId).toBeNull();

    expectCode(() => s.assistants.create({ name: '' }), 'invalid_input');
    expectCode(() => s.assistants.create({ name: 'x'.repeat(201) }), 'too_large');
    expectCode(() => s.assistants.update('default', { sampling: { topP: 2 } }), 'invalid_input');
    expectCode(() => s.assistants.get('missing'), 'not_found');
  });
});
