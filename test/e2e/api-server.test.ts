/**
 * End to end: Settings → Local API server in browser mode (`npm start`, Debian's Chromium with
 * playwright-core) over a data folder with one generated model: a free port set in the Port field and
 * saved, the toggle turned on, the status says where it runs, the test calls the real server (GET
 * /v1/models, one chat completion) and the request shows in the table (api.changed), the toggle turned
 * off, and after a reload it is remembered. Screenshot: test-output/screenshots/e2e-api-server.png.
 */
import http from 'http';
import net from 'net';
import path from 'path';
import { Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, openSettings, shot, until } from '../helpers/browser-mode';
import { TINY_BPE } from '../helpers/models';

jest.setTimeout(180_000);
const WAIT = 60_000;

let e2e: BrowserMode;
let page: Page;

beforeAll(async () => {
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-api-', models: [TINY_BPE] });
  page = await e2e.newPage({ width: 1280, height: 1000 });
  await page.goto(e2e.url);
});
afterAll(async () => {
  await e2e?.close();
});

/** A port free on loopback now (the server binds it a moment later). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

test('turn the API server on, call it, see the request listed, turn it off; the toggle is remembered', async () => {
  const dialog = await openSettings(page, 'Local API server');
  const panel = dialog.getByRole('tabpanel', { name: 'Local API server' });
  const toggle = panel.getByRole('switch', { name: 'Local API server' });
  const status = panel.getByRole('status', { name: 'API server status' });
  await until('the status', async () => (await status.count()) === 1, WAIT);
  expect(await toggle.isChecked()).toBe(false);
  expect(await status.textContent()).toBe('Stopped');

  const port = await freePort();
  const form = panel.getByRole('form', { name: 'API server settings' });
  await form.getByRole('textbox', { name: 'Port' }).fill(String(port));
  await form.getByRole('button', { name: 'Save' }).click();
  await until('the port saved', async () => await form.getByRole('button', { name: 'Save' }).isDisabled(), WAIT);
  expect(await status.textContent()).toBe('Stopped');

  await toggle.click();
  const url = `http://127.0.0.1:${port}`;
  await until('running', async () => (await status.textContent()) === `Running at ${url}`, WAIT);
  expect(await toggle.isChecked()).toBe(true);

  const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
  const name = path.basename(TINY_BPE, '.gguf');
  expect(models.data.map((m) => m.id)).toEqual([name]);
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: name, messages: [{ role: 'user', content: 'Hello' }], max_tokens: 4, seed: 1 }),
  });
  expect(res.status).toBe(200);
  const reply = (await res.json()) as { usage: { completion_tokens: number } };
  expect(reply.usage.completion_tokens).toBeGreaterThan(0);

  // the table follows api.changed: the completion's row names the model and its tokens
  const table = panel.getByRole('table', { name: 'Last requests' });
  const row = table.getByRole('row').filter({ hasText: '/v1/chat/completions' });
  await until('the completion listed', async () => (await row.count()) === 1, WAIT);
  const cells = await row.getByRole('cell').allTextContents();
  expect(cells.slice(1, 4)).toEqual(['POST', '/v1/chat/completions', '200']);
  expect(cells[5]).toBe(name);
  expect(cells[6]).toBe(String(reply.usage.completion_tokens));
  expect(await table.getByRole('row').filter({ hasText: '/v1/models' }).count()).toBe(1);
  // the snippets name the running server
  expect(await panel.getByText(`client = OpenAI(base_url="${url}/v1"`).count()).toBe(1);
  for (const b of ['Copy curl command', 'Copy Python code', 'New key']) expect(await panel.getByRole('button', { name: b }).count()).toBe(1);
  await table.scrollIntoViewIfNeeded();
  await shot(page, 'api-server');

  await toggle.click();
  await until('stopped', async () => (await status.textContent()) === 'Stopped', WAIT);
  await expect(fetch(`${url}/v1/models`)).rejects.toThrow();

  // remembered: on again, reload, still on (and running: the page reads main's word)
  await toggle.click();
  await until('running again', async () => (await status.textContent()) === `Running at ${url}`, WAIT);
  await page.reload();
  const again = (await openSettings(page, 'Local API server')).getByRole('tabpanel', { name: 'Local API server' });
  await until('the toggle remembered', async () => (await again.getByRole('switch', { name: 'Local API server' }).isChecked().catch(() => false)) === true, WAIT);
  expect(await again.getByRole('textbox', { name: 'Port' }).inputValue()).toBe(String(port));
  await again.getByRole('switch', { name: 'Local API server' }).click();
  await until('off after the reload', async () => (await again.getByRole('status', { name: 'API server status' }).textContent()) === 'Stopped', WAIT);
  await page.reload();
  const third = (await openSettings(page, 'Local API server')).getByRole('tabpanel', { name: 'Local API server' });
  await until('the status after the second reload', async () => (await third.getByRole('status', { name: 'API server status' }).count()) === 1, WAIT);
  expect(await third.getByRole('switch', { name: 'Local API server' }).isChecked()).toBe(false);
});

/** GET /v1/models with this Host header (fetch cannot set Host) and key; resolves with the status. */
function getModels(port: number, host: string, key?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v1/models', headers: { host, ...(key ? { authorization: `Bearer ${key}` } : {}) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

test('an allowed host name saved is accepted in the Host header; a key set on loopback is enforced until Remove key', async () => {
  await page.reload();
  const panel = (await openSettings(page, 'Local API server')).getByRole('tabpanel', { name: 'Local API server' });
  const status = panel.getByRole('status', { name: 'API server status' });
  await until('the status', async () => (await status.count()) === 1, WAIT);
  const form = panel.getByRole('form', { name: 'API server settings' });
  const port = Number(await form.getByRole('textbox', { name: 'Port' }).inputValue());
  await form.getByRole('textbox', { name: 'Allowed host names (comma-separated)' }).fill('box.local, other.lan');
  await form.getByRole('button', { name: 'Save' }).click();
  await until('the names saved', async () => await form.getByRole('button', { name: 'Save' }).isDisabled(), WAIT);

  const toggle = panel.getByRole('switch', { name: 'Local API server' });
  await toggle.click();
  await until('running', async () => (await status.textContent()) === `Running at http://127.0.0.1:${port}`, WAIT);
  expect(await getModels(port, `box.local:${port}`)).toBe(200);
  expect(await getModels(port, `other.lan:${port}`)).toBe(200);
  expect(await getModels(port, `evil.example:${port}`)).toBe(403);

  // no key: no Remove key button; a new key is enforced on 127.0.0.1 too
  const key = panel.getByLabel('API key', { exact: true });
  expect(await key.textContent()).toBe('none (not needed on this machine)');
  expect(await panel.getByRole('button', { name: 'Remove key' }).count()).toBe(0);
  await panel.getByRole('button', { name: 'New key' }).click();
  const remove = panel.getByRole('button', { name: 'Remove key' });
  await until('a key', async () => (await remove.count()) === 1 && (await remove.isEnabled()), WAIT);
  await until('restarted with the key', async () => (await getModels(port, `127.0.0.1:${port}`).catch(() => 0)) === 401, WAIT);
  await panel.getByRole('button', { name: 'Remove key' }).scrollIntoViewIfNeeded();
  await shot(page, 'api-server-key');

  await remove.click();
  await until('the key removed', async () => (await key.textContent()) === 'none (not needed on this machine)', WAIT);
  await until('restarted without a key', async () => (await getModels(port, `127.0.0.1:${port}`).catch(() => 0)) === 200, WAIT);
  expect(await remove.count()).toBe(0);

  // the CORS origin * lets any web page call the API: saving it generates a key, which cannot be removed while * is listed
  const cors = form.getByRole('textbox', { name: 'CORS origins (comma-separated)' });
  expect(await cors.getAttribute('aria-describedby')).toBeTruthy();
  await cors.fill('*');
  await form.getByRole('button', { name: 'Save' }).click();
  await until('a key for *', async () => (await remove.count()) === 1, WAIT);
  expect(await remove.isDisabled()).toBe(true);
  expect(await remove.getAttribute('title')).toBe('The CORS origin * (any web page) always needs a key');
  await until('restarted with the key', async () => (await getModels(port, `127.0.0.1:${port}`).catch(() => 0)) === 401, WAIT);
  await cors.fill('');
  await form.getByRole('button', { name: 'Save' }).click();
  await until('Remove key offered again', async () => (await remove.count()) === 1 && (await remove.isEnabled()), WAIT);
  await remove.click();
  await until('the key removed again', async () => (await key.textContent()) === 'none (not needed on this machine)', WAIT);

  // the names stay saved after a reload
  await page.reload();
  const again = (await openSettings(page, 'Local API server')).getByRole('tabpanel', { name: 'Local API server' });
  const hosts = again.getByRole('textbox', { name: 'Allowed host names (comma-separated)' });
  await until('the names shown', async () => (await hosts.count()) === 1, WAIT);
  expect(await hosts.inputValue()).toBe('box.local, other.lan');
  await again.getByRole('switch', { name: 'Local API server' }).click();
  await until('stopped', async () => (await again.getByRole('status', { name: 'API server status' }).textContent()) === 'Stopped', WAIT);
});
