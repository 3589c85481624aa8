/**
 * End to end in browser mode (`npm start`, Debian's Chromium through playwright-core): a remote
 * provider used from the UI. The provider is a real server on loopback: another Hearth's API server
 * (composeApp's ApiService over the real engine host, in this test's process) serving a generated
 * model as `remote-bpe`. Settings → Providers adds it from the "Local server" preset (its models are
 * asked for at once); the header's picker shows it under the provider, marked remote; a chat on it gets
 * its reply from the other server (its request log shows the request) and says it was sent to the
 * provider; the same chat is switched back to the local model, whose reply the other server never sees.
 * Screenshots: test-output/screenshots/e2e-providers-*.png.
 */
import type { Page } from 'playwright-core';
import { apiApp, type ApiApp } from '../helpers/api-server';
import { BrowserMode, openBrowserMode, openSettings, seedDataDir, sendAndFinish as send, shot, untilWithShot } from '../helpers/browser-mode';
import { TINY_BPE } from '../helpers/models';

const WAIT = 60_000;
jest.setTimeout(180_000);

const LOCAL = 'tiny-local.gguf';
let remote: ApiApp;
let e2e: BrowserMode;
let page: Page;

/** until(), with a screenshot of the page when it times out (test-output/screenshots/e2e-providers-timeout.png) */
const until = untilWithShot(() => page, 'providers', WAIT);
const sendAndFinish = (text: string, replyCount: number) => send(page, text, replyCount, until, WAIT);

const picker = () => page.getByRole('combobox', { name: 'Model' });

beforeAll(async () => {
  remote = await apiApp({}, { model: TINY_BPE, modelAs: 'remote-bpe.gguf' });
  e2e = await openBrowserMode({
    prefix: 'hearth-e2e-providers-',
    prepare(dataDir) {
      seedDataDir(dataDir, { [LOCAL]: TINY_BPE }, { maxTokens: 8, seed: 1 });
    },
  });
  page = await e2e.newPage({ width: 1280, height: 900 });
  await page.goto(e2e.url);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
}, 180_000);

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  await remote?.close();
  expect(stopped).toBe(true);
});

test('add a provider, pick its model, chat, switch the chat back to the local model', async () => {
  // Settings → Providers: add one from the "Local server" preset (URL only)
  const dialog = await openSettings(page, 'Providers');
  const panel = dialog.getByRole('tabpanel', { name: 'Providers' });
  expect(await panel.getByRole('switch', { name: 'Allow remote providers' }).isChecked()).toBe(true);
  await panel.getByRole('button', { name: 'Add provider', exact: true }).click();
  const form = panel.getByRole('form', { name: /provider/i });
  await form.getByRole('combobox', { name: 'Preset' }).selectOption({ label: 'Local server' });
  expect(await form.getByRole('textbox', { name: 'Name' }).inputValue()).toBe('Local server');
  await form.getByRole('textbox', { name: 'Base URL' }).fill(`${remote.url}/v1`);
  await form.getByRole('button', { name: 'Add provider', exact: true }).click();
  const item = panel.getByRole('list', { name: 'Providers' }).getByRole('listitem', { name: 'Local server', exact: true });
  await item.waitFor({ timeout: WAIT });
  // its models were asked for at once
  await until('the provider’s model listed', async () => (await item.getByText('1 model', { exact: true }).count()) === 1);
  await item.getByText('1 model', { exact: true }).click();
  expect(await item.getByRole('list', { name: 'Models of Local server' }).getByRole('listitem').allTextContents()).toEqual(['remote-bpe']);
  expect(await item.getByLabel('Key of Local server').textContent()).toBe('No key');
  await shot(page, 'providers-settings');
  await dialog.getByRole('button', { name: 'Close' }).click();

  // the picker: the local model and, under the provider, the remote one, marked so
  const remoteOption = picker().locator('optgroup[label="Local server"] option');
  await until('the remote model in the picker', async () => (await remoteOption.count()) === 1);
  expect(await remoteOption.textContent()).toMatch(/remote-bpe.*remote/i);
  const remoteRef = (await remoteOption.getAttribute('value'))!;
  expect(remoteRef).toMatch(/^remote:[a-z0-9-]+\/remote-bpe$/);
  await picker().selectOption(remoteRef);

  // a chat on it: the reply comes from the other server, and the chat says where its messages went
  const before = remote.status().requests.filter((r) => r.path === '/v1/chat/completions').length;
  const first = await sendAndFinish('Hello, remote model', 1);
  expect(await first.locator('.model').textContent()).toBe('remote-bpe');
  expect((await first.textContent())!.length).toBeGreaterThan(0);
  const served = remote.status().requests.filter((r) => r.path === '/v1/chat/completions');
  expect(served.length).toBe(before + 1);
  expect(served[0]).toMatchObject({ status: 200, model: 'remote-bpe' });
  const badge = page.getByRole('status', { name: /Sent to .*Local server/ });
  await until('the remote badge', async () => (await badge.count()) === 1);
  await shot(page, 'providers-remote-chat');

  // back to the local model, in the same chat: it loads, and the next reply is written here
  const localPath = await picker().locator('option', { hasText: 'tiny-local' }).getAttribute('value');
  await picker().selectOption(localPath!);
  await until('the local model loaded', async () => (await page.getByRole('button', { name: 'Unload model' }).count()) === 1);
  const second = await sendAndFinish('And now locally', 2);
  expect(await second.locator('.model').textContent()).toBe('tiny-local');
  expect(remote.status().requests.filter((r) => r.path === '/v1/chat/completions').length).toBe(before + 1);
  expect(await picker().inputValue()).toBe(localPath);
  // the chat still says its earlier messages went to the provider
  expect(await badge.count()).toBe(1);
  await shot(page, 'providers-back-to-local');
});
