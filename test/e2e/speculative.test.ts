/**
 * Speculative decoding in the app, end to end: `npm start` in browser mode, the real engine and store,
 * Debian's Chromium through playwright-core. The model's settings get a draft model (the model itself:
 * the same vocabulary, so llama.cpp's check passes) in their
 * "Speculative decoding" group; a reply then shows the share of drafted tokens accepted under it.
 * Screenshots: test-output/screenshots/e2e-speculative-*.png.
 */
import path from 'path';
import { Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, openSettings, shot, until } from '../helpers/browser-mode';
import { poorDraftAcceptance, poorDraftAdvice } from '../../main/params';
import { TINY_SPM } from '../helpers/models';

const WAIT = 60_000;
jest.setTimeout(120_000);

let e2e: BrowserMode;
let page: Page;

beforeAll(async () => {
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-spec-', models: [TINY_SPM] });
  page = await e2e.newPage({ width: 1280, height: 1000 });
  await page.goto(e2e.url);
  await until('the model picker to be enabled', () => page.getByRole('combobox', { name: 'Model' }).isEnabled(), WAIT);
});

afterAll(async () => {
  expect((await e2e?.close()) ?? true).toBe(true);
});

test('a draft model set in the model settings drafts for its replies; the reply shows the acceptance', async () => {
  const dialog = await openSettings(page, 'Chat defaults');
  await dialog.getByRole('spinbutton', { name: 'Max tokens' }).fill('40');
  await dialog.getByRole('button', { name: 'Save defaults' }).click();
  await dialog.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await dialog.getByRole('tab', { name: 'Models', exact: true }).click();
  await dialog.getByRole('form', { name: 'Load settings' }).waitFor({ timeout: WAIT });
  const group = dialog.getByRole('group', { name: 'Speculative decoding' });
  const draft = path.join(e2e.dataDir, 'models', path.basename(TINY_SPM));
  await group.getByRole('textbox', { name: 'Draft model' }).fill(draft);
  await group.getByRole('spinbutton', { name: 'Draft model: longest draft' }).fill('6');
  await group.scrollIntoViewIfNeeded();
  await shot(page, 'speculative-settings');
  await dialog.getByRole('button', { name: 'Save', exact: true }).click();
  await dialog.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });

  await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Tell me a story');
  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  const reply = page.getByRole('log', { name: 'Messages' }).getByRole('article').last();
  const metrics = reply.getByRole('note', { name: 'Reply metrics' });
  await metrics.waitFor({ timeout: WAIT });
  const text = (await metrics.textContent()) ?? '';
  // the chat's sampler (temperature) decides: the draft's likeliest token is not always the one it picks
  // (on random weights, whose logits are nearly flat, few are), so the acceptance may be flagged
  expect(text).toMatch(/^\d+ tokens · \d+\.\d tok\/s · TTFT \d[\d,]* ms · draft \d+% accepted( \(low: may slow replies\))?$/);
  const counts = /Speculative decoding: (\d+) of (\d+) drafted tokens accepted/.exec((await metrics.getAttribute('title')) ?? '');
  expect(counts).not.toBeNull();
  const [accepted, drafted] = [Number(counts![1]), Number(counts![2])];
  expect(drafted).toBeGreaterThan(0);
  // flagged exactly when the counts are a poor acceptance, with what to do beside the reply
  const poor = poorDraftAcceptance(drafted, accepted);
  expect(text.endsWith('(low: may slow replies)')).toBe(poor);
  const advice = reply.getByRole('note', { name: 'Speculative decoding advice' });
  expect(await advice.count()).toBe(poor ? 1 : 0);
  if (poor) expect(await advice.textContent()).toBe(poorDraftAdvice());
  await shot(page, 'speculative-reply');
});
