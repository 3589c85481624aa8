/**
 * End to end: Settings → Models in browser mode (`npm start`, the real engine host, Debian's Chromium
 * with playwright-core). The Hugging Face token: saved through the password field, the page then says
 * "set" and where it is kept (a plain file in browser mode, with the warning), the token itself never
 * in the page nor in settings.get's answer; Forget clears it. The models folder: moved to another
 * folder from the page, the files there and the picker still lists the model from the new folder.
 * Screenshot: test-output/screenshots/e2e-settings-models.png.
 */
import fs from 'fs';
import path from 'path';
import { Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, openSettings, shot, until } from '../helpers/browser-mode';
import { tempDir } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

jest.setTimeout(180_000);
const WAIT = 60_000;
const TOKEN = 'hf_never_in_the_page_0123456789';

let e2e: BrowserMode;
let page: Page;
let away: string;

beforeAll(async () => {
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-settings-models-', models: [TINY_SPM] });
  away = tempDir('hearth-e2e-moved-');
  page = await e2e.newPage({ width: 1280, height: 1000 });
  await page.goto(e2e.url);
  await until('the model in the picker', async () => (await page.getByRole('banner').getByRole('combobox', { name: 'Model' }).locator('option').count()) >= 1, WAIT);
});
afterAll(async () => {
  await e2e?.close();
  if (away) fs.rmSync(away, { recursive: true, force: true });
});

test('the Hugging Face token: saved from the password field, shown as set and where it is kept, never echoed; Forget clears it', async () => {
  const dialog = await openSettings(page, 'Models');
  const status = dialog.getByTestId('hf-token-status');
  await until('"not set"', async () => (await status.textContent())?.includes('not set') ?? false, WAIT);
  await dialog.getByLabel('Token', { exact: true }).fill(TOKEN);
  // by keyboard: the button becomes disabled once saved, and focus stays in the dialog (it fell to <body>)
  await dialog.getByRole('button', { name: 'Save token' }).focus();
  await page.keyboard.press('Enter');
  await until('"set"', async () => /token: set \(kept in a plain file/.test((await status.textContent()) ?? ''), WAIT);
  await until('focus still in the dialog', async () => page.evaluate(() => !!document.activeElement?.closest('[role="dialog"]')), WAIT);
  expect(await dialog.getByRole('note').textContent()).toContain('stored unencrypted');
  expect(await dialog.getByLabel('New token').inputValue()).toBe('');
  // main keeps it (the plain file of browser mode); the page and main's answer never carry it
  expect(fs.readFileSync(path.join(e2e.dataDir, 'hf-token'), 'utf8')).toBe(TOKEN);
  expect(await page.content()).not.toContain(TOKEN);
  // (settings.get's answer without the token: test/models/hub-ipc.test.ts, through the IPC entry point)
  await dialog.getByRole('button', { name: 'Forget token' }).click();
  await until('"not set" again', async () => (await status.textContent())?.includes('not set') ?? false, WAIT);
  expect(fs.existsSync(path.join(e2e.dataDir, 'hf-token'))).toBe(false);
  // Escape closes it wherever focus is, even on <body>
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press('Escape');
  await until('the dialog closed', async () => (await page.getByRole('dialog', { name: 'Settings' }).count()) === 0, WAIT);
});

test('the proxy: a URL main refuses says why and is not kept; a good one is kept across a reload; cleared, the variables apply', async () => {
  let dialog = await openSettings(page, 'Models');
  const field = () => dialog.getByLabel('Proxy for Hugging Face and downloads');
  await field().fill('ftp://proxy.example:21');
  await dialog.getByRole('button', { name: 'Save proxy' }).click();
  await dialog.getByRole('form', { name: 'Proxy' }).getByRole('alert').filter({ hasText: /http:\/\/ or https:\/\// }).waitFor({ timeout: WAIT });
  await field().fill('http://user:secret@127.0.0.1:3128');
  await dialog.getByRole('button', { name: 'Save proxy' }).click();
  await dialog.getByText('Using http://***@127.0.0.1:3128').waitFor({ timeout: WAIT });
  await shot(page, 'settings-proxy');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await page.reload();
  dialog = await openSettings(page, 'Models');
  await until('the proxy kept', async () => (await field().inputValue()) === 'http://user:secret@127.0.0.1:3128', WAIT);
  await field().fill('');
  await dialog.getByRole('button', { name: 'Save proxy' }).click();
  await dialog.getByText(/No proxy set/).waitFor({ timeout: WAIT });
  // downloads at once: the setting's bounds as choices; a choice is saved and kept across a reload
  const limit = dialog.getByLabel('Downloads at once');
  expect(await limit.locator('option').allTextContents()).toEqual(['1', '2', '3', '4', '5', '6', '7', '8']);
  await limit.selectOption('5');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await page.reload();
  dialog = await openSettings(page, 'Models');
  await until('the limit kept', async () => (await dialog.getByLabel('Downloads at once').inputValue()) === '5', WAIT);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await until('the dialog closed', async () => (await page.getByRole('dialog', { name: 'Settings' }).count()) === 0, WAIT);
});

test('Move models: the files move to the folder typed, the section shows the new folder, the picker lists the model from there', async () => {
  const dialog = await openSettings(page, 'Models');
  const current = dialog.getByRole('textbox', { name: 'Models folder', exact: true });
  expect(await current.inputValue()).toBe(path.join(e2e.dataDir, 'models'));
  await dialog.getByLabel('Move models to').fill('relative/folder');
  await dialog.getByRole('button', { name: 'Move models' }).click();
  await until('the refusal', async () => /absolute path/.test((await dialog.getByRole('alert').textContent().catch(() => '')) ?? ''), WAIT);
  const to = path.join(away, 'models');
  await dialog.getByLabel('Move models to').fill(to);
  await dialog.getByRole('button', { name: 'Move models' }).click();
  await until('the move done', async () => (await current.inputValue()) === to, WAIT);
  expect(await dialog.getByRole('status').filter({ hasText: 'Moved 1 file to' }).isVisible()).toBe(true);
  expect(fs.readdirSync(to)).toEqual([path.basename(TINY_SPM)]);
  // the emptied old folder is removed (only the library's files moved; it held nothing else)
  expect(fs.existsSync(path.join(e2e.dataDir, 'models'))).toBe(false);
  await shot(page, 'settings-models');
  await dialog.getByRole('button', { name: 'Close' }).click();
  const picker = page.getByRole('banner').getByRole('combobox', { name: 'Model' });
  await until('the moved model in the picker', async () => (await picker.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).includes(path.join(to, path.basename(TINY_SPM))), WAIT);
});
