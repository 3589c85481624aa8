/**
 * npm start without an Electron binary: browser mode prints its URL, and Debian's Chromium opens it
 * and shows the engine's version and devices (Settings → About, opened by the URL's #about).
 * Real processes, real HTTP and WebSocket, real browser.
 */
import fs from 'fs';
import path from 'path';
import { Browser } from 'playwright-core';
import { BrowserMode, openBrowserMode, SHOTS } from '../helpers/browser-mode';
import { REPO_ROOT } from '../helpers/models';

let e2e: BrowserMode;
let browser: Browser;
let url: string;
let dataDir: string;

beforeAll(async () => {
  e2e = await openBrowserMode();
  ({ browser, url, dataDir } = e2e);
});

afterAll(() => e2e?.close());

test('npm start falls back to browser mode and the page shows the engine', async () => {
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
  const page = await browser.newPage();
  const cspViolations: string[] = [];
  const failedLoads: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    // what Chromium logs for any response >= 400, its own /favicon.ico request included
    if (/Failed to load resource/i.test(m.text())) failedLoads.push(`${m.text()} ${m.location().url}`);
  });
  await page.goto(`${url}#about`);
  await expect(page.getByRole('tab', { name: 'About' }).getAttribute('aria-selected')).resolves.toBe('true');
  const devices = page.getByRole('table', { name: 'Devices' });
  await devices.waitFor({ timeout: 60000 });
  const firstPaintMs = Date.now() - e2e.spawnedAt;
  await expect(page.getByRole('heading', { name: 'Hearth', exact: true }).isVisible()).resolves.toBe(true);
  await expect(page.getByRole('list', { name: 'Backends' }).textContent()).resolves.toContain('CPU');
  await expect(devices.textContent()).resolves.toMatch(/CPU/);
  await page.screenshot({ path: path.join(SHOTS, 'browser-mode-about.png'), fullPage: true });
  fs.writeFileSync(path.join(REPO_ROOT, 'test-output', 'start-to-devices-ms.txt'), `${firstPaintMs}\n`);
  // the token left the address bar (the hash stays) and lives in this tab's sessionStorage, without a cookie
  const token = new URL(url).searchParams.get('token')!;
  expect(page.url()).toBe(`${new URL(url).origin}/#about`);
  await expect(page.evaluate(() => sessionStorage.getItem('hearth.token'))).resolves.toBe(token);
  await expect(page.context().cookies()).resolves.toEqual([]);
  // a reload still reaches main
  await page.reload();
  await page.getByRole('table', { name: 'Devices' }).waitFor({ timeout: 60000 });
  expect(page.url()).not.toContain('token');
  // the page's CSP (connect-src limited to this origin) let everything it needs through
  expect(cspViolations).toEqual([]);
  // the page declares the app icon, so the browser never asks for a /favicon.ico that is not there
  const icon = await page.evaluate(async () => {
    const href = document.querySelector<HTMLLinkElement>('link[rel="icon"]')?.href ?? '';
    const r = await fetch(href);
    return { path: new URL(href).pathname, status: r.status, type: r.headers.get('content-type') };
  });
  expect(icon).toEqual({ path: '/icon.png', status: 200, type: 'image/png' });
  expect(failedLoads).toEqual([]);
});

test('the page without its token loads, but its WebSocket is refused and it says how to get in', async () => {
  const page = await browser.newPage();
  const res = await page.goto(`${url.replace(/\?token=.*/, '')}#about`);
  expect(res?.status()).toBe(200);
  await page.getByRole('alert').filter({ hasText: /no Hearth token: open the URL Hearth printed/ }).first().waitFor({ timeout: 30000 });
  // the socket itself refuses a missing or wrong token
  const opened = (token: string) =>
    page.evaluate(
      (t) => new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/ws${t}`);
        ws.onopen = () => resolve('open');
        ws.onerror = () => resolve('refused');
      }),
      token,
    );
  await expect(opened('')).resolves.toBe('refused');
  await expect(opened('?token=wrong')).resolves.toBe('refused');
  await expect(opened(`?token=${new URL(url).searchParams.get('token')}`)).resolves.toBe('open');
});

test('browser mode keeps main.log and engine.log in <data>/logs; About offers Copy diagnostics, not Open logs folder', async () => {
  const page = await browser.newPage();
  await page.goto(`${url}#about`);
  const logs = page.getByRole('region', { name: 'Logs' });
  await logs.waitFor({ timeout: 60000 });
  await expect(logs.getByRole('button', { name: 'Copy diagnostics' }).isVisible()).resolves.toBe(true);
  await expect(logs.getByRole('button', { name: 'Open logs folder' }).count()).resolves.toBe(0);
  await expect(logs.textContent()).resolves.toContain(path.join(dataDir, 'logs'));
  const read = (name: string) => fs.readFileSync(path.join(dataDir, 'logs', name), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string });
  expect(read('main.log').some((l) => l.msg === 'browser mode started')).toBe(true);
  expect(read('engine.log').some((l) => l.msg === 'engine host started')).toBe(true);
  // the token is a secret: it never goes to a log
  const token = new URL(url).searchParams.get('token')!;
  expect(fs.readFileSync(path.join(dataDir, 'logs', 'main.log'), 'utf8')).not.toContain(token);
});
