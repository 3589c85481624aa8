/**
 * End to end: Settings → Updates in browser mode (`npm start`, Debian's Chromium with playwright-core).
 * Browser mode has no updater: the section says so (main's phase unsupported with its reason), Check now is off and the channel and mode settings still save.
 * Screenshot: test-output/screenshots/e2e-updates.png.
 */
import { Page } from 'playwright-core';
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
  const mode = panel.getByRole('combobox', { name: 'Updates' });
  expect(await mode.isDisabled()).toBe(false);
  expect(await panel.getByRole('combobox', { name: 'Channel' }).isDisabled()).toBe(false);
  expect(await panel.getByRole('list', { name: 'What each channel gets' }).textContent()).toContain('Every build: nightly, beta and stable');
  await until('the running version', async () => /^You run Hearth \d+\.\d+\.\d+/.test((await panel.getByTestId('update-running').textContent({ timeout: 1000 }).catch(() => '')) ?? ''), WAIT);
  await mode.selectOption('check');
  await shot(page, 'updates');
  // saved by main: a reload reads it back
  await page.reload();
  const again = await openSettings(page, 'Updates');
  await until('the saved mode', async () => (await again.getByRole('combobox', { name: 'Updates' }).inputValue()) === 'check', WAIT);
});
