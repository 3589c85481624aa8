/**
 * End to end: Settings → Chat defaults, the chats' caches (the `threadCache` setting: main/chat/sessions.ts), in
 * browser mode (`npm start`, Debian's Chromium with playwright-core): a value main refuses says why and
 * is not kept; good ones are saved and kept across a reload.
 * Screenshot: test-output/screenshots/e2e-settings-thread-cache.png.
 */
import { Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, openSettings, shot, until } from '../helpers/browser-mode';

jest.setTimeout(180_000);
const WAIT = 60_000;

let e2e: BrowserMode;
let page: Page;

beforeAll(async () => {
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-thread-cache-' });
  page = await e2e.newPage({ width: 1280, height: 1000 });
  await page.goto(e2e.url);
});
afterAll(async () => {
  await e2e?.close();
});

test('the chats kept in the cache, the disk budget and the age: refused out of bounds, saved and kept across a reload', async () => {
  let dialog = await openSettings(page, 'Chat defaults');
  const form = () => dialog.getByRole('form', { name: 'Chat caches' });
  const live = () => form().getByLabel('Chats kept in the model’s cache');
  await until('the default shown', async () => (await live().inputValue()) === '4', WAIT);
  expect(await form().getByLabel('Saved caches on disk (MiB)').inputValue()).toBe('2048');
  await live().fill('0');
  await form().getByRole('button', { name: 'Save chat caches' }).click();
  await form().getByRole('alert').waitFor({ timeout: WAIT });
  await live().fill('6');
  await form().getByLabel('Saved caches on disk (MiB)').fill('512');
  await form().getByRole('button', { name: 'Save chat caches' }).click();
  await until('saved', async () => form().getByRole('button', { name: 'Save chat caches' }).isDisabled(), WAIT);
  await shot(page, 'settings-thread-cache');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await page.reload();
  dialog = await openSettings(page, 'Chat defaults');
  await until('kept', async () => (await live().inputValue()) === '6', WAIT);
  expect(await form().getByLabel('Saved caches on disk (MiB)').inputValue()).toBe('512');
  expect(await form().getByLabel('Keep saved caches for (days)').inputValue()).toBe('30');
});
