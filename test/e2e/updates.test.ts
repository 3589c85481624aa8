/**
 * End to end: Settings → Updates in browser mode (`npm start`, Debian's Chromium with playwright-core).
 * Browser mode has no updater: the section says so (main's phase unsupported with its reason), Check now is off and the channel and mode settings still save.
 * The header's "Update to X available": no updater runs here (it needs Electron), so the page's socket is
 * routed through Playwright and an updates.changed event with phase available is added to main's frames
 * (a stand-in for main's updater, whose own suites run it).
 * Screenshots: test-output/screenshots/e2e-updates.png, e2e-updates-header-available.png.
 */
import { Page, WebSocketRoute } from 'playwright-core';
import type { UpdateStateDTO } from '../../main/ipc/updates';
import { BROWSER_MODE_UPDATES_REASON } from '../../main/updates/controller';
import { BrowserMode, openBrowserMode, openSettings, shot, until } from '../helpers/browser-mode';

jest.setTimeout(180_000);
const WAIT = 60_000;

let e2e: BrowserMode;
let page: Page;

beforeAll(async () => {
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-updates-' });
  page = await e2e.newPage({ width: 1280, height: 900 });
  await page.goto(e2e.url);
});
afterAll(async () => {
  await e2e?.close();
});

test('browser mode: the Updates section says the desktop app handles updates; Check now is off, the channel and mode still save', async () => {
  const dialog = await openSettings(page, 'Updates');
  const panel = dialog.getByRole('tabpanel', { name: 'Updates' });
  const note = panel.getByRole('note');
  await until('the reason updates are unsupported', async () => (await note.count()) === 1, WAIT);
  const reason = (await note.textContent()) ?? '';
  // main's reason (phase unsupported): browser mode has no updater
  expect(reason).toContain(BROWSER_MODE_UPDATES_REASON);
  expect(await panel.getByRole('button', { name: 'Check now' }).isDisabled()).toBe(true);
  const mode = panel.getByRole('combobox', { name: 'When an update is found' });
  expect(await mode.isDisabled()).toBe(false);
  expect(await panel.getByRole('combobox', { name: 'Channel' }).isDisabled()).toBe(false);
  expect(await panel.getByRole('list', { name: 'What each channel gets' }).textContent()).toContain('Every build: nightly, beta and stable');
  // browser mode never checks, so a move to a more stable channel asks nothing: it saves
  const channel = panel.getByRole('combobox', { name: 'Channel' });
  await channel.selectOption('nightly');
  await until('nightly followed', async () => ((await panel.getByTestId('update-running').textContent()) ?? '').includes('Following: Nightly.'), WAIT);
  await channel.selectOption('stable');
  expect(await panel.getByRole('alertdialog').count()).toBe(0);
  await until('stable followed', async () => ((await panel.getByTestId('update-running').textContent()) ?? '').includes('Following: Stable.'), WAIT);
  await until('the running version', async () => /^You run Hearth \d+\.\d+\.\d+/.test((await panel.getByTestId('update-running').textContent({ timeout: 1000 }).catch(() => '')) ?? ''), WAIT);
  await mode.selectOption('check');
  await shot(page, 'updates');
  // saved by main: a reload reads it back
  await page.reload();
  const again = await openSettings(page, 'Updates');
  await until('the saved mode', async () => (await again.getByRole('combobox', { name: 'When an update is found' }).inputValue()) === 'check', WAIT);
});

test('the header says "Update to X available" and opens Settings → Updates', async () => {
  const p = await e2e.newPage({ width: 1280, height: 800 });
  let socket: WebSocketRoute | undefined;
  // the id of the page's updates.state request, and whether main answered it (the injected event must come after)
  let stateId: unknown;
  let stateAnswered = false;
  await p.routeWebSocket(/.*/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      const req = JSON.parse(String(m)) as { id?: unknown; channel?: unknown };
      if (req.channel === 'updates.state') stateId = req.id;
      server.send(m);
    });
    server.onMessage((m) => {
      ws.send(m);
      if (stateId !== undefined && (JSON.parse(String(m)) as { id?: unknown }).id === stateId) stateAnswered = true;
    });
    socket = ws;
  });
  await p.goto(e2e.url);
  const header = p.getByRole('banner');
  await until('main answered updates.state', async () => socket !== undefined && stateAnswered && (await header.count()) === 1, WAIT);
  const available: UpdateStateDTO = {
    phase: 'available', reason: null, current: '0.1.0', channel: 'stable', mode: 'check', lastCheckedAt: Date.now(),
    update: { version: '0.2.0', channel: 'stable', releaseDate: null, releaseNotes: 'Faster model loading.\nFixes a crash when a download is cancelled.', downgrade: false },
    progress: null, waitingFor: [], error: null,
  };
  socket!.send(JSON.stringify({ event: 'updates.changed', payload: available }));
  const button = header.getByRole('button', { name: 'Update to 0.2.0 available' });
  await until('the header offers the update', async () => (await button.count()) === 1, WAIT);
  await shot(p, 'updates-header-available');
  await button.click();
  const panel = p.getByRole('tabpanel', { name: 'Updates' });
  await until('Settings → Updates with the update', async () => (await panel.getByRole('button', { name: 'Download 0.2.0' }).count()) === 1, WAIT);
  await shot(p, 'updates-available');
  await p.close();
});
