/** @jest-environment jsdom */
/**
 * Remote providers in the renderer: Settings → Providers (a provider added from a preset with its key
 * sent once and only its masked hint shown after, edited keeping or forgetting the key, its models
 * refreshed with the provider's refusal shown, removed after asking, the allow switch), the header's
 * picker (remote models grouped by provider only while allowed; a remote pick switches the open chat,
 * or names the new chat's model; a local pick on a remote chat loads it and switches the chat back),
 * and the "sent to" badge and list marker of a chat whose messages left this computer. Main is the
 * in-memory FakeBridge.
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { ModelState, ProviderSave, ProvidersStatusDTO, ThreadDTO } from '../../main/ipc/contract';
import { remoteModelRef } from '../../main/params';
import { openDialog } from '../../renderer/src/app/uiSlice';
import { ipcError, message, providerDTO, providersStatus, thread } from './fake-bridge';
import { renderApp } from './render-app';

const GPT4O = remoteModelRef('openai', 'gpt-4o');
const LOCAL = [
  { path: '/m/a.gguf', name: 'a.gguf', fileSize: 2 ** 30 },
  { path: '/m/b.gguf', name: 'b.gguf', fileSize: 2 ** 31 },
];
const loaded = (path: string): ModelState => ({ loaded: { path, contextSize: 4096, projector: null, tokensUsed: 0, tokensUsedBy: null }, loading: null, error: null });

async function openProviders(handlers: Parameters<typeof renderApp>[0] = {}) {
  const r = renderApp(handlers);
  await waitFor(() => expect(r.store.getState().providers.status).not.toBeNull());
  await act(async () => void r.store.dispatch(openDialog({ name: 'settings', section: 'providers' })));
  const dialog = screen.getByRole('dialog', { name: 'Settings' });
  expect(within(dialog).getByRole('tab', { name: 'Providers' }).getAttribute('aria-selected')).toBe('true');
  return { ...r, dialog };
}

/** The picker's remote groups: each optgroup's label and its options' text. */
function remoteGroupsOf(select: HTMLSelectElement): [string, string[]][] {
  return [...select.querySelectorAll('optgroup')].map((g) => [g.label, [...g.querySelectorAll('option')].map((o) => o.textContent ?? '')]);
}

describe('Settings → Providers', () => {
  test('a provider added from a preset: the save carries the key once; the list shows only its masked hint', async () => {
    let status = providersStatus();
    const KEY = 'sk-test-secret-1234abcd';
    const { bridge, dialog } = await openProviders({
      'providers.status': () => status,
      'providers.save': (p: ProviderSave) => {
        const { id: _id, ...rest } = p.provider;
        return (status = providersStatus({ providers: [providerDTO({ ...rest, id: 'p1', headers: rest.headers ?? {}, models: (rest.models ?? []).map((m) => ({ id: m.id, contextSize: m.contextSize ?? null })), key: 'set', keyHint: '••••abcd' })] }));
      },
    });
    expect(within(dialog).getByText(/None yet/)).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add provider' }));
    const form = within(dialog).getByRole('form', { name: 'Add a provider' });
    fireEvent.change(within(form).getByRole('combobox', { name: 'Preset' }), { target: { value: 'openai' } });
    expect((within(form).getByLabelText('Name') as HTMLInputElement).value).toBe('OpenAI');
    expect((within(form).getByLabelText('Base URL') as HTMLInputElement).value).toBe('https://api.openai.com/v1');
    expect((within(form).getByRole('combobox', { name: 'Kind' }) as HTMLSelectElement).value).toBe('openai');
    expect(within(form).getByText('A key from platform.openai.com → API keys. It needs an API key.')).toBeTruthy();
    const keyInput = within(form).getByLabelText('API key') as HTMLInputElement;
    expect(keyInput.type).toBe('password');
    fireEvent.change(keyInput, { target: { value: KEY } });
    fireEvent.click(within(form).getByRole('button', { name: 'Add header' }));
    fireEvent.change(within(form).getByRole('textbox', { name: 'Header 1 name' }), { target: { value: 'OpenAI-Organization' } });
    fireEvent.change(within(form).getByRole('textbox', { name: 'Header 1 value' }), { target: { value: 'org-42' } });
    fireEvent.change(within(form).getByRole('textbox', { name: 'Model to add' }), { target: { value: 'gpt-4o' } });
    fireEvent.keyDown(within(form).getByRole('textbox', { name: 'Model to add' }), { key: 'Enter' });
    fireEvent.change(within(form).getByRole('spinbutton', { name: 'Context size of gpt-4o' }), { target: { value: '128000' } });
    expect(bridge.callsTo('providers.save')).toEqual([]); // Enter in "Model to add" adds the model, it does not submit
    fireEvent.click(within(form).getByRole('button', { name: 'Add provider' }));
    await waitFor(() => expect(bridge.callsTo('providers.save')).toHaveLength(1));
    expect(bridge.callsTo('providers.save')[0]).toEqual({
      provider: { name: 'OpenAI', kind: 'openai', baseUrl: 'https://api.openai.com/v1', headers: { 'OpenAI-Organization': 'org-42' }, models: [{ id: 'gpt-4o', contextSize: 128000 }], enabled: true },
      apiKey: KEY,
    });
    const item = await within(dialog).findByRole('listitem', { name: 'OpenAI' });
    expect(within(dialog).queryByRole('form', { name: 'Add a provider' })).toBeNull();
    expect(within(item).getByLabelText('Key of OpenAI').textContent).toBe('Key ••••abcd');
    expect(within(item).getByText('OpenAI-compatible API')).toBeTruthy();
    expect(within(item).getByText('1 model')).toBeTruthy();
    expect(document.body.textContent).not.toContain(KEY);
    expect([...document.querySelectorAll('input')].some((i) => i.value === KEY)).toBe(false);
    // it had its models: the provider is not asked for its list
    expect(bridge.callsTo('providers.refreshModels')).toEqual([]);
  });

  test('a provider added with no models is asked for its list once; a bad URL is refused before it is sent', async () => {
    let status = providersStatus();
    const { bridge, dialog } = await openProviders({
      'providers.status': () => status,
      'providers.save': () => (status = providersStatus({ providers: [providerDTO({ id: 'p2', name: 'Local server', kind: 'openai-server', baseUrl: 'http://127.0.0.1:8080/v1', models: [], key: 'not set', keyHint: null })] })),
      'providers.refreshModels': () => (status = providersStatus({ providers: [providerDTO({ id: 'p2', name: 'Local server', kind: 'openai-server', baseUrl: 'http://127.0.0.1:8080/v1', models: [{ id: 'qwen3-8b', contextSize: null }], key: 'not set', keyHint: null })] })),
    });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Add provider' }));
    const form = within(dialog).getByRole('form', { name: 'Add a provider' });
    fireEvent.change(within(form).getByRole('combobox', { name: 'Preset' }), { target: { value: 'local' } });
    fireEvent.change(within(form).getByLabelText('Base URL'), { target: { value: 'ftp://127.0.0.1' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Add provider' }));
    expect(within(form).getByRole('alert').textContent).toBe('baseUrl: the base URL is an http:// or https:// address');
    expect(bridge.callsTo('providers.save')).toEqual([]);
    fireEvent.change(within(form).getByLabelText('Base URL'), { target: { value: 'http://127.0.0.1:8080/v1/' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Add provider' }));
    await waitFor(() => expect(bridge.callsTo('providers.save')).toHaveLength(1));
    // no key typed: none sent; the URL as the contract's schema gives it (no trailing slash)
    expect(bridge.callsTo('providers.save')[0]).toEqual({ provider: { name: 'Local server', kind: 'openai-server', baseUrl: 'http://127.0.0.1:8080/v1', headers: {}, models: [], enabled: true } });
    await waitFor(() => expect(bridge.callsTo('providers.refreshModels')).toEqual([{ id: 'p2' }]));
    const item = await within(dialog).findByRole('listitem', { name: 'Local server' });
    await waitFor(() => expect(within(item).getByText('1 model')).toBeTruthy());
    expect(within(item).getByLabelText('Key of Local server').textContent).toBe('No key');
  });

  test('editing keeps the key when the field is left empty (no apiKey sent); main’s refusal shows in the form', async () => {
    let refuse = true;
    const { bridge, dialog } = await openProviders({
      'providers.status': () => providersStatus({ providers: [providerDTO()] }),
      'providers.save': () => (refuse ? Promise.reject(ipcError('invalid_input', 'a provider is already named Groq')) : providersStatus({ providers: [providerDTO({ name: 'OpenAI work' })] })),
    });
    fireEvent.click(await within(dialog).findByRole('button', { name: 'Edit OpenAI' }));
    const form = within(dialog).getByRole('form', { name: 'Edit OpenAI' });
    expect(within(form).queryByRole('combobox', { name: 'Preset' })).toBeNull();
    expect((within(form).getByLabelText('API key') as HTMLInputElement).value).toBe('');
    expect(within(form).getByText('A key is kept (••••abcd): leave this empty to keep it, or type a new one. Moved to another address or kind, it is forgotten unless you type it again.')).toBeTruthy();
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'OpenAI work' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Remove model gpt-4o-mini' }));
    fireEvent.click(within(form).getByRole('button', { name: 'Save provider' }));
    expect(await within(form).findByRole('alert')).toHaveProperty('textContent', 'That was not accepted: a provider is already named Groq');
    refuse = false;
    fireEvent.click(within(form).getByRole('button', { name: 'Save provider' }));
    await waitFor(() => expect(within(dialog).queryByRole('form', { name: 'Edit OpenAI' })).toBeNull());
    const saves = bridge.callsTo('providers.save');
    expect(saves).toHaveLength(2);
    expect(saves[1]).toEqual({
      provider: { id: 'openai', name: 'OpenAI work', kind: 'openai', baseUrl: 'https://api.openai.com/v1', headers: {}, models: [{ id: 'gpt-4o', contextSize: 128000 }], enabled: true },
    });
    expect('apiKey' in saves[1]).toBe(false);
  });

  test('"Forget key" sends apiKey null; a typed key replaces the kept one', async () => {
    const { bridge, dialog } = await openProviders({
      'providers.status': () => providersStatus({ providers: [providerDTO()] }),
      'providers.save': () => providersStatus({ providers: [providerDTO({ key: 'not set', keyHint: null })] }),
    });
    fireEvent.click(await within(dialog).findByRole('button', { name: 'Edit OpenAI' }));
    let form = within(dialog).getByRole('form', { name: 'Edit OpenAI' });
    fireEvent.click(within(form).getByRole('button', { name: 'Forget key' }));
    expect(within(form).getByText('The kept key is forgotten when you save.')).toBeTruthy();
    fireEvent.click(within(form).getByRole('button', { name: 'Save provider' }));
    await waitFor(() => expect(bridge.callsTo('providers.save')).toHaveLength(1));
    expect(bridge.callsTo('providers.save')[0].apiKey).toBeNull();
    expect(within(await within(dialog).findByRole('listitem', { name: 'OpenAI' })).getByLabelText('Key of OpenAI').textContent).toBe('No key');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Edit OpenAI' }));
    form = within(dialog).getByRole('form', { name: 'Edit OpenAI' });
    expect(within(form).queryByRole('button', { name: 'Forget key' })).toBeNull(); // no key kept now
    fireEvent.change(within(form).getByLabelText('API key'), { target: { value: '  sk-new-9999  ' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Save provider' }));
    await waitFor(() => expect(bridge.callsTo('providers.save')).toHaveLength(2));
    expect(bridge.callsTo('providers.save')[1].apiKey).toBe('sk-new-9999');
  });

  test("a refused model refresh shows the provider's words in an alert; Remove asks first", async () => {
    let status = providersStatus({ providers: [providerDTO()] });
    const { bridge, dialog } = await openProviders({
      'providers.status': () => status,
      'providers.refreshModels': () => Promise.reject(ipcError('provider_auth', 'Incorrect API key provided: sk-…abcd')),
      'providers.delete': () => (status = providersStatus()),
    });
    const item = await within(dialog).findByRole('listitem', { name: 'OpenAI' });
    fireEvent.click(within(item).getByRole('button', { name: 'Refresh models of OpenAI' }));
    await waitFor(() => expect(bridge.callsTo('providers.refreshModels')).toEqual([{ id: 'openai' }]));
    expect((await within(item).findByRole('alert')).textContent).toBe('The provider refused the API key — check it in Settings → Providers (Incorrect API key provided: sk-…abcd).');
    fireEvent.click(within(item).getByRole('button', { name: 'Remove OpenAI' }));
    const ask = within(item).getByRole('group', { name: 'Remove OpenAI?' });
    fireEvent.click(within(ask).getByRole('button', { name: 'Keep OpenAI' }));
    expect(bridge.callsTo('providers.delete')).toEqual([]);
    fireEvent.click(within(item).getByRole('button', { name: 'Remove OpenAI' }));
    fireEvent.click(within(item).getByRole('button', { name: 'Confirm removing OpenAI' }));
    await waitFor(() => expect(bridge.callsTo('providers.delete')).toEqual([{ id: 'openai' }]));
    await waitFor(() => expect(within(dialog).queryByRole('listitem', { name: 'OpenAI' })).toBeNull());
  });

  test('the allow switch asks main and follows its answer; the key file warning is shown', async () => {
    let status = providersStatus({ providers: [providerDTO()], keyStorage: 'file', warnings: ['API keys are kept in a file only you can read.'] });
    const { bridge, dialog } = await openProviders({
      'providers.status': () => status,
      'providers.allow': (p: { allowRemote: boolean }) => (status = { ...status, allowRemote: p.allowRemote }),
    });
    expect(within(dialog).getByRole('note').textContent).toBe('API keys are kept in a file only you can read.');
    const sw = within(dialog).getByRole('switch', { name: 'Allow remote providers' });
    expect(sw.getAttribute('aria-checked')).toBe('true');
    fireEvent.click(sw);
    await waitFor(() => expect(bridge.callsTo('providers.allow')).toEqual([{ allowRemote: false }]));
    await waitFor(() => expect(sw.getAttribute('aria-checked')).toBe('false'));
  });
});

describe('the header model picker', () => {
  test('lists the enabled providers’ models grouped by provider, only while remote providers are allowed', async () => {
    const status: ProvidersStatusDTO = providersStatus({
      providers: [providerDTO(), providerDTO({ id: 'groq', name: 'Groq', models: [{ id: 'llama-3.3-70b', contextSize: null }], enabled: false }), providerDTO({ id: 'mistral', name: 'Mistral', models: [{ id: 'mistral-large', contextSize: null }] })],
    });
    const { bridge, stop } = renderApp({ 'models.list': () => LOCAL, 'providers.status': () => status });
    const select = (await screen.findByRole('combobox', { name: 'Model' })) as HTMLSelectElement;
    await within(select).findByRole('option', { name: 'gpt-4o · OpenAI (remote)' });
    expect(remoteGroupsOf(select)).toEqual([
      ['OpenAI', ['gpt-4o · OpenAI (remote)', 'gpt-4o-mini · OpenAI (remote)']],
      ['Mistral', ['mistral-large · Mistral (remote)']],
    ]);
    expect(within(select).getByRole('option', { name: 'gpt-4o · OpenAI (remote)' }).getAttribute('value')).toBe(GPT4O);
    expect(within(select).getByRole('option', { name: 'a · 1.0 GiB' })).toBeTruthy();
    act(() => bridge.emit('providers.changed', { ...status, allowRemote: false }));
    expect(remoteGroupsOf(select)).toEqual([]);
    expect(within(select).getByRole('option', { name: 'a · 1.0 GiB' })).toBeTruthy();
    stop();
  });

  test('picking a remote model switches the open chat (threads.setModel); the local meter and unload go', async () => {
    const t = thread({ id: 'c1', title: 'Plans', modelPath: '/m/a.gguf' });
    const { bridge, store, stop } = renderApp({
      'models.list': () => LOCAL,
      'models.state': () => loaded('/m/a.gguf'),
      'providers.status': () => providersStatus({ providers: [providerDTO()] }),
      'threads.list': () => ({ threads: [t], nextCursor: null }),
      'threads.get': () => ({ thread: t, messages: [] }),
      'threads.setModel': (p: { id: string; model: string }) => ({ ...t, modelPath: p.model }),
    });
    fireEvent.click(await screen.findByRole('link', { name: 'Plans' }));
    const select = (await screen.findByRole('combobox', { name: 'Model' })) as HTMLSelectElement;
    await within(select).findByRole('option', { name: 'gpt-4o · OpenAI (remote)' });
    await waitFor(() => expect(select.value).toBe('/m/a.gguf'));
    expect(screen.getByRole('meter', { name: 'Context used' })).toBeTruthy();
    fireEvent.change(select, { target: { value: GPT4O } });
    await waitFor(() => expect(bridge.callsTo('threads.setModel')).toEqual([{ id: 'c1', model: GPT4O }]));
    expect(bridge.callsTo('models.load')).toEqual([]);
    await waitFor(() => expect(store.getState().threads.entities.c1?.modelPath).toBe(GPT4O));
    expect(select.value).toBe(GPT4O);
    expect(screen.getByText('Remote')).toBeTruthy();
    expect(screen.queryByRole('meter', { name: 'Context used' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Unload model' })).toBeNull();
    stop();
  });

  test('picking a local model on a remote chat loads it and switches the chat back to it', async () => {
    const t = thread({ id: 'c2', title: 'Remote chat', modelPath: GPT4O });
    const { bridge, stop } = renderApp({
      'models.list': () => LOCAL,
      'models.load': (p: { path: string }) => loaded(p.path),
      'providers.status': () => providersStatus({ providers: [providerDTO()] }),
      'threads.list': () => ({ threads: [t], nextCursor: null }),
      'threads.get': () => ({ thread: t, messages: [] }),
      'threads.setModel': (p: { id: string; model: string }) => ({ ...t, modelPath: p.model }),
    });
    fireEvent.click(await screen.findByRole('link', { name: 'Remote chat' }));
    const select = (await screen.findByRole('combobox', { name: 'Model' })) as HTMLSelectElement;
    await waitFor(() => expect(select.value).toBe(GPT4O));
    fireEvent.change(select, { target: { value: '/m/b.gguf' } });
    await waitFor(() => expect(bridge.callsTo('models.load')).toEqual([{ path: '/m/b.gguf' }]));
    await waitFor(() => expect(bridge.callsTo('threads.setModel')).toEqual([{ id: 'c2', model: '/m/b.gguf' }]));
    await waitFor(() => expect(select.value).toBe('/m/b.gguf'));
    expect(await screen.findByRole('meter', { name: 'Context used' })).toBeTruthy();
    stop();
  });

  test('main refusing the switch puts the chat’s model back and says why', async () => {
    const t = thread({ id: 'c3', title: 'Local chat', modelPath: '/m/a.gguf' });
    const { bridge, stop } = renderApp({
      'models.list': () => LOCAL,
      'providers.status': () => providersStatus({ providers: [providerDTO()] }),
      'threads.list': () => ({ threads: [t], nextCursor: null }),
      'threads.get': () => ({ thread: t, messages: [] }),
      'threads.setModel': () => Promise.reject(ipcError('remote_forbidden', 'remote providers are turned off')),
    });
    fireEvent.click(await screen.findByRole('link', { name: 'Local chat' }));
    const select = (await screen.findByRole('combobox', { name: 'Model' })) as HTMLSelectElement;
    await within(select).findByRole('option', { name: 'gpt-4o · OpenAI (remote)' });
    fireEvent.change(select, { target: { value: GPT4O } });
    expect(await screen.findByText(/Could not switch the chat's model: Remote providers are turned off in Settings → Providers/)).toBeTruthy();
    expect(bridge.callsTo('threads.setModel')).toHaveLength(1);
    expect(select.value).toBe('');
    stop();
  });

  test('on the new-chat screen a remote pick names the new chat’s model', async () => {
    const created = thread({ id: 'n1', title: '', modelPath: GPT4O });
    const { bridge, stop } = renderApp({
      'models.list': () => LOCAL,
      'providers.status': () => providersStatus({ providers: [providerDTO()] }),
      'threads.create': () => created,
      'chat.send': (p: { threadId: string; content: string }) => ({
        userMessage: message({ id: 'u', threadId: p.threadId, role: 'user', content: p.content }),
        reply: message({ id: 'r', threadId: p.threadId, parentId: 'u', status: 'streaming' }),
      }),
    });
    const select = (await screen.findByRole('combobox', { name: 'Model' })) as HTMLSelectElement;
    await within(select).findByRole('option', { name: 'gpt-4o · OpenAI (remote)' });
    fireEvent.change(select, { target: { value: GPT4O } });
    expect(select.value).toBe(GPT4O);
    expect(await screen.findByText('Replies come from gpt-4o · OpenAI (remote).')).toBeTruthy();
    expect(screen.getByText('Your messages are sent to the remote provider.')).toBeTruthy();
    expect(bridge.callsTo('threads.setModel')).toEqual([]);
    expect(bridge.callsTo('models.load')).toEqual([]);
    const box = screen.getByRole('textbox', { name: 'Message' });
    fireEvent.change(box, { target: { value: 'Hi!' } });
    fireEvent.keyDown(box, { key: 'Enter' });
    await waitFor(() => expect(bridge.callsTo('chat.send')).toEqual([{ threadId: 'n1', content: 'Hi!' }]));
    expect(bridge.callsTo('threads.create')).toEqual([{ modelPath: GPT4O }]);
    stop();
  });
});

test('a chat whose messages went to remote providers says so in the header and in the chat list', async () => {
  const sent: ThreadDTO = thread({ id: 's1', title: 'Sent away', modelPath: GPT4O, remoteSent: ['OpenAI', 'Groq'] });
  const home: ThreadDTO = thread({ id: 's2', title: 'Stayed home', modelPath: '/m/a.gguf' });
  const { stop } = renderApp({
    'models.list': () => LOCAL,
    'providers.status': () => providersStatus({ providers: [providerDTO()] }),
    'threads.list': () => ({ threads: [sent, home], nextCursor: null }),
    'threads.get': (p: { id: string }) => ({ thread: p.id === 's1' ? sent : home, messages: [] }),
  });
  const list = await screen.findByRole('list', { name: 'Chat list' });
  const sentLink = await within(list).findByRole('link', { name: /^Sent away/ });
  expect(within(sentLink).getByRole('img', { name: 'Sent to remote providers: OpenAI, Groq' })).toBeTruthy();
  expect(within(within(list).getByRole('link', { name: 'Stayed home' })).queryByRole('img')).toBeNull();
  fireEvent.click(within(list).getByRole('link', { name: 'Stayed home' }));
  await waitFor(() => expect(screen.getByRole('banner').querySelector('.topbar-title')?.textContent).toBe('Stayed home'));
  expect(within(screen.getByRole('banner')).queryByRole('status', { name: /Sent to remote providers/ })).toBeNull();
  fireEvent.click(sentLink);
  const badge = await within(screen.getByRole('banner')).findByRole('status', { name: 'Sent to remote providers: OpenAI, Groq' });
  expect(badge.textContent).toBe('Sent to OpenAI, Groq');
  stop();
});
