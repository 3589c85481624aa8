/** @jest-environment jsdom */
/**
 * Settings → Tools and the assistants' tools picker (#18): an MCP server added (the exact
 * tools.servers.save payload), edited (its secret values kept), its state and stderr shown as text,
 * an import from pasted JSON and from a config found on the machine, a search key set (never shown),
 * the tool settings saved whole, and an assistant's tools saved as a set or null. Main is the
 * in-memory FakeBridge.
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { McpServerStatusDTO } from '../../main/ipc/contract';
import { McpServerConfig } from '../../main/params';
import { openDialog } from '../../renderer/src/app/uiSlice';
import { assistant, settingsDTO, toolsStatus } from './fake-bridge';
import { renderApp } from './render-app';

async function openTools(handlers: Parameters<typeof renderApp>[0] = {}) {
  const r = renderApp(handlers);
  await waitFor(() => expect(r.bridge.callsTo('settings.get')).toHaveLength(1));
  await act(async () => void r.store.dispatch(openDialog({ name: 'settings', section: 'tools' })));
  const dialog = screen.getByRole('dialog', { name: 'Settings' });
  await waitFor(() => expect(r.store.getState().tools.status).not.toBeNull());
  return { ...r, dialog };
}

function server(over: Partial<McpServerStatusDTO> = {}, config: Record<string, unknown> = {}): McpServerStatusDTO {
  return {
    name: 'files',
    config: McpServerConfig.parse({ transport: 'stdio', name: 'files', command: 'npx', args: ['-y', 'server-files'], env: { API_TOKEN: '' }, ...config }),
    state: 'ready',
    error: null,
    stderrTail: '',
    tools: [{ name: 'read', description: 'reads a file', inputSchema: {} }],
    ...over,
  };
}

test('adding a stdio server sends its config exactly; the list shows it', async () => {
  let status = toolsStatus();
  const { bridge, dialog } = await openTools({
    'tools.status': () => status,
    'tools.servers.save': (p: { config: McpServerConfig }) => (status = toolsStatus({ servers: [server({ name: p.config.name, state: 'starting', tools: [] }, p.config)] })),
  });
  expect(bridge.callsTo('tools.servers.importSources')).toHaveLength(1);
  fireEvent.click(within(dialog).getByRole('button', { name: 'Add server' }));
  const form = within(dialog).getByRole('form', { name: 'Add an MCP server' });
  fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'everything' } });
  fireEvent.change(within(form).getByLabelText('Command'), { target: { value: 'npx' } });
  fireEvent.change(within(form).getByLabelText('Arguments (one per line)'), { target: { value: '-y\n@modelcontextprotocol/server-everything\n\n' } });
  fireEvent.change(within(form).getByLabelText('Environment (NAME=value lines)'), { target: { value: 'API_KEY=abc=def\nDEBUG=1' } });
  fireEvent.change(within(form).getByLabelText('Working folder'), { target: { value: '/tmp/work' } });
  fireEvent.change(within(form).getByLabelText('Result budget (tokens)'), { target: { value: '500' } });
  fireEvent.change(within(form).getByLabelText('Time limit (seconds)'), { target: { value: '30' } });
  fireEvent.click(within(form).getByRole('button', { name: 'Add server' }));
  await waitFor(() => expect(bridge.callsTo('tools.servers.save')).toHaveLength(1));
  expect(bridge.callsTo('tools.servers.save')[0]).toEqual({
    config: {
      transport: 'stdio',
      name: 'everything',
      enabled: true,
      resultBudgetTokens: 500,
      timeoutSeconds: 30,
      command: 'npx',
      args: ['-y', '@modelcontextprotocol/server-everything'],
      env: { API_KEY: 'abc=def', DEBUG: '1' },
      cwd: '/tmp/work',
    },
  });
  const item = await within(dialog).findByRole('listitem', { name: 'everything' });
  expect(within(item).getByRole('status').textContent).toBe('Starting…');
  expect(within(dialog).queryByRole('form', { name: 'Add an MCP server' })).toBeNull();
});

test('a bad server is refused before it is sent; an http server takes headers', async () => {
  const { bridge, dialog } = await openTools({ 'tools.servers.save': () => toolsStatus() });
  fireEvent.click(within(dialog).getByRole('button', { name: 'Add server' }));
  const form = within(dialog).getByRole('form', { name: 'Add an MCP server' });
  fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'has space' } });
  fireEvent.click(within(form).getByRole('radio', { name: 'URL (HTTP)' }));
  fireEvent.change(within(form).getByLabelText('URL'), { target: { value: 'http://localhost:3000/mcp' } });
  fireEvent.change(within(form).getByLabelText('Headers (Name: value lines)'), { target: { value: 'Authorization: Bearer x:y' } });
  fireEvent.click(within(form).getByRole('button', { name: 'Add server' }));
  expect((await within(form).findByRole('alert')).textContent).toMatch(/^name: a server name is letters/);
  expect(bridge.callsTo('tools.servers.save')).toHaveLength(0);
  fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'remote' } });
  fireEvent.click(within(form).getByRole('button', { name: 'Add server' }));
  await waitFor(() => expect(bridge.callsTo('tools.servers.save')).toHaveLength(1));
  expect(bridge.callsTo('tools.servers.save')[0]).toEqual({
    config: { transport: 'http', name: 'remote', enabled: true, resultBudgetTokens: 2000, timeoutSeconds: 60, url: 'http://localhost:3000/mcp', headers: { Authorization: 'Bearer x:y' } },
  });
});

test('a server’s state, stderr as text, tools; edit keeps secrets; disable, restart and delete', async () => {
  const failed = server({ name: 'broken', state: 'failed', error: 'exited with code 1', stderrTail: '<b>Error</b>: cannot find module', tools: [] }, { name: 'broken' });
  const { bridge, dialog } = await openTools({
    'tools.status': () => toolsStatus({ servers: [server(), failed] }),
    'tools.servers.save': () => toolsStatus({ servers: [server(), failed] }),
    'tools.servers.restart': () => toolsStatus({ servers: [server(), failed] }),
    'tools.servers.delete': () => toolsStatus({ servers: [server()] }),
  });
  const broken = within(dialog).getByRole('listitem', { name: 'broken' });
  expect(within(broken).getByRole('status').textContent).toBe('Failed');
  expect(within(broken).getByRole('alert').textContent).toBe('exited with code 1');
  expect(within(broken).getByLabelText('Output of broken').textContent).toBe('<b>Error</b>: cannot find module');
  expect(broken.querySelector('b')).toBeNull();
  const files = within(dialog).getByRole('listitem', { name: 'files' });
  expect(within(files).getByText('1 tool')).toBeTruthy();
  expect(within(within(files).getByRole('list', { name: 'Tools of files' })).getByText('read')).toBeTruthy();

  fireEvent.click(within(files).getByRole('button', { name: 'Edit files' }));
  const form = within(dialog).getByRole('form', { name: 'Edit files' });
  expect((within(form).getByLabelText('Environment (NAME=value lines)') as HTMLTextAreaElement).value).toBe('API_TOKEN=');
  expect(within(form).getByText(/left empty keeps its stored value \(kept\)/)).toBeTruthy();
  fireEvent.change(within(form).getByLabelText('Time limit (seconds)'), { target: { value: '90' } });
  fireEvent.click(within(form).getByRole('button', { name: 'Save server' }));
  await waitFor(() => expect(bridge.callsTo('tools.servers.save')).toHaveLength(1));
  expect(bridge.callsTo('tools.servers.save')[0]).toEqual({
    previousName: 'files',
    config: { transport: 'stdio', name: 'files', enabled: true, resultBudgetTokens: 2000, timeoutSeconds: 90, command: 'npx', args: ['-y', 'server-files'], env: { API_TOKEN: '' }, cwd: null },
  });

  fireEvent.click(within(files).getByRole('checkbox', { name: 'files enabled' }));
  await waitFor(() => expect(bridge.callsTo('tools.servers.save')).toHaveLength(2));
  expect(bridge.callsTo('tools.servers.save')[1]).toMatchObject({ previousName: 'files', config: { enabled: false, env: { API_TOKEN: '' } } });
  await waitFor(() => expect((within(files).getByRole('button', { name: 'Restart files' }) as HTMLButtonElement).disabled).toBe(false));
  fireEvent.click(within(files).getByRole('button', { name: 'Restart files' }));
  await waitFor(() => expect(bridge.callsTo('tools.servers.restart')).toEqual([{ name: 'files' }]));
  await waitFor(() => expect((within(broken).getByRole('button', { name: 'Delete broken' }) as HTMLButtonElement).disabled).toBe(false));
  fireEvent.click(within(broken).getByRole('button', { name: 'Delete broken' }));
  await waitFor(() => expect(bridge.callsTo('tools.servers.delete')).toEqual([{ name: 'broken' }]));
  await waitFor(() => expect(within(dialog).queryByRole('listitem', { name: 'broken' })).toBeNull());
});

test('import: pasted JSON and a config found on this machine; what was added and skipped shows', async () => {
  const text = JSON.stringify({ mcpServers: { everything: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'] }, 'bad name': { command: 'x' } } });
  const { bridge, dialog } = await openTools({
    'tools.servers.importSources': () => ({ sources: [{ app: 'Claude Desktop', path: '/home/u/.config/Claude/claude_desktop_config.json' }] }),
    'tools.servers.import': (p: { text?: string; path?: string }) => (p.text ? { added: ['everything'], skipped: [{ name: 'bad name', reason: 'not a valid server name' }] } : { added: ['claude-files'], skipped: [] }),
  });
  fireEvent.change(within(dialog).getByLabelText('Paste an MCP config (JSON)'), { target: { value: text } });
  fireEvent.click(within(dialog).getByRole('button', { name: 'Import pasted config' }));
  await waitFor(() => expect(bridge.callsTo('tools.servers.import')).toEqual([{ text }]));
  const result = await within(dialog).findByText('Added: everything.');
  expect(within(result.parentElement!).getByText('Skipped bad name: not a valid server name')).toBeTruthy();
  // the status is asked again (the added servers)
  await waitFor(() => expect(bridge.callsTo('tools.status')).toHaveLength(2));

  const found = within(dialog).getByRole('list', { name: 'Import from…' });
  fireEvent.click(within(found).getByRole('button', { name: 'Import from Claude Desktop' }));
  await waitFor(() => expect(bridge.callsTo('tools.servers.import')[1]).toEqual({ path: '/home/u/.config/Claude/claude_desktop_config.json' }));
  expect(await within(dialog).findByText('Added: claude-files.')).toBeTruthy();
});

test('web search: a provider’s key is set (never shown back), SearXNG’s URL and the step limit saved with the whole tools setting', async () => {
  let settings = settingsDTO();
  const { bridge, dialog } = await openTools({
    'settings.get': () => settings,
    'settings.update': (p: { tools: typeof settings.tools }) => (settings = { ...settings, ...p }),
    'tools.status': () => toolsStatus({ secretStore: 'file' }),
    'tools.secrets.set': (p: { name: string; value: string | null }) => toolsStatus({ secretStore: 'file', secrets: p.value ? [p.name] : [] }),
  });
  expect(within(dialog).getByText(/kept in a file readable by your user only/)).toBeTruthy();

  fireEvent.change(within(dialog).getByLabelText('Step limit'), { target: { value: '4' } });
  fireEvent.change(within(dialog).getByLabelText('SearXNG URL'), { target: { value: 'http://localhost:8888' } });
  fireEvent.click(within(dialog).getByRole('button', { name: 'Save tool settings' }));
  await waitFor(() => expect(bridge.callsTo('settings.update')).toHaveLength(1));
  expect(bridge.callsTo('settings.update')[0]).toEqual({
    tools: { maxSteps: 4, searchProvider: 'searxng', searxngUrl: 'http://localhost:8888', allowPrivateNetwork: false, alwaysAllowed: [], disabledBuiltins: [] },
  });

  fireEvent.change(within(dialog).getByLabelText('Search provider'), { target: { value: 'brave' } });
  await waitFor(() => expect(bridge.callsTo('settings.update')).toHaveLength(2));
  expect(bridge.callsTo('settings.update')[1].tools).toMatchObject({ searchProvider: 'brave', maxSteps: 4 });
  const key = (await within(dialog).findByLabelText('Brave Search API key')) as HTMLInputElement;
  expect(within(dialog).getByText('No key set.')).toBeTruthy();
  fireEvent.change(key, { target: { value: '  sk-brave-123  ' } });
  fireEvent.click(within(dialog).getByRole('button', { name: 'Save key' }));
  await waitFor(() => expect(bridge.callsTo('tools.secrets.set')).toEqual([{ name: 'search.brave', value: 'sk-brave-123' }]));
  expect(await within(dialog).findByText('A key is set.')).toBeTruthy();
  expect(key.value).toBe('');
  expect(dialog.innerHTML).not.toContain('sk-brave-123');
  fireEvent.click(within(dialog).getByRole('button', { name: 'Forget key' }));
  await waitFor(() => expect(bridge.callsTo('tools.secrets.set')[1]).toEqual({ name: 'search.brave', value: null }));
  expect(await within(dialog).findByText('No key set.')).toBeTruthy();
});

test('built-ins off, private network on, an always-allowed tool removed: each saved at once', async () => {
  let settings = settingsDTO();
  settings = { ...settings, tools: { ...settings.tools, alwaysAllowed: ['builtin:fetch_url', 'mcp:files:read'] } };
  const { bridge, dialog } = await openTools({ 'settings.get': () => settings, 'settings.update': (p: { tools: typeof settings.tools }) => (settings = { ...settings, ...p }) });
  fireEvent.click(within(dialog).getByRole('checkbox', { name: 'web_search' }));
  await waitFor(() => expect(bridge.callsTo('settings.update')).toHaveLength(1));
  expect(bridge.callsTo('settings.update')[0].tools.disabledBuiltins).toEqual(['web_search']);
  fireEvent.click(within(dialog).getByRole('checkbox', { name: 'Allow private network addresses' }));
  await waitFor(() => expect(bridge.callsTo('settings.update')).toHaveLength(2));
  expect(bridge.callsTo('settings.update')[1].tools).toMatchObject({ allowPrivateNetwork: true, disabledBuiltins: ['web_search'] });
  const allowed = within(dialog).getByRole('list', { name: 'Tools always allowed' });
  // a known tool by its name, another by its key
  fireEvent.click(within(allowed).getByRole('button', { name: 'Remove fetch_url from always allowed' }));
  await waitFor(() => expect(bridge.callsTo('settings.update')).toHaveLength(3));
  expect(bridge.callsTo('settings.update')[2].tools.alwaysAllowed).toEqual(['mcp:files:read']);
  expect(await within(dialog).findByRole('button', { name: 'Remove mcp:files:read from always allowed' })).toBeTruthy();
});

test('an assistant’s tools: every enabled one (null), or a chosen set of built-ins and servers', async () => {
  const poet = assistant({ id: 'a1', name: 'Poet' });
  const { bridge, store } = renderApp({
    'assistants.list': () => [poet],
    'tools.status': () => toolsStatus({ servers: [server(), server({ name: 'git' }, { name: 'git' })] }),
    'assistants.update': (p: { id: string; patch: object }) => ({ ...poet, ...p.patch }),
  });
  await waitFor(() => expect(store.getState().assistants.status).toBe('ready'));
  await act(async () => void store.dispatch(openDialog('assistants')));
  const dialog = screen.getByRole('dialog', { name: 'Assistants' });
  await waitFor(() => expect(bridge.callsTo('tools.status')).toHaveLength(1));
  const form = within(dialog).getByRole('form', { name: 'Edit Poet' });
  expect((within(form).getByRole('radio', { name: 'All enabled tools' }) as HTMLInputElement).checked).toBe(true);
  fireEvent.click(within(form).getByRole('radio', { name: 'Only the tools chosen here' }));
  fireEvent.click(within(form).getByRole('checkbox', { name: 'fetch_url' }));
  fireEvent.click(within(form).getByRole('checkbox', { name: 'git' }));
  fireEvent.click(within(form).getByRole('button', { name: 'Save' }));
  await waitFor(() => expect(bridge.callsTo('assistants.update')).toHaveLength(1));
  expect(bridge.callsTo('assistants.update')[0].patch.tools).toEqual({ builtins: ['web_search', 'current_time'], servers: ['files'] });

  fireEvent.click(within(form).getByRole('radio', { name: 'All enabled tools' }));
  fireEvent.click(within(form).getByRole('button', { name: 'Save' }));
  await waitFor(() => expect(bridge.callsTo('assistants.update')).toHaveLength(2));
  expect(bridge.callsTo('assistants.update')[1].patch.tools).toBeNull();
});
