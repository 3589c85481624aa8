/**
 * End to end in browser mode (real engine, store and a generated model; Debian's Chromium through
 * playwright-core): every chat setting main/params defines has its control in the chat defaults and
 * in the assistant editor (the new samplers under "Advanced sampling"), without UI code of its own;
 * a reply generated with "Token probabilities" set shows, on hover over a token, its log-probability
 * and the likeliest alternatives. Screenshots: test-output/screenshots/e2e-sampling-*.png.
 * An on/off setting (Keep earlier reasoning) is a choice of default, On and Off.
 */
import { Locator, Page } from 'playwright-core';
import { CHAT_SETTINGS_META, KeyedMeta } from '../../main/params';
import { BrowserMode, openBrowserMode, shot, until, openReadyPage } from '../helpers/browser-mode';
import { TINY_SPM } from '../helpers/models';

const WAIT = 60_000;
jest.setTimeout(120_000);

let e2e: BrowserMode;
let page: Page;

beforeAll(async () => {
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-sampling-', models: [TINY_SPM] });
  page = await openReadyPage(e2e, { width: 1280, height: 900 }, WAIT);
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  expect(stopped).toBe(true);
});

/** A field's control by the role its kind gets and its label. */
function control(scope: Locator, f: KeyedMeta): Locator {
  const role = f.kind === 'choice' || f.kind === 'boolean' ? 'combobox' : f.kind === 'strings' ? 'textbox' : 'spinbutton';
  return scope.getByRole(role, { name: f.label, exact: true });
}

/** Every chat setting has its control in `scope`, the advanced ones once "Advanced sampling" is open. */
async function expectEveryField(scope: Locator): Promise<void> {
  const advanced = scope.getByText('Advanced sampling', { exact: true });
  if ((await scope.locator('details.advanced[open]').count()) === 0) await advanced.click();
  const missing: string[] = [];
  for (const f of CHAT_SETTINGS_META) if (!(await control(scope, f).isVisible())) missing.push(f.label);
  expect(missing).toEqual([]);
}

const field = (scope: Locator, key: string) => control(scope, CHAT_SETTINGS_META.find((f) => f.key === key)!);

test('chat defaults show every sampling setting, the new samplers under Advanced; they save', async () => {
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await dialog.getByRole('tab', { name: 'Chat defaults', exact: true }).click();
  const form = dialog.getByRole('form', { name: 'Chat defaults' });
  await form.waitFor();
  await expectEveryField(form);
  await field(form, 'maxTokens').fill('16');
  await field(form, 'nProbs').fill('3');
  await field(form, 'dryMultiplier').fill('0.8');
  await field(form, 'mirostat').selectOption({ label: 'Off' });
  await field(form, 'preserveReasoning').selectOption({ label: 'Off' });
  await form.getByRole('button', { name: 'Save defaults' }).click();
  await form.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: WAIT });
  await field(form, 'dryMultiplier').scrollIntoViewIfNeeded();
  await shot(page, 'sampling-chat-defaults');
  await field(form, 'preserveReasoning').scrollIntoViewIfNeeded();
  await shot(page, 'sampling-chat-defaults-reasoning');
  await dialog.getByRole('button', { name: 'Close' }).click();
  // saved: the form opened again shows it
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  await dialog.getByRole('tab', { name: 'Chat defaults', exact: true }).click();
  await form.waitFor();
  expect(await field(form, 'preserveReasoning').inputValue()).toBe('false');
  expect(await field(form, 'maxTokens').inputValue()).toBe('16');
  await dialog.getByRole('button', { name: 'Close' }).click();
});

test('the assistant editor shows the same settings', async () => {
  await page.getByRole('button', { name: /Assistants/ }).click();
  const dialog = page.getByRole('dialog', { name: 'Assistants' });
  await dialog.getByRole('button', { name: /New assistant/ }).click();
  const form = dialog.getByRole('form', { name: 'New assistant' });
  await expectEveryField(form);
  await field(form, 'xtcProbability').scrollIntoViewIfNeeded();
  await shot(page, 'sampling-assistant');
  await dialog.getByRole('button', { name: 'Close' }).click();
});

test('a reply with token probabilities: hovering a token shows its log-probability and the likeliest tokens', async () => {
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Tell me about lighthouses');
  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  const reply = page.getByRole('log', { name: 'Messages' }).getByRole('article').last();
  await reply.getByRole('note', { name: 'Reply metrics' }).waitFor({ timeout: WAIT });
  const toggle = reply.getByRole('button', { name: 'Token probabilities' });
  await toggle.click();
  await expect(toggle.getAttribute('aria-pressed')).resolves.toBe('true');
  const tokens = reply.getByRole('group', { name: 'Tokens with their probabilities' }).getByRole('button');
  await until('the tokens', async () => (await tokens.count()) > 0, WAIT);
  const token = tokens.nth(Math.min(2, (await tokens.count()) - 1));
  await token.hover();
  const tip = page.getByRole('tooltip');
  await tip.waitFor();
  expect(await token.getAttribute('aria-describedby')).toBe(await tip.getAttribute('id'));
  const rows = tip.getByRole('table', { name: 'Likeliest tokens' }).locator('tbody tr');
  await expect(rows.count()).resolves.toBe(3);
  const logprobs = (await rows.locator('td:nth-child(2)').allTextContents()).map(Number);
  for (const lp of logprobs) expect(lp).toBeLessThanOrEqual(0);
  expect([...logprobs].sort((a, b) => b - a)).toEqual(logprobs);
  expect(await tip.textContent()).toMatch(/log-probability -?\d+\.\d{3}/);
  await shot(page, 'sampling-token-probs');
  // the formatted reply comes back
  await toggle.click();
  await expect(reply.getByRole('group', { name: 'Tokens with their probabilities' }).count()).resolves.toBe(0);
});
