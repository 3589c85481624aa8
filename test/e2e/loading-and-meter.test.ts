/**
 * End to end, where the user meets it (`npm start` in browser mode, the real engine host and store,
 * Debian's Chromium through playwright-core): a message sent while its model still loads shows at
 * once with a reply that says the model is loading, and Stop ends that reply during the load (the
 * message stays; the load goes on); the header's context meter shows the open chat's own count (0 in
 * a new chat, each chat its own when switching back and forth), also after the engine host was killed
 * and restarted. The load is held deterministically by the host's test hook HEARTH_TEST_LOAD_GATE
 * (HEARTH_TEST_HOOKS=1): the host's first check of a model file waits until the test writes `go`.
 * Screenshots: test-output/screenshots/e2e-loading-*.png.
 */
import fs from 'fs';
import path from 'path';
import { Locator, Page } from 'playwright-core';
import { BrowserMode, engineHosts, openBrowserMode, openSettings, shot, until, sendMessage } from '../helpers/browser-mode';
import { tempDir } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

const WAIT = 60_000;

jest.setTimeout(180_000);

let e2e: BrowserMode;
let page: Page;
let gate: string;

const composer = () => page.getByRole('textbox', { name: 'Message', exact: true });
const sendButton = () => page.getByRole('button', { name: 'Send message', exact: true });
const stopButton = () => page.getByRole('button', { name: 'Stop generating', exact: true });
const messageLog = () => page.getByRole('log', { name: 'Messages' });
const lastArticle = () => messageLog().getByRole('article').last();
const meter = () => page.getByRole('meter', { name: 'Context used' });
const used = async () => Number(await meter().getAttribute('aria-valuenow'));
const chatList = () => page.getByRole('list', { name: 'Chat list' });

const send = (text: string): Promise<Locator> => sendMessage(page, text, WAIT);

/** Waits until the reply finished; returns what its conversation fills (the prompt's tokens and the generated ones, from its metrics). */
async function finished(reply: Locator): Promise<number> {
  const metrics = reply.getByRole('note', { name: 'Reply metrics' });
  await metrics.waitFor({ timeout: WAIT });
  await stopButton().waitFor({ state: 'detached', timeout: WAIT });
  const prompt = Number(/^Prompt: ([\d,]+) tokens/.exec((await metrics.getAttribute('title')) ?? '')![1].replace(/,/g, ''));
  const generated = Number(((await metrics.textContent()) ?? '').split(' ')[0].replace(/,/g, ''));
  return prompt + generated;
}

/** Names the open chat (its item is the selected one, first in the list after a send). */
async function renameOpen(title: string): Promise<void> {
  await chatList().getByRole('listitem').first().getByRole('button', { name: /^Rename / }).click();
  const box = page.getByRole('textbox', { name: 'Chat title' });
  await box.fill(title);
  await box.press('Enter');
  await chatList().getByRole('link', { name: title, exact: true }).waitFor();
}

async function openChat(title: string): Promise<void> {
  await chatList().getByRole('link', { name: title, exact: true }).click();
  await page.getByRole('banner').getByText(title, { exact: true }).waitFor();
}

beforeAll(async () => {
  gate = tempDir('hearth-e2e-gate-');
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-loading-', models: [TINY_SPM], env: { HEARTH_TEST_HOOKS: '1', HEARTH_TEST_LOAD_GATE: gate } });
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await composer().waitFor({ timeout: WAIT });
  await until('the model in the picker', async () => (await page.getByRole('banner').getByRole('combobox', { name: 'Model' }).locator('option').count()) === 2);
  // short replies (by default one runs until the context is full)
  const d = await openSettings(page, 'Chat defaults');
  await d.getByRole('spinbutton', { name: 'Max tokens' }).fill('16');
  await d.getByRole('button', { name: 'Save defaults' }).click();
  await d.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
  await d.getByRole('button', { name: 'Close' }).click();
  await d.waitFor({ state: 'detached' });
});

afterAll(async () => {
  fs.writeFileSync(path.join(gate, 'go'), '');
  await e2e?.close();
  fs.rmSync(gate, { recursive: true, force: true });
});

test('a message sent while the model loads shows at once, its reply says the model is loading, and Stop ends it; the load goes on', async () => {
  // nothing is loaded: the new chat takes the only model, and the turn loads it (held at the gate)
  const reply = await send('Hello while the model loads');
  await until('the load held at the gate', async () => fs.existsSync(path.join(gate, 'checked')), WAIT);
  await expect(reply.getByRole('status').textContent()).resolves.toMatch(/^ ?Loading tiny-spm…/);
  await expect(reply.getAttribute('aria-busy')).resolves.toBe('true');
  await stopButton().waitFor({ timeout: 5000 });
  await shot(page, 'loading-reply-waits');
  await stopButton().click();
  await reply.getByText('Stopped.', { exact: true }).waitFor({ timeout: WAIT });
  await sendButton().waitFor();
  await expect(messageLog().getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: 'Hello while the model loads' }).count()).resolves.toBe(1);
  await shot(page, 'loading-reply-stopped');
  // the load was not cancelled: released, the model loads and the next message is answered
  fs.writeFileSync(path.join(gate, 'go'), '');
  await until('the model loaded', async () => (await meter().getAttribute('aria-valuemax').catch(() => null)) === '2048', WAIT);
  const next = await send('And now?');
  await finished(next);
  await expect(messageLog().getByRole('article').count()).resolves.toBe(4);
  await expect(messageLog().getByRole('article').nth(1).getByText('Stopped.', { exact: true }).count()).resolves.toBe(1);
});

test("the context meter shows the open chat's own count: 0 in a new chat, each chat its own, also after an engine restart", async () => {
  await renameOpen('Chat A');
  const a = await finished(lastArticle());
  expect(a).toBeGreaterThan(0);
  await until('the meter to show chat A', async () => (await used()) === a, 5000);

  await page.getByRole('button', { name: 'New chat', exact: true }).click();
  await page.getByRole('heading', { name: 'New chat' }).waitFor();
  await expect(used()).resolves.toBe(0);
  await shot(page, 'loading-meter-new-chat');
  const b = await finished(await send('A different question, a little longer than the first one was'));
  await renameOpen('Chat B');
  expect(b).not.toBe(a);
  await until('the meter to show chat B', async () => (await used()) === b, 5000);
  await openChat('Chat A');
  await until('the meter to show chat A again', async () => (await used()) === a, 5000);

  // the engine host dies (and is restarted): the meter still shows the open chat's own count, not the dead host's
  const hosts = engineHosts(e2e.server.pid!);
  expect(hosts).toHaveLength(1);
  process.kill(hosts[0], 'SIGKILL');
  await until('a new engine host', async () => engineHosts(e2e.server.pid!).some((p) => p !== hosts[0]), WAIT);
  await page.getByRole('button', { name: 'New chat', exact: true }).click();
  await page.getByRole('heading', { name: 'New chat' }).waitFor();
  await expect(used()).resolves.toBe(0);
  await openChat('Chat B');
  await until('the meter to show chat B after the restart', async () => (await used()) === b, 5000);
  // a reply after the restart (the model loads again in the new host): the meter follows it
  const b2 = await finished(await send('One more'));
  expect(b2).toBeGreaterThan(b);
  await until('the meter to show the new reply', async () => (await used()) === b2, 5000);
  await shot(page, 'loading-meter-after-restart');
});
