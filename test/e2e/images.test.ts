/**
 * End to end: images in the composer, with `npm start` in browser mode (the images travel over the
 * WebSocket), the real engine and store, the tiny BPE model with the tiny generated projector paired
 * by its folder, driven through Debian's Chromium with playwright-core. Every control is found by its
 * accessible role and name.
 *
 * An image picked with "Attach files" shows as a chip, is sent with the message and read by the model
 * (the reply's prompt counts its tokens), and shows in the thread with its file name as alt text, also
 * after a reload. Editing that message shows its image as a chip in the edit box: removed, another
 * attached there, saved; the new version with its image (and the old one, its alternative) is there
 * after a reload. Screenshots go to test-output/screenshots/e2e-images-*.png.
 */
import fs from 'fs';
import path from 'path';
import type { Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, seedDataDir, shot, until } from '../helpers/browser-mode';
import { bmpImage, testPng } from '../helpers/images';
import { TINY_BPE, TINY_PROJECTOR } from '../helpers/models';

const WAIT = 60_000;

jest.setTimeout(120_000);

let e2e: BrowserMode;
let page: Page;

const composer = () => page.getByRole('textbox', { name: 'Message', exact: true });
const messageLog = () => page.getByRole('log', { name: 'Messages' });
const lastArticle = () => messageLog().getByRole('article').last();

beforeAll(async () => {
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-images-',
    prepare(dataDir) {
      seedDataDir(dataDir, { 'tiny-vision-Q8_0.gguf': TINY_BPE }, { maxTokens: 8, temperature: 0 });
      fs.copyFileSync(TINY_PROJECTOR, path.join(dataDir, 'models', 'mmproj-tiny-vision-f16.gguf'));
    },
  });
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await composer().waitFor({ timeout: WAIT });
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

test('an image picked, shown as a chip, sent, read by the model and shown in the thread', async () => {
  const model = path.join(e2e.dataDir, 'models', 'tiny-vision-Q8_0.gguf');
  const picker = page.getByRole('banner').getByRole('combobox', { name: 'Model' });
  await until('the model in the picker', async () => (await picker.locator(`option[value="${model}"]`).count()) === 1, WAIT);
  await picker.selectOption(model);
  await until('the model loaded', async () => (await page.getByRole('meter', { name: 'Context used' }).count()) === 1, WAIT);
  const png = testPng(40);
  await page.getByLabel('Choose files').setInputFiles({ name: 'gradient.png', mimeType: 'image/png', buffer: png });
  const chips = page.getByRole('list', { name: 'Attached images' });
  const chip = chips.getByRole('img', { name: 'gradient.png', exact: true });
  await chip.waitFor({ timeout: WAIT });
  expect(await chip.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(48);
  await chips.getByRole('button', { name: 'Remove image gradient.png' }).waitFor();
  await composer().fill('What is in this picture?');
  await shot(page, 'images-chip');

  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  const mine = messageLog().getByRole('article', { name: 'Your message', exact: true }).last();
  const shown = mine.getByRole('img', { name: 'gradient.png', exact: true });
  await shown.waitFor({ timeout: WAIT });
  await until('the image to load', async () => (await shown.evaluate((img) => (img as HTMLImageElement).naturalWidth)) === 48);
  expect(await chips.count()).toBe(0);
  await until('the reply', async () => /^Reply from /.test((await lastArticle().getAttribute('aria-label').catch(() => null)) ?? ''));
  const metrics = lastArticle().getByRole('note', { name: 'Reply metrics' });
  await metrics.waitFor({ timeout: WAIT });
  // the prompt's tokens (the line's tooltip) hold the image's 16
  const title = (await metrics.getAttribute('title')) ?? '';
  const prompt = Number(/^Prompt: ([\d,]+) tokens/.exec(title)?.[1].replace(/,/g, ''));
  expect(prompt).toBeGreaterThan(16);
  // the model now loaded reads images: the button stays enabled
  expect(await page.getByRole('button', { name: 'Attach files', exact: true }).isEnabled()).toBe(true);
  await shot(page, 'images-sent');

  // after a reload the thread shows its image again (read back from main)
  await page.reload();
  const chat = page.getByRole('list', { name: 'Chat list' }).getByRole('link').first();
  await chat.waitFor({ timeout: WAIT });
  await chat.click();
  const again = messageLog().getByRole('article', { name: 'Your message', exact: true }).last().getByRole('img', { name: 'gradient.png', exact: true });
  await again.waitFor({ timeout: WAIT });
  await until('the image to load after a reload', async () => (await again.evaluate((img) => (img as HTMLImageElement).naturalWidth)) === 48);
});

test("the sent message's images edited: one removed in the edit box, another attached there, saved, and so after a reload", async () => {
  // the thread of the test before, reloaded: its message with gradient.png
  const mine = () => messageLog().getByRole('article', { name: 'Your message', exact: true }).last();
  await mine().getByRole('button', { name: 'Edit message', exact: true }).click();
  const box = page.getByRole('group', { name: 'Editing your message' });
  const chips = box.getByRole('list', { name: 'Attached images' });
  const old = chips.getByRole('img', { name: 'gradient.png', exact: true });
  await old.waitFor({ timeout: WAIT });
  await until('the chip to show the image', async () => (await old.evaluate((img) => (img as HTMLImageElement).naturalWidth)) === 48);
  await chips.getByRole('button', { name: 'Remove image gradient.png' }).click();
  await box.getByLabel('Choose files').setInputFiles({ name: 'square.bmp', mimeType: 'image/bmp', buffer: bmpImage(32, 24, [200, 40, 40]) });
  const added = chips.getByRole('img', { name: 'square.bmp', exact: true });
  await added.waitFor({ timeout: WAIT });
  expect(await chips.getByRole('img').count()).toBe(1);
  await box.getByRole('textbox', { name: 'Edit message' }).fill('And in this one?');
  await shot(page, 'images-edit');
  await box.getByRole('button', { name: 'Save and send', exact: true }).click();

  await until('the box to close', async () => (await box.count()) === 0);
  await until('the reply to the edit', async () => /^Reply from /.test((await lastArticle().getAttribute('aria-label').catch(() => null)) ?? '') && (await lastArticle().getAttribute('aria-busy')) === null);
  const shownNow = mine().getByRole('img', { name: 'square.bmp', exact: true });
  await shownNow.waitFor({ timeout: WAIT });

  await page.reload();
  await page.getByRole('list', { name: 'Chat list' }).getByRole('link').first().click();
  const again = mine().getByRole('img', { name: 'square.bmp', exact: true });
  await again.waitFor({ timeout: WAIT });
  await until('the edited image to load after a reload', async () => (await again.evaluate((img) => (img as HTMLImageElement).naturalWidth)) === 32);
  expect(await mine().getByRole('img').count()).toBe(1);
  expect(await mine().getByText('And in this one?', { exact: true }).count()).toBe(1);
  await shot(page, 'images-edited');
  // the version before the edit is its alternative, with its own image
  const pager = mine().getByRole('group', { name: 'Alternatives' });
  expect(await pager.getByLabel('Alternative 2 of 2').count()).toBe(1);
  await pager.getByRole('button', { name: 'Previous alternative' }).click();
  const before = mine().getByRole('img', { name: 'gradient.png', exact: true });
  await before.waitFor({ timeout: WAIT });
  expect(await mine().getByText('What is in this picture?', { exact: true }).count()).toBe(1);
});
