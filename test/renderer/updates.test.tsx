/** @jest-environment jsdom */
/**
 * Settings → Updates and the header's "Restart to update" on the whole <App>, with the FakeBridge
 * standing in for main's updater (main's side has its own suites): every phase in words, the
 * downgrade's explicit confirmation, the channel move to a more stable channel asked first, release
 * notes as text, unsupported (and a main without the updater: unknown_channel) leaving only the two
 * settings usable, and the state following updates.changed events and the saved settings.
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { UpdateStateDTO } from '../../main/ipc/updates';
import { openDialog } from '../../renderer/src/app/uiSlice';
import { NO_UPDATER } from '../../renderer/src/features/updates/updatesSlice';
import { settingsDTO } from './fake-bridge';
import { renderApp } from './render-app';

const MiB = 1024 * 1024;
const T = Date.UTC(2026, 10, 27, 9, 30);

function st(over: Partial<UpdateStateDTO> = {}): UpdateStateDTO {
  return { phase: 'idle', reason: null, current: '1.5.0-beta.2', channel: 'beta', mode: 'auto', lastCheckedAt: null, update: null, progress: null, waitingFor: [], error: null, ...over };
}
const found = (over: Partial<NonNullable<UpdateStateDTO['update']>> = {}) => ({ version: '1.5.0-beta.3', channel: 'beta' as const, releaseDate: null, releaseNotes: null, downgrade: false, ...over });

async function openUpdates(handlers: Parameters<typeof renderApp>[0] = {}) {
  const app = renderApp({ 'settings.update': (p: object) => settingsDTO(p), ...handlers });
  act(() => void app.store.dispatch(openDialog({ name: 'settings', section: 'updates' })));
  const panel = await screen.findByRole('tabpanel', { name: 'Updates' });
  await act(async () => {});
  return { ...app, panel };
}

test('every phase in words, following updates.changed events', async () => {
  const { bridge, panel } = await openUpdates({ 'updates.state': () => st() });
  await waitFor(() => expect(panel.textContent).toContain('Not checked yet.'));
  expect(within(panel).getByTestId('update-running').textContent).toBe('You run Hearth 1.5.0-beta.2, a beta build. Following: Beta.');
  expect(within(panel).getByTestId('update-last-checked').textContent).toBe('Last checked: never');
  const emit = (s: UpdateStateDTO) => act(() => bridge.emit('updates.changed', s));
  const status = () => within(panel).getAllByRole('status').map((e) => e.textContent).join(' | ');

  emit(st({ phase: 'idle', mode: 'off' }));
  expect(status()).toContain('Automatic checks are off.');
  emit(st({ phase: 'checking' }));
  expect(status()).toContain('Checking for updates…');
  expect((within(panel).getByRole('button', { name: 'Check now' }) as HTMLButtonElement).disabled).toBe(true);
  emit(st({ phase: 'none', lastCheckedAt: T }));
  expect(status()).toContain('Hearth is up to date.');
  expect(within(panel).getByTestId('update-last-checked').textContent).toBe(`Last checked: ${new Date(T).toLocaleString()}`);
  expect((within(panel).getByRole('button', { name: 'Check now' }) as HTMLButtonElement).disabled).toBe(false);

  emit(st({ phase: 'available', update: found() }));
  expect(status()).toContain('Version 1.5.0-beta.3 is available.');
  expect(within(panel).getByRole('button', { name: 'Download 1.5.0-beta.3' })).toBeTruthy();

  emit(st({ phase: 'downloading', update: found(), progress: { transferred: 30 * MiB, total: 120 * MiB, bytesPerSecond: 4 * MiB } }));
  expect(status()).toContain('Downloading version 1.5.0-beta.3…');
  const bar = within(panel).getByRole('progressbar', { name: 'Downloading version 1.5.0-beta.3' }) as HTMLProgressElement;
  expect(bar.value).toBe(25);
  expect(panel.textContent).toContain('25% · 30 MiB of 120 MiB · 4 MiB/s');

  emit(st({ phase: 'downloaded', update: found() }));
  expect(status()).toContain('Version 1.5.0-beta.3 is ready.');
  expect(within(panel).getByRole('button', { name: 'Restart to update' })).toBeTruthy();

  emit(st({ phase: 'waiting', update: found(), waitingFor: ['generation', 'download'] }));
  expect(status()).toContain('Version 1.5.0-beta.3 installs once the reply to finish and the model download to finish; Hearth then restarts.');
  expect(within(panel).getByRole('button', { name: 'Cancel the waiting update' })).toBeTruthy();

  emit(st({ phase: 'installing', update: found() }));
  expect(status()).toContain('Installing version 1.5.0-beta.3: Hearth restarts…');

  emit(st({ phase: 'error', error: { code: 'bad_signature', message: 'the feed’s signature does not verify' } }));
  expect(within(panel).getByRole('alert').textContent).toBe('Update failed: the feed’s signature does not verify');
});

test('Check now, Download, Restart to update and Cancel ask main, and its answer is the state shown', async () => {
  const { bridge, panel } = await openUpdates({
    'updates.state': () => st({ phase: 'none' }),
    'updates.check': () => st({ phase: 'available', update: found() }),
    'updates.download': () => st({ phase: 'downloaded', update: found() }),
    'updates.install': () => st({ phase: 'waiting', update: found(), waitingFor: ['generation'] }),
    'updates.cancelInstall': () => st({ phase: 'downloaded', update: found() }),
  });
  await waitFor(() => expect(panel.textContent).toContain('Hearth is up to date.'));
  fireEvent.click(within(panel).getByRole('button', { name: 'Check now' }));
  fireEvent.click(await within(panel).findByRole('button', { name: 'Download 1.5.0-beta.3' }));
  expect(bridge.callsTo('updates.download')).toEqual([{ confirmDowngrade: false }]);
  fireEvent.click(await within(panel).findByRole('button', { name: 'Restart to update' }));
  fireEvent.click(await within(panel).findByRole('button', { name: 'Cancel the waiting update' }));
  await within(panel).findByRole('button', { name: 'Restart to update' });
  expect(bridge.callsTo('updates.check')).toHaveLength(1);
  expect(bridge.callsTo('updates.install')).toHaveLength(1);
  expect(bridge.callsTo('updates.cancelInstall')).toHaveLength(1);
});

test('a refused request shows its reason; the state stays main’s last word', async () => {
  const { panel } = await openUpdates({
    'updates.state': () => st({ phase: 'none' }),
    'updates.check': () => Promise.reject(Object.assign(new Error('cannot reach the update feed'), { code: 'network' })),
  });
  await waitFor(() => expect(panel.textContent).toContain('Hearth is up to date.'));
  fireEvent.click(within(panel).getByRole('button', { name: 'Check now' }));
  expect((await within(panel).findByRole('alert')).textContent).toContain('cannot reach the update feed');
  expect(panel.textContent).toContain('Hearth is up to date.');
});

test('a downgrade: the warning names both versions, and only "Download X (downgrade)" downloads it, with confirmDowngrade', async () => {
  const { bridge, panel } = await openUpdates({
    'updates.state': () => st({ phase: 'available', channel: 'stable', update: found({ version: '1.4.0', channel: 'stable', downgrade: true }) }),
    'updates.download': () => st({ phase: 'downloading', channel: 'stable', update: found({ version: '1.4.0', channel: 'stable', downgrade: true }) }),
  });
  const note = await within(panel).findByRole('note');
  expect(note.textContent).toContain('1.4.0 is older than the version you run (1.5.0-beta.2): installing it is a downgrade.');
  expect(within(panel).queryByRole('button', { name: 'Download 1.4.0' })).toBeNull();
  fireEvent.click(within(note).getByRole('button', { name: 'Download 1.4.0 (downgrade)' }));
  await waitFor(() => expect(bridge.callsTo('updates.download')).toEqual([{ confirmDowngrade: true }]));
  await within(panel).findByRole('progressbar', { name: 'Downloading version 1.4.0' });
});

test('a downgrade that cannot open the data (blocked): the reason shows and nothing offers to download it', async () => {
  const blocked = '1.4.0 cannot open your data: this version changed how it is stored (schema 7; 1.4.0 reads up to 6).';
  const { bridge, panel } = await openUpdates({
    'updates.state': () => st({ phase: 'available', channel: 'stable', update: found({ version: '1.4.0', channel: 'stable', downgrade: true, blocked }) }),
  });
  const note = await within(panel).findByRole('note');
  expect(note.textContent).toContain(blocked);
  expect(within(panel).queryByRole('button', { name: /^Download/ })).toBeNull();
  expect(bridge.callsTo('updates.download')).toEqual([]);
});

test('release notes show as text in a scrollable region: markup in them shows literally', async () => {
  const notes = '<img src=x onerror="window.pwned=1"><b>Bold</b>\n- fixed <script>alert(1)</script>';
  const { panel } = await openUpdates({ 'updates.state': () => st({ phase: 'available', update: found({ releaseNotes: notes }) }) });
  const region = await within(panel).findByRole('region', { name: 'Release notes for 1.5.0-beta.3' });
  expect(region.textContent).toBe(notes);
  expect(region.querySelector('img, b, script')).toBeNull();
  expect(region.tabIndex).toBe(0);
});

test('a move to a more stable channel asks first (Keep leaves it); a move to a less stable one saves at once; the state follows the saved setting', async () => {
  let channel: UpdateStateDTO['channel'] = 'beta';
  const { bridge, panel } = await openUpdates({
    'settings.get': () => settingsDTO({ updateChannel: 'beta' }),
    'settings.update': (p: { updateChannel?: UpdateStateDTO['channel'] }) => ((channel = p.updateChannel ?? channel), settingsDTO({ updateChannel: channel })),
    'updates.state': () => st({ phase: 'none', channel }),
  });
  const select = (await within(panel).findByRole('combobox', { name: 'Channel' })) as HTMLSelectElement;
  await waitFor(() => expect(select.value).toBe('beta'));
  // what each channel gets, from UPDATE_CHANNELS' order
  expect(within(panel).getByRole('list', { name: 'What each channel gets' }).textContent).toBe(
    'Stable: Stable builds onlyBeta: Beta and stable buildsNightly: Every build: nightly, beta and stable',
  );

  fireEvent.change(select, { target: { value: 'stable' } });
  const ask = within(panel).getByRole('alertdialog', { name: 'Switch to the Stable channel?' });
  expect(ask.textContent).toContain('The next check may offer an older build than the one you run: installing it would be a downgrade');
  expect(document.activeElement).toBe(within(ask).getByRole('button', { name: 'Keep the current channel' }));
  expect(bridge.callsTo('settings.update')).toEqual([]);
  fireEvent.click(within(ask).getByRole('button', { name: 'Keep the current channel' }));
  expect(within(panel).queryByRole('alertdialog')).toBeNull();
  expect(select.value).toBe('beta');
  expect(bridge.callsTo('settings.update')).toEqual([]);

  fireEvent.change(select, { target: { value: 'stable' } });
  fireEvent.click(within(panel).getByRole('button', { name: 'Switch to Stable' }));
  await waitFor(() => expect(bridge.callsTo('settings.update')).toEqual([{ updateChannel: 'stable' }]));
  // the listener asks main's state again once the setting is saved
  await waitFor(() => expect(panel.textContent).toContain('Following: Stable.'));
  const stateCalls = bridge.callsTo('updates.state').length;
  expect(stateCalls).toBeGreaterThanOrEqual(2);

  // stable → nightly sees more, not less: no question
  fireEvent.change(select, { target: { value: 'nightly' } });
  expect(within(panel).queryByRole('alertdialog')).toBeNull();
  await waitFor(() => expect(bridge.callsTo('settings.update')).toEqual([{ updateChannel: 'stable' }, { updateChannel: 'nightly' }]));
  await waitFor(() => expect(bridge.callsTo('updates.state').length).toBe(stateCalls + 1));
});

test('the mode select ("When an update is found", not the tab’s name) saves updateMode; its hint says what the mode chosen does', async () => {
  const { bridge, panel } = await openUpdates({ 'updates.state': () => st() });
  expect(within(panel).queryByRole('combobox', { name: 'Updates' })).toBeNull();
  const mode = (await within(panel).findByRole('combobox', { name: 'When an update is found' })) as HTMLSelectElement;
  expect([...mode.options].map((o) => o.textContent)).toEqual(['Download updates automatically', 'Check only, ask before downloading', 'Off']);
  const hint = () => document.getElementById(mode.getAttribute('aria-describedby') ?? '')?.textContent;
  expect(hint()).toContain('downloads an update in the background');
  fireEvent.change(mode, { target: { value: 'check' } });
  await waitFor(() => expect(bridge.callsTo('settings.update')).toEqual([{ updateMode: 'check' }]));
  expect(mode.value).toBe('check');
  expect(hint()).toContain('it downloads only when you ask');
  fireEvent.change(mode, { target: { value: 'off' } });
  await waitFor(() => expect(mode.value).toBe('off'));
  expect(hint()).toBe('Hearth never checks by itself; “Check now” still works.');
});

test('unsupported: the reason shows, Check now is off, the channel and mode settings stay usable', async () => {
  const { panel } = await openUpdates({ 'updates.state': () => st({ phase: 'unsupported', reason: 'Updates are handled by the desktop app.', current: '0.1.0', channel: 'stable' }) });
  await waitFor(() => expect(within(panel).getByRole('note').textContent).toBe('Updates are handled by the desktop app.'));
  expect((within(panel).getByRole('button', { name: 'Check now' }) as HTMLButtonElement).disabled).toBe(true);
  expect((within(panel).getByRole('combobox', { name: 'Channel' }) as HTMLSelectElement).disabled).toBe(false);
  expect((within(panel).getByRole('combobox', { name: 'When an update is found' }) as HTMLSelectElement).disabled).toBe(false);
  expect(within(panel).queryAllByRole('status')).toEqual([]);
});

test('a main without the updater (unknown_channel) reads as unsupported', async () => {
  const { panel } = await openUpdates(); // the FakeBridge answers unknown_channel for updates.*
  await waitFor(() => expect(within(panel).getByRole('note').textContent).toBe(NO_UPDATER));
  expect((within(panel).getByRole('button', { name: 'Check now' }) as HTMLButtonElement).disabled).toBe(true);
  expect((within(panel).getByRole('combobox', { name: 'Channel' }) as HTMLSelectElement).disabled).toBe(false);
  expect(within(panel).queryByRole('alert')).toBeNull();
});

test('the header: "Restart to update" once downloaded, Cancel while waiting, nothing otherwise', async () => {
  const { bridge } = renderApp({
    'updates.state': () => st({ phase: 'none' }),
    'updates.install': () => st({ phase: 'waiting', update: found(), waitingFor: ['download'] }),
    'updates.cancelInstall': () => st({ phase: 'downloaded', update: found() }),
  });
  const header = screen.getByRole('banner');
  await act(async () => {});
  expect(within(header).queryByRole('button', { name: /update/i })).toBeNull();
  act(() => bridge.emit('updates.changed', st({ phase: 'downloaded', update: found() })));
  const restart = within(header).getByRole('button', { name: 'Restart to update to 1.5.0-beta.3' });
  expect(restart.textContent).toBe('Restart to update');
  fireEvent.click(restart);
  const cancel = await within(header).findByRole('button', { name: 'Cancel the waiting update' });
  expect(within(header).getByRole('status').textContent).toContain('Update waiting…');
  fireEvent.click(cancel);
  await within(header).findByRole('button', { name: 'Restart to update to 1.5.0-beta.3' });
  expect(bridge.callsTo('updates.install')).toHaveLength(1);
  expect(bridge.callsTo('updates.cancelInstall')).toHaveLength(1);
});

test('the running build’s own channel shows apart from the channel followed; a version that fits no channel is a development build', async () => {
  const { panel } = await openUpdates({
    'settings.get': () => settingsDTO({ updateChannel: 'nightly' }),
    'updates.state': () => st({ current: '1.4.0', channel: 'nightly' }),
  });
  const running = within(panel).getByTestId('update-running');
  await waitFor(() => expect(running.textContent).toBe('You run Hearth 1.4.0, a stable build. Following: Nightly.'));
});

test('a development build says so', async () => {
  const { panel } = await openUpdates({ 'updates.state': () => st({ current: '0.2.0-dev', channel: 'stable' }) });
  const running = within(panel).getByTestId('update-running');
  await waitFor(() => expect(running.textContent).toBe('You run Hearth 0.2.0-dev, a development build. Following: Stable.'));
});

test('the downgrade question depends on the running build’s channel, not the channel followed before', async () => {
  // a stable build following nightly: beta and stable builds are never older than what runs, so no question
  let channel: UpdateStateDTO['channel'] = 'nightly';
  const handlers = {
    'settings.get': () => settingsDTO({ updateChannel: channel }),
    'settings.update': (p: { updateChannel?: UpdateStateDTO['channel'] }) => ((channel = p.updateChannel ?? channel), settingsDTO({ updateChannel: channel })),
  };
  const stable = await openUpdates({ ...handlers, 'updates.state': () => st({ phase: 'none', current: '1.4.0', channel }) });
  const select = (await within(stable.panel).findByRole('combobox', { name: 'Channel' })) as HTMLSelectElement;
  await waitFor(() => expect(select.value).toBe('nightly'));
  fireEvent.change(select, { target: { value: 'beta' } });
  expect(within(stable.panel).queryByRole('alertdialog')).toBeNull();
  await waitFor(() => expect(stable.bridge.callsTo('settings.update')).toEqual([{ updateChannel: 'beta' }]));
  fireEvent.change(select, { target: { value: 'stable' } });
  expect(within(stable.panel).queryByRole('alertdialog')).toBeNull();
  await waitFor(() => expect(stable.bridge.callsTo('settings.update')).toEqual([{ updateChannel: 'beta' }, { updateChannel: 'stable' }]));
  stable.unmount();

  // a nightly build following stable: a move to beta (less bleeding-edge than the build) may offer an older build, so it asks
  channel = 'stable';
  const nightly = await openUpdates({ ...handlers, 'updates.state': () => st({ phase: 'none', current: '1.5.0-alpha.20261127', channel }) });
  const select2 = (await within(nightly.panel).findByRole('combobox', { name: 'Channel' })) as HTMLSelectElement;
  await waitFor(() => expect(select2.value).toBe('stable'));
  fireEvent.change(select2, { target: { value: 'beta' } });
  within(nightly.panel).getByRole('alertdialog', { name: 'Switch to the Beta channel?' });
  expect(nightly.bridge.callsTo('settings.update')).toEqual([]);
});

test('where updates are unsupported (browser mode) a move to a more stable channel saves at once: no check runs there', async () => {
  let channel: UpdateStateDTO['channel'] = 'nightly';
  const { bridge, panel } = await openUpdates({
    'settings.get': () => settingsDTO({ updateChannel: channel }),
    'settings.update': (p: { updateChannel?: UpdateStateDTO['channel'] }) => ((channel = p.updateChannel ?? channel), settingsDTO({ updateChannel: channel })),
    'updates.state': () => st({ phase: 'unsupported', reason: 'Updates are handled by the desktop app.', current: '1.5.0-alpha.20261127', channel }),
  });
  const select = (await within(panel).findByRole('combobox', { name: 'Channel' })) as HTMLSelectElement;
  await waitFor(() => expect(select.value).toBe('nightly'));
  await waitFor(() => expect(within(panel).getByRole('note').textContent).toBe('Updates are handled by the desktop app.'));
  fireEvent.change(select, { target: { value: 'stable' } });
  expect(within(panel).queryByRole('alertdialog')).toBeNull();
  await waitFor(() => expect(bridge.callsTo('settings.update')).toEqual([{ updateChannel: 'stable' }]));
  await waitFor(() => expect(select.value).toBe('stable'));
});

test('the header: "Update to X available" (mode check) opens Settings → Updates; an older build offered says it is a downgrade; a failed check stays out of the header', async () => {
  const { bridge } = renderApp({ 'updates.state': () => st({ phase: 'none', mode: 'check' }) });
  const header = screen.getByRole('banner');
  await act(async () => {});
  act(() => bridge.emit('updates.changed', st({ phase: 'available', mode: 'check', update: found() })));
  const available = within(header).getByRole('button', { name: 'Update to 1.5.0-beta.3 available' });
  expect(screen.queryByRole('dialog')).toBeNull();
  fireEvent.click(available);
  const panel = await screen.findByRole('tabpanel', { name: 'Updates' });
  expect(within(panel).getByRole('button', { name: 'Download 1.5.0-beta.3' })).toBeTruthy();
  expect(bridge.callsTo('updates.download')).toEqual([]);

  act(() => bridge.emit('updates.changed', st({ phase: 'available', channel: 'stable', update: found({ version: '1.4.0', channel: 'stable', downgrade: true }) })));
  expect(within(header).getByRole('button', { name: 'Older version 1.4.0 offered (downgrade)' })).toBeTruthy();

  act(() => bridge.emit('updates.changed', st({ phase: 'error', update: found(), error: { code: 'network', message: 'cannot reach the update feed' } })));
  expect(within(header).queryByRole('button', { name: /update|version/i })).toBeNull();
  expect(header.textContent).not.toContain('cannot reach the update feed');
});
