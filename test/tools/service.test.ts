/**
 * ToolsService through the IPC entry point, as the app composes it (composeApp over a real store in a
 * fresh data folder) with the fixture MCP server over stdio (test/fixtures/mcp-server.js, built with
 * the official SDK): the secrets of a server's env kept out of the settings row and out of every
 * status, and still reaching the server; renames, removals, duplicates; tools.changed, a failing
 * server, restart; imports from text and from another app's config found in a fake home; the search
 * keys; and the approvals' policy with the store's grants. Electron's safeStorage cannot be reached
 * here: the "keychain" case uses a stand-in cipher (XOR, tagged) that only shows the store encrypts
 * with the cipher it was given and decrypts what it kept.
 */
import fs from 'fs';
import path from 'path';
import type { EventOf, ToolsStatusDTO } from '../../main/ipc/contract';
import { MAX_MCP_SERVERS, McpServerConfig, mcpKey } from '../../main/params/tools';
import type { SecretCipher } from '../../main/settings/token';
import type { ToolDefinition } from '../../main/tools/types';
import { type ChatApp, useChatApps } from '../helpers/chat';
import { FIXTURE, until } from '../helpers/mcp';

jest.setTimeout(60_000);

const { open, folder } = useChatApps((extra) => ({ model: null, ...extra }));
const never = () => new AbortController().signal;
const SECRET = 'secret-1';

const stdio = (name: string, more: Record<string, unknown> = {}) => ({ transport: 'stdio', name, command: process.execPath, args: [FIXTURE], ...more });
const save = (c: ChatApp, config: Record<string, unknown>, previousName?: string) =>
  c.call<ToolsStatusDTO>('tools.servers.save', { config, ...(previousName ? { previousName } : {}) });
const settingsRow = (c: ChatApp) => c.app.store.db.prepare("SELECT value FROM settings WHERE key = 'mcpServers'").pluck().get() as string;
const secretsFile = (c: ChatApp) => path.join(c.dir, 'tool-secrets.json');
const secretNames = (c: ChatApp) => (fs.existsSync(secretsFile(c)) ? Object.keys(JSON.parse(fs.readFileSync(secretsFile(c), 'utf8'))).sort() : []);

async function untilState(c: ChatApp, name: string, state: 'ready' | 'failed'): Promise<ToolsStatusDTO> {
  let last: ToolsStatusDTO | null = null;
  await until(() => {
    last = c.app.tools.status();
    return last.servers.some((s) => s.name === name && s.state === state);
  }, 20_000).catch(() => {
    throw new Error(`${name} did not become ${state}: ${JSON.stringify(last?.servers)}`);
  });
  return last!;
}

/** The fixture's `env` tool: what the server's process sees of an environment variable. */
async function envOf(c: ChatApp, server: string, name: string): Promise<string> {
  const out = await c.app.tools.registry.offered(null).call(`${server}__env`, { name }, never());
  expect(out.isError).toBe(false);
  return out.text;
}

/** The events a test's app tells, by kind. */
function record(c: ChatApp) {
  const changed: ToolsStatusDTO[] = [];
  const calls: EventOf<'tools.call'>[] = [];
  c.app.services.subscribe((event, payload) => {
    if (event === 'tools.changed') changed.push(payload as ToolsStatusDTO);
    if (event === 'tools.call') calls.push(payload as EventOf<'tools.call'>);
  });
  return { changed, calls };
}

describe('a server\'s secrets', () => {
  test('env values go to the secret store (0600), never to the settings row or a status, and reach the server', async () => {
    const c = open();
    const saved = await save(c, stdio('fixture', { env: { API_KEY: SECRET, OTHER: 'two' } }));
    expect(saved.servers.map((s) => s.name)).toEqual(['fixture']);
    expect(saved.servers[0].config).toMatchObject({ transport: 'stdio', env: { API_KEY: '', OTHER: '' } });

    const row = settingsRow(c);
    expect(JSON.parse(row)).toEqual([expect.objectContaining({ name: 'fixture', env: { API_KEY: '', OTHER: '' } })]);
    expect(row).not.toContain(SECRET);

    expect(fs.statSync(secretsFile(c)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(fs.readFileSync(secretsFile(c), 'utf8'))).toEqual({
      'mcp.fixture.env.API_KEY': { keychain: false, value: SECRET },
      'mcp.fixture.env.OTHER': { keychain: false, value: 'two' },
    });

    const ready = await untilState(c, 'fixture', 'ready');
    for (const s of [saved, ready, await c.call<ToolsStatusDTO>('tools.status')]) {
      expect(JSON.stringify(s)).not.toContain(SECRET);
      expect(s.secrets).toEqual([]); // servers' secrets are not listed with the search keys
      expect(s.secretStore).toBe('file');
    }
    expect(await envOf(c, 'fixture', 'API_KEY')).toBe(SECRET);
    expect(await envOf(c, 'fixture', 'OTHER')).toBe('two');
  });

  test('"" keeps the stored value; a removed key drops its secret; a rename moves them; delete drops them', async () => {
    const c = open();
    await save(c, stdio('fixture', { env: { API_KEY: SECRET, OTHER: 'two' } }));
    await untilState(c, 'fixture', 'ready');

    // the page sends back what it was shown: "" for API_KEY; OTHER is gone
    await save(c, stdio('fixture', { env: { API_KEY: '' } }), 'fixture');
    expect(secretNames(c)).toEqual(['mcp.fixture.env.API_KEY']);
    expect(JSON.parse(settingsRow(c))[0].env).toEqual({ API_KEY: '' });
    await untilState(c, 'fixture', 'ready');
    expect(await envOf(c, 'fixture', 'API_KEY')).toBe(SECRET);
    expect(await envOf(c, 'fixture', 'OTHER')).toBe('(unset)');

    // a new value replaces it
    await save(c, stdio('fixture', { env: { API_KEY: 'secret-2' } }), 'fixture');
    await until(() => c.app.tools.status().servers[0]?.state === 'ready');
    expect(await envOf(c, 'fixture', 'API_KEY')).toBe('secret-2');

    // renamed: the secrets follow the server, none stay under the old name
    const renamed = await save(c, stdio('fx2', { env: { API_KEY: '' } }), 'fixture');
    expect(renamed.servers.map((s) => s.name)).toEqual(['fx2']);
    expect(secretNames(c)).toEqual(['mcp.fx2.env.API_KEY']);
    await untilState(c, 'fx2', 'ready');
    expect(await envOf(c, 'fx2', 'API_KEY')).toBe('secret-2');
    expect(c.app.tools.registry.all().some((d) => d.source === 'fixture')).toBe(false);

    const deleted = await c.call<ToolsStatusDTO>('tools.servers.delete', { name: 'fx2' });
    expect(deleted.servers).toEqual([]);
    expect(secretNames(c)).toEqual([]);
    expect(JSON.parse(settingsRow(c))).toEqual([]);
    expect(c.app.tools.registry.all().map((d) => d.source)).toEqual(['builtin', 'builtin']); // fetch_url, current_time
  });

  test('a header of an HTTP server is a secret too', async () => {
    const c = open();
    await save(c, { transport: 'http', name: 'remote', url: 'http://127.0.0.1:9/mcp', enabled: false, headers: { Authorization: 'Bearer ' + SECRET } });
    expect(settingsRow(c)).not.toContain(SECRET);
    expect(JSON.parse(settingsRow(c))[0].headers).toEqual({ Authorization: '' });
    expect(secretNames(c)).toEqual(['mcp.remote.header.Authorization']);
    expect(JSON.stringify(await c.call('tools.status'))).not.toContain(SECRET);
  });

  test('with a cipher (a stand-in for safeStorage) the file holds no clear text, and the server still gets the value', async () => {
    const encrypted: string[] = [];
    const cipher: SecretCipher = {
      encrypt: (text) => {
        encrypted.push(text);
        return Buffer.concat([Buffer.from('x0r:'), Buffer.from(Buffer.from(text, 'utf8').map((b) => b ^ 0x5a))]);
      },
      decrypt: (data) => {
        if (data.subarray(0, 4).toString() !== 'x0r:') throw new Error('not ours');
        return Buffer.from(data.subarray(4).map((b) => b ^ 0x5a)).toString('utf8');
      },
    };
    const c = open({ compose: { secrets: cipher } });
    const saved = await save(c, stdio('fixture', { env: { API_KEY: SECRET } }));
    expect(saved.secretStore).toBe('keychain');
    expect(encrypted).toEqual([SECRET]);
    const text = fs.readFileSync(secretsFile(c), 'utf8');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(Buffer.from(SECRET).toString('base64'));
    const entry = JSON.parse(text)['mcp.fixture.env.API_KEY'];
    expect(entry.keychain).toBe(true);
    expect(cipher.decrypt(Buffer.from(entry.value, 'base64'))).toBe(SECRET);
    expect(fs.statSync(secretsFile(c)).mode & 0o777).toBe(0o600);
    await untilState(c, 'fixture', 'ready');
    expect(await envOf(c, 'fixture', 'API_KEY')).toBe(SECRET);
  });

  test('a name taken is refused, an unknown previous name or server is not found; nothing changes', async () => {
    const c = open();
    await save(c, stdio('a', { enabled: false, env: { K: 'ka' } }));
    await save(c, stdio('b', { enabled: false, env: { K: 'kb' } }));
    const before = settingsRow(c);
    await expect(save(c, stdio('a', { enabled: false, env: { K: 'other' } }))).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('an MCP server named a is there already') });
    await expect(save(c, stdio('a', { enabled: false, env: { K: 'other' } }), 'b')).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(save(c, stdio('c', { enabled: false }), 'nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(c.call('tools.servers.delete', { name: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    await expect(c.call('tools.servers.restart', { name: 'nope' })).rejects.toMatchObject({ code: 'not_found' });
    // the contract refuses a name that cannot prefix a tool's name
    await expect(save(c, stdio('bad name', { enabled: false }))).rejects.toMatchObject({ code: 'invalid_input' });
    expect(settingsRow(c)).toBe(before);
    expect(secretNames(c)).toEqual(['mcp.a.env.K', 'mcp.b.env.K']);
    expect(JSON.parse(fs.readFileSync(secretsFile(c), 'utf8'))['mcp.a.env.K'].value).toBe('ka');
  });
  test('a save the store refuses (the 65th server) keeps no secret, which a later server of that name would get', async () => {
    const c = open();
    for (let i = 0; i < MAX_MCP_SERVERS; i++) c.app.tools.save(undefined, McpServerConfig.parse(stdio(`s${i}`, { enabled: false })));
    await expect(save(c, stdio('extra', { enabled: false, env: { K: 'orphan' } }))).rejects.toMatchObject({ code: 'too_large' });
    expect(secretNames(c)).toEqual([]);
    await c.call('tools.servers.delete', { name: 's0' });
    await save(c, stdio('extra', { enabled: false, env: { K: '' } }));
    expect(secretNames(c)).toEqual([]);
    expect(JSON.stringify(c.app.tools.mcp.status())).not.toContain('orphan');
  });

  test('the secrets file is 0600 even when a stale temporary file of another mode lies there', async () => {
    const c = open();
    fs.writeFileSync(`${secretsFile(c)}.tmp`, '{}', { mode: 0o644 });
    fs.chmodSync(`${secretsFile(c)}.tmp`, 0o644);
    await save(c, stdio('fixture', { enabled: false, env: { API_KEY: SECRET } }));
    expect(fs.statSync(secretsFile(c)).mode & 0o777).toBe(0o600);
  });
});

describe('state', () => {
  test('tools.changed is told on save, on each state change and on delete', async () => {
    const c = open();
    const { changed } = record(c);
    await save(c, stdio('fixture'));
    await untilState(c, 'fixture', 'ready');
    const states = changed.map((s) => s.servers.find((x) => x.name === 'fixture')?.state);
    expect(states).toContain('starting');
    expect(states[states.length - 1]).toBe('ready');
    expect(changed[changed.length - 1].tools.map((t) => t.name)).toEqual(expect.arrayContaining(['fixture__env', 'fixture__shout', 'current_time']));

    const n = changed.length;
    await c.call('tools.servers.delete', { name: 'fixture' });
    await until(() => changed.length > n && changed[changed.length - 1].servers.length === 0);
    expect(changed[changed.length - 1].tools.some((t) => t.source === 'fixture')).toBe(false);
  });

  test('a server whose command does not exist is failed with its error; restart tries again; a working one restarts', async () => {
    const c = open();
    const { changed } = record(c);
    await save(c, { transport: 'stdio', name: 'broken', command: path.join(c.dir, 'no-such-command') });
    const failed = await untilState(c, 'broken', 'failed');
    const broken = failed.servers.find((s) => s.name === 'broken')!;
    expect(broken.error).toEqual(expect.any(String));
    expect(broken.error!.length).toBeGreaterThan(0);
    expect(broken.tools).toEqual([]);
    expect(changed.some((s) => s.servers.some((x) => x.name === 'broken' && x.state === 'failed'))).toBe(true);

    const n = changed.length;
    const again = await c.call<ToolsStatusDTO>('tools.servers.restart', { name: 'broken' });
    expect(again.servers.find((s) => s.name === 'broken')).toMatchObject({ state: 'failed', error: expect.any(String) });
    expect(changed.length).toBeGreaterThan(n); // starting, then failed again

    await save(c, stdio('fixture'));
    await untilState(c, 'fixture', 'ready');
    const pid = await c.app.tools.registry.offered(null).call('fixture__pid', {}, never());
    const restarted = await c.call<ToolsStatusDTO>('tools.servers.restart', { name: 'fixture' });
    expect(restarted.servers.find((s) => s.name === 'fixture')?.state).toBe('ready');
    const pid2 = await c.app.tools.registry.offered(null).call('fixture__pid', {}, never());
    expect(pid2.text).toMatch(/^\d+$/);
    expect(pid2.text).not.toBe(pid.text);
  });

  test('a disabled server is listed as stopped, with no tools', async () => {
    const c = open();
    const s = await save(c, stdio('off', { enabled: false }));
    expect(s.servers).toEqual([expect.objectContaining({ name: 'off', state: 'stopped', error: null, tools: [] })]);
  });
});

describe('import', () => {
  const claude = (servers: Record<string, unknown>) => JSON.stringify({ mcpServers: servers });

  test('Claude Desktop text: a name taken gets a suffix; env values go to the secret store', async () => {
    const c = open();
    await save(c, stdio('fixture', { enabled: false }));
    const out = await c.call('tools.servers.import', {
      text: claude({ fixture: { command: process.execPath, args: [FIXTURE], env: { API_KEY: 'imported' } }, 'my weather': { command: 'weather-mcp', args: ['--x'] } }),
      filename: 'claude_desktop_config.json',
    });
    expect(out).toEqual({
      added: ['fixture-2', 'my-weather'],
      skipped: [],
      // the user is told what became of the names
      notes: [
        { name: 'fixture-2', note: 'named "fixture" in "claude_desktop_config.json"' },
        { name: 'my-weather', note: 'named "my weather" in "claude_desktop_config.json"' },
      ],
    });
    const row = settingsRow(c);
    expect(row).not.toContain('imported');
    expect(JSON.parse(row).map((x: { name: string }) => x.name)).toEqual(['fixture', 'fixture-2', 'my-weather']);
    expect(JSON.parse(row)[1]).toMatchObject({ transport: 'stdio', command: process.execPath, args: [FIXTURE], env: { API_KEY: '' } });
    expect(secretNames(c)).toEqual(['mcp.fixture-2.env.API_KEY']);
    await untilState(c, 'fixture-2', 'ready');
    expect(await envOf(c, 'fixture-2', 'API_KEY')).toBe('imported');
  });

  test('VS Code\'s shape (comments, trailing commas, http); invalid JSON is invalid_input with a clear message', async () => {
    const c = open();
    const text = `{
      // VS Code's user mcp.json
      "servers": {
        "vs": { "type": "stdio", "command": "vs-mcp", "args": ["a"], },
        "asks": { "type": "stdio", "command": "asks-mcp", "env": { "TOKEN": "\${input:token}" } },
        "remote": { "type": "http", "url": "http://127.0.0.1:9/mcp", "headers": { "X-Key": "k" } },
        "old": { "type": "sse", "url": "http://127.0.0.1:9/sse" },
      },
      "inputs": [],
    }`;
    const out = await c.call('tools.servers.import', { text, filename: 'mcp.json' });
    expect(out.added).toEqual(['vs', 'asks', 'remote']);
    expect(out.skipped).toEqual([{ name: 'old', reason: expect.stringMatching(/SSE/i) }]);
    // the user is told why a server came in disabled
    expect(out.notes).toEqual([{ name: 'asks', note: expect.stringMatching(/\$\{input:token\}.*imported disabled/) }]);
    expect(c.app.tools.status().servers.find((s) => s.name === 'asks')!.config.enabled).toBe(false);
    const servers = JSON.parse(settingsRow(c));
    expect(servers[0]).toMatchObject({ name: 'vs', transport: 'stdio', command: 'vs-mcp', args: ['a'] });
    expect(servers[2]).toMatchObject({ name: 'remote', transport: 'http', url: 'http://127.0.0.1:9/mcp', headers: { 'X-Key': '' } });
    expect(secretNames(c)).toEqual(['mcp.asks.env.TOKEN', 'mcp.remote.header.X-Key']);

    const before = settingsRow(c);
    await expect(c.call('tools.servers.import', { text: '{ "mcpServers": ', filename: 'broken.json' })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('"broken.json" is not valid JSON'),
    });
    await expect(c.call('tools.servers.import', { text: '{"other": 1}' })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('lists no MCP servers'),
    });
    expect(settingsRow(c)).toBe(before);
  });

  test('a config found in the home of toolImportEnv is listed and imported by path; a path not listed is refused', async () => {
    const home = folder('hearth-import-home-');
    const file = path.join(home, '.config', 'Claude', 'claude_desktop_config.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, claude({ found: { command: 'found-mcp', disabled: true } }));
    const other = path.join(home, 'other.json');
    fs.writeFileSync(other, claude({ sneaky: { command: 'x' } }));
    const c = open({ compose: { toolImportEnv: { platform: 'linux', env: {}, home } } });

    expect(await c.call('tools.servers.importSources')).toEqual({ sources: [{ app: 'claude-desktop', path: file }] });
    expect(await c.call('tools.servers.import', { path: file })).toEqual({ added: ['found'], skipped: [], notes: [] });
    expect(JSON.parse(settingsRow(c))[0]).toMatchObject({ name: 'found', command: 'found-mcp', enabled: false });

    await expect(c.call('tools.servers.import', { path: other })).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringContaining('tools.servers.importSources') });
    // only the path as listed: the same file spelled otherwise is refused too
    await expect(c.call('tools.servers.import', { path: `${home}/.config/Claude/../Claude/claude_desktop_config.json` })).rejects.toMatchObject({ code: 'invalid_input' });
    expect(JSON.parse(settingsRow(c)).map((x: { name: string }) => x.name)).toEqual(['found']);
  });
});

describe('search keys', () => {
  test('tools.secrets.set names the key in the status (never its value); web_search appears with its provider; null forgets it', async () => {
    const c = open();
    const { changed } = record(c);
    const names = (s: ToolsStatusDTO) => s.tools.map((t) => t.name).sort();
    expect(names(await c.call('tools.status'))).toEqual(['current_time', 'fetch_url']);

    const set = await c.call<ToolsStatusDTO>('tools.secrets.set', { name: 'search.brave', value: 'brave-key-123' });
    expect(set.secrets).toEqual(['search.brave']);
    expect(JSON.stringify(set)).not.toContain('brave-key-123');
    expect(changed.length).toBeGreaterThan(0);
    expect(JSON.stringify(changed)).not.toContain('brave-key-123');
    // the default provider is SearXNG (no URL set): no web_search yet
    expect(names(set)).toEqual(['current_time', 'fetch_url']);

    const n = changed.length;
    await c.call('settings.update', { tools: { searchProvider: 'brave' } });
    expect(changed.length).toBeGreaterThan(n);
    expect(names(changed[changed.length - 1])).toEqual(['current_time', 'fetch_url', 'web_search']);
    expect(names(await c.call('tools.status'))).toEqual(['current_time', 'fetch_url', 'web_search']);

    const forgot = await c.call<ToolsStatusDTO>('tools.secrets.set', { name: 'search.brave', value: null });
    expect(forgot.secrets).toEqual([]);
    expect(names(forgot)).toEqual(['current_time', 'fetch_url']);
    expect(secretNames(c)).toEqual([]);

    await expect(c.call('tools.secrets.set', { name: 'mcp.x.env.K', value: 'v' })).rejects.toMatchObject({ code: 'invalid_input' });
  });
});

describe('approvals', () => {
  const mcpTool: ToolDefinition = {
    name: 'fx__shout', key: mcpKey('fx', 'shout'), description: 'shouts', parameters: { type: 'object' }, source: 'fx', readsWebOnly: false, resultBudgetTokens: 2000,
  };
  let seq = 0;
  const callOf = (threadId: string, tool: ToolDefinition) => ({
    threadId, messageId: 'm1', callId: `call-${++seq}`, name: tool.name, key: tool.key, source: tool.source, arguments: '{}',
  });

  /** Asks about a call; resolves with it once it awaits, and with the decision's outcome. */
  async function ask(c: ChatApp, threadId: string, tool: ToolDefinition, signal = never()) {
    const call = callOf(threadId, tool);
    let settled: boolean | null = null;
    const outcome = c.app.tools.approvals.approve(call, tool, signal).then((v) => (settled = v));
    await Promise.resolve();
    const pending = await c.call('tools.pending', { threadId });
    return { call, outcome, awaiting: pending.some((p: { callId: string }) => p.callId === call.callId), settled: () => settled };
  }
  const decide = (c: ChatApp, threadId: string, callId: string, decision: string) => c.call('tools.decide', { threadId, callId, decision });

  function setup() {
    const c = open();
    const builtin = (name: string) => {
      const d = c.app.tools.registry.all().find((x) => x.name === name);
      return d ?? { ...c.app.tools.registry.all().find((x) => x.name === 'fetch_url')!, name, key: `builtin:${name}` };
    };
    return { c, builtin };
  }
  const thread = async (c: ChatApp, temporary = false) => (await c.call('threads.create', { temporary })).id as string;

  test('current_time runs without asking; web_search and fetch_url ask once per thread', async () => {
    const { c, builtin } = setup();
    const { calls } = record(c);
    const t1 = await thread(c);
    const t2 = await thread(c);

    const time = await ask(c, t1, builtin('current_time'));
    expect(time.awaiting).toBe(false);
    expect(await time.outcome).toBe(true);
    expect(calls).toEqual([]);

    for (const name of ['fetch_url', 'web_search']) {
      const tool = builtin(name);
      expect(tool.readsWebOnly).toBe(true);
      const first = await ask(c, t1, tool);
      expect(first.awaiting).toBe(true);
      expect(await c.call('tools.pending', { threadId: t1 })).toEqual([{ ...first.call, state: 'awaiting', decisions: ['once', 'thread', 'always', 'deny'] }]);
      expect(first.settled()).toBeNull();
      await decide(c, t1, first.call.callId, 'once');
      expect(await first.outcome).toBe(true);
      c.app.tools.approvals.end(t1, first.call.callId);
      // "once" on a web-reading built-in covers the thread, kept in the store
      expect(c.app.store.toolGrants.list(t1)).toContain(tool.key);
      const second = await ask(c, t1, tool);
      expect(second.awaiting).toBe(false);
      expect(await second.outcome).toBe(true);
      // another thread asks again
      const other = await ask(c, t2, tool);
      expect(other.awaiting).toBe(true);
      await decide(c, t2, other.call.callId, 'deny');
      expect(await other.outcome).toBe(false);
      c.app.tools.approvals.end(t2, other.call.callId);
    }
    expect(c.app.store.toolGrants.list(t2)).toEqual([]);
    expect(calls.map((e) => e.call?.state ?? null)).toEqual(['awaiting', null, 'awaiting', null, 'awaiting', null, 'awaiting', null]);
  });

  test('an MCP tool asks every time until allowed for the thread or always; "always" is kept in the settings', async () => {
    const { c } = setup();
    const [t1, t2, t3] = [await thread(c), await thread(c), await thread(c)];

    const once = await ask(c, t1, mcpTool);
    await decide(c, t1, once.call.callId, 'once');
    expect(await once.outcome).toBe(true);
    expect(c.app.store.toolGrants.list(t1)).toEqual([]);
    // decided: no longer decidable
    await expect(decide(c, t1, once.call.callId, 'once')).rejects.toMatchObject({ code: 'not_found' });

    const denied = await ask(c, t1, mcpTool);
    expect(denied.awaiting).toBe(true);
    await decide(c, t1, denied.call.callId, 'deny');
    expect(await denied.outcome).toBe(false);

    const forThread = await ask(c, t1, mcpTool);
    expect(forThread.awaiting).toBe(true);
    await decide(c, t1, forThread.call.callId, 'thread');
    expect(await forThread.outcome).toBe(true);
    expect(c.app.store.toolGrants.list(t1)).toEqual([mcpTool.key]);
    expect((await ask(c, t1, mcpTool)).awaiting).toBe(false);

    const inT2 = await ask(c, t2, mcpTool);
    expect(inT2.awaiting).toBe(true);
    await decide(c, t2, inT2.call.callId, 'always');
    expect(await inT2.outcome).toBe(true);
    expect(c.app.store.settings.get('tools').alwaysAllowed).toEqual([mcpTool.key]);
    expect((await c.call('settings.get')).tools.alwaysAllowed).toEqual([mcpTool.key]);
    const inT3 = await ask(c, t3, mcpTool);
    expect(inT3.awaiting).toBe(false);
    expect(await inT3.outcome).toBe(true);
  });

  test('a decision on an unknown call is not_found; a stop while awaiting rejects and the call leaves pending', async () => {
    const { c } = setup();
    const { calls } = record(c);
    const t = await thread(c);
    await expect(decide(c, t, 'no-such-call', 'once')).rejects.toMatchObject({ code: 'not_found' });

    const ctl = new AbortController();
    const asked = await ask(c, t, mcpTool, ctl.signal);
    expect(asked.awaiting).toBe(true);
    const stopped = new Error('stopped by the user');
    ctl.abort(stopped);
    await expect(asked.outcome).rejects.toBe(stopped);
    expect(await c.call('tools.pending', { threadId: t })).toEqual([]);
    expect(calls[calls.length - 1]).toEqual({ threadId: t, callId: asked.call.callId, call: null });
    await expect(decide(c, t, asked.call.callId, 'once')).rejects.toMatchObject({ code: 'not_found' });

    // a signal already aborted is refused at once, nothing listed
    const done = new AbortController();
    done.abort(stopped);
    await expect(c.app.tools.approvals.approve(callOf(t, mcpTool), mcpTool, done.signal)).rejects.toBe(stopped);
    expect(await c.call('tools.pending', { threadId: t })).toEqual([]);
  });

  test('a temporary chat keeps its grants in memory (no row, no foreign key error) until it is deleted', async () => {
    const { c } = setup();
    const t = await thread(c, true);
    const asked = await ask(c, t, mcpTool);
    expect(asked.awaiting).toBe(true);
    await decide(c, t, asked.call.callId, 'thread');
    expect(await asked.outcome).toBe(true);
    expect(c.app.store.db.prepare('SELECT count(*) FROM tool_grants').pluck().get()).toBe(0);
    expect((await ask(c, t, mcpTool)).awaiting).toBe(false);
    // deleted: its grants go with it
    await c.call('threads.delete', { id: t });
    expect(c.app.tools.approvals.allowedWithoutAsking(t, mcpTool)).toBe(false);
  });
});
