/**
 * End to end: Settings → Hardware → Remote devices in browser mode (the real engine, Debian's
 * Chromium). An rpc-server on loopback (started here, killed after) is added by its endpoint: the
 * engine restarts with it, and it shows as connected and among the devices with its memory; a
 * malformed endpoint is refused in the form. Screenshot: test-output/screenshots/e2e-remote-devices.png.
 */
import path from 'path';
import { Page } from 'playwright-core';
import { BrowserMode, openBrowserMode, openSettings, shot, until } from '../helpers/browser-mode';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';
import { RpcServer, startRpcServer } from '../helpers/rpc';

const WAIT = 60_000;
jest.setTimeout(180_000);

let e2e: BrowserMode;
let page: Page;
let server: RpcServer;

beforeAll(async () => {
  require(path.join(REPO_ROOT, 'scripts', 'build-ts.js')).build();
  server = await startRpcServer();
  e2e = await openBrowserMode({ prefix: 'hearth-e2e-rpc-', models: [TINY_SPM] });
  page = await e2e.newPage();
  await page.goto(e2e.url);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: WAIT });
});

afterAll(async () => {
  const stopped = (await e2e?.close()) ?? true;
  await server?.kill();
  expect(stopped).toBe(true);
});

test('an rpc-server added by endpoint shows as connected and among the devices; a malformed endpoint is refused', async () => {
  const d = await openSettings(page, 'Hardware');
  const box = d.getByRole('textbox', { name: 'rpc-server endpoints' });
  const save = d.getByRole('button', { name: 'Save remote devices' });
  await box.fill('not-an-endpoint');
  await save.click();
  await until('the form to refuse it', async () => (await d.getByRole('alert').allTextContents()).some((t) => t.includes('not-an-endpoint: must be host:port')), WAIT);
  await box.fill(server.endpoint);
  await save.click();
  const status = d.getByRole('list', { name: 'Remote device status' });
  await until('the endpoint to connect', async () => (await status.count()) > 0 && (await status.textContent())!.includes(`${server.endpoint} connected: 1 device`), WAIT);
  const devices = d.getByRole('table', { name: 'Hardware devices' });
  await until('the remote device among the devices', async () => ((await devices.textContent()) ?? '').includes(server.endpoint), WAIT);
  await d.getByRole('region', { name: 'Remote devices' }).scrollIntoViewIfNeeded();
  await shot(page, 'remote-devices');
});
