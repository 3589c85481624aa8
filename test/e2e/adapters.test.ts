/**
 * End to end: a LoRA adapter beside the model (in the models folder's adapters/ subfolder) is found
 * for it and offered in the model's settings (Settings → Models → Adapters), added to its load
 * settings and saved (loading with it is test/engine/adapters.test.ts's). `npm start` in browser mode with the
 * real engine, driven through Debian's Chromium. Screenshot: test-output/screenshots/e2e-adapters.png.
 */
import path from 'path';
import { Page } from 'playwright-core';
import { writeTestLora } from '../../scripts/make-test-adapter';
import { BrowserMode, openBrowserMode, shot } from '../helpers/browser-mode';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

const WAIT = 60_000;
jest.setTimeout(180_000);

let e2e: BrowserMode;
let page: Page;
let lora: string;

beforeAll(async () => {
  require(path.join(REPO_ROOT, 'scripts', 'build-ts.js')).build();
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-adapters-', models: [TINY_SPM] });
  lora = await writeTestLora({ out: path.join(e2e.dataDir, 'models', 'adapters', 'tiny-spm-lora.gguf') });
  page = await e2e.newPage({ width: 1280, height: 1100 });
  await page.goto(e2e.url);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

test('the adapter found for the model is offered, added, saved, and the model loads with it', async () => {
  await page.getByRole('banner').getByRole('button', { name: 'Model settings' }).click();
  const d = page.getByRole('dialog', { name: 'Settings' });
  await d.getByRole('form', { name: 'Load settings' }).waitFor({ timeout: WAIT });
  const group = d.getByRole('group', { name: 'LoRA adapters' });
  await group.getByText(/Found for this model: tiny-spm-lora\.gguf/).waitFor({ timeout: WAIT });
  await group.getByRole('button', { name: 'Add adapter' }).click();
  await expect(group.getByRole('combobox', { name: 'LoRA adapters 1: file' }).inputValue()).resolves.toBe(lora);
  await group.getByRole('spinbutton', { name: 'LoRA adapters 1: scale' }).fill('0.5');
  await group.scrollIntoViewIfNeeded();
  await shot(page, 'adapters');
  await d.getByRole('button', { name: 'Save', exact: true }).click();
  await d.getByText('Saved.').waitFor({ timeout: WAIT });
  // saved: the form opened again shows it
  await d.getByRole('button', { name: 'Close' }).click();
  await page.getByRole('banner').getByRole('button', { name: 'Model settings' }).click();
  await expect(d.getByRole('group', { name: 'LoRA adapters' }).getByRole('spinbutton', { name: 'LoRA adapters 1: scale' }).inputValue()).resolves.toBe('0.5');
});
