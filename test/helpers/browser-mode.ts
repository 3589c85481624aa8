/**
 * Browser mode for the end-to-end suites: Debian's Chromium through playwright-core, and `npm start`
 * (no display, so it serves the UI) in its own process group, so npm, the server and the engine host
 * stop together. openBrowserMode sets the three up over a fresh data folder.
 */
import { ChildProcess, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { Browser, chromium, Locator, Page } from 'playwright-core';
import { tempDir } from './engine';
import { copyModel, REPO_ROOT } from './models';
import { dataPaths } from '../../main/paths';
import { Store } from '../../main/store';
import type { SamplingParams } from '../../main/store/types';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'],
  });
}

/** `npm start` on a free port with this data folder; `url` resolves with the `Hearth UI:` URL it prints. */
export function startBrowserMode(dataDir: string, env: NodeJS.ProcessEnv = {}): { process: ChildProcess; url: Promise<string> } {
  const proc = spawn('npm', ['start', '--silent', '--', '--port', '0', '--data-dir', dataDir], {
    cwd: REPO_ROOT,
    env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-8000));
  proc.stderr!.on('data', keep);
  const url = new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      keep(d);
      const m = /^Hearth UI: (\S+)$/m.exec(log);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`npm start exited ${code}: ${log}`)));
  });
  return { process: proc, url };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM to the process group, SIGKILL after 10 s; true when nothing of it is left running. */
export async function stopProcessGroup(pgid: number | undefined): Promise<boolean> {
  if (!pgid) return true;
  if (groupAlive(pgid)) {
    process.kill(-pgid, 'SIGTERM');
    const end = Date.now() + 10_000;
    while (groupAlive(pgid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
  }
  return !groupAlive(pgid);
}

/** Polls `predicate` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function until(what: string, predicate: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface BrowserMode {
  dataDir: string;
  browser: Browser;
  server: ChildProcess;
  /** the `Hearth UI:` URL (with its token) */
  url: string;
  /** Date.now() when npm start was spawned (Chromium was already up), and when it printed its URL */
  spawnedAt: number;
  urlAt: number;
  /** A page of the suites' size. */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  /** Closes Chromium, stops the server's process group and removes the data folder; true when nothing of the server is left running. */
  close(): Promise<boolean>;
}

/**
 * Chromium, then `npm start` in browser mode over a fresh data folder (prefix: its name's start)
 * holding `models` (copied in under their names) and whatever `prepare` writes before the server
 * opens it; resolves once the server printed its URL. A failed or silent start (60 s) cleans up after itself.
 */
export async function openBrowserMode(opts: { prefix?: string; models?: string[]; prepare?(dataDir: string): void; env?: NodeJS.ProcessEnv } = {}): Promise<BrowserMode> {
  fs.mkdirSync(SHOTS, { recursive: true });
  const dataDir = tempDir(opts.prefix);
  let browser: Browser | undefined;
  let server: ChildProcess | undefined;
  const close = async (): Promise<boolean> => {
    await browser?.close();
    const stopped = await stopProcessGroup(server?.pid);
    fs.rmSync(dataDir, { recursive: true, force: true });
    return stopped;
  };
  try {
    if (opts.models?.length) {
      fs.mkdirSync(path.join(dataDir, 'models'));
      for (const m of opts.models) copyModel(m, path.join(dataDir, 'models', path.basename(m)));
    }
    opts.prepare?.(dataDir);
    browser = await launchChromium();
    const spawnedAt = Date.now();
    const started = startBrowserMode(dataDir, opts.env);
    server = started.process;
    // within the suites' hook timeouts, so that a server that never answers is still stopped here
    let timer: NodeJS.Timeout | undefined;
    const url = await Promise.race([
      started.url,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('npm start printed no URL within 60 s')), 60_000))),
    ]).finally(() => clearTimeout(timer));
    const b = browser;
    return {
      dataDir,
      browser: b,
      server,
      url,
      spawnedAt,
      urlAt: Date.now(),
      newPage: (viewport = { width: 1280, height: 800 }) => b.newPage({ viewport }),
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Opens the Settings dialog on one of its tabs; resolves with the dialog once that tab is selected. */
export async function openSettings(page: Page, section: string): Promise<Locator> {
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await dialog.getByRole('tab', { name: section, exact: true }).click();
  await until(`the ${section} tab`, async () => (await dialog.getByRole('tab', { name: section, exact: true }).getAttribute('aria-selected')) === 'true');
  return dialog;
}

/** A screenshot of the page as test-output/screenshots/e2e-NAME.png. */
export const SHOTS = path.join(REPO_ROOT, 'test-output', 'screenshots');
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `e2e-${name}.png`) });
}

/** The engine host processes of the server's process group (npm start's; the backend probes excluded), from /proc. */
export function engineHosts(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // after "pid (comm) ": state, ppid, pgrp
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (pgrp === pgid && argv.some((a) => a.endsWith('engine-host.js')) && !argv.includes('--probe')) pids.push(Number(entry));
    } catch {
      /* the process ended meanwhile */
    }
  }
  return pids;
}

/** A page on the app once it is ready to chat: its message box shows and the model picker is enabled. */
export async function openReadyPage(e2e: BrowserMode, viewport?: { width: number; height: number }, timeoutMs = 60_000): Promise<Page> {
  const page = await e2e.newPage(viewport);
  await page.goto(e2e.url);
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor({ timeout: timeoutMs });
  await until('the model picker to be enabled', () => page.getByRole('combobox', { name: 'Model' }).isEnabled(), timeoutMs);
  return page;
}

/** Types `text` in the message box and sends it; resolves with the reply's article once it shows. */
export async function sendMessage(page: Page, text: string, timeoutMs = 60_000): Promise<Locator> {
  const log = page.getByRole('log', { name: 'Messages' });
  const last = () => log.getByRole('article').last();
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  await log.getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: text }).last().waitFor({ timeout: timeoutMs });
  await until('the reply', async () => /^Reply from /.test((await last().getAttribute('aria-label').catch(() => null)) ?? ''), timeoutMs);
  return last();
}

/** An until() for a suite's page that takes a screenshot when it times out (test-output/screenshots/e2e-<name>-timeout.png). */
export function untilWithShot(page: () => Page, name: string, defaultMs = 60_000): (what: string, predicate: () => Promise<boolean>, timeoutMs?: number) => Promise<void> {
  return async (what, predicate, timeoutMs = defaultMs) => {
    try {
      await until(what, predicate, timeoutMs);
    } catch (e) {
      await shot(page(), `${name}-timeout`).catch(() => undefined);
      throw e;
    }
  };
}

/** Sends `text` and waits, with `wait`, until reply number `replyCount` finished (its metrics show, no Stop button); resolves with it. */
export async function sendAndFinish(page: Page, text: string, replyCount: number, wait: (what: string, predicate: () => Promise<boolean>) => Promise<void>, timeoutMs = 60_000): Promise<Locator> {
  const log = page.getByRole('log', { name: 'Messages' });
  const replies = () => log.getByRole('article', { name: /^Reply from / });
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send message', exact: true }).click();
  await log.getByRole('article', { name: 'Your message', exact: true }).filter({ hasText: text }).last().waitFor({ timeout: timeoutMs });
  await wait(
    `reply ${replyCount} to finish`,
    async () =>
      (await replies().count()) === replyCount &&
      (await replies().last().getByRole('note', { name: 'Reply metrics' }).count()) === 1 &&
      (await page.getByRole('button', { name: 'Stop generating', exact: true }).count()) === 0,
  );
  return replies().last();
}

/**
 * A data folder for a browser-mode suite: these models copied into its models folder (source → name there),
 * and the chat defaults changed as given (short replies: the tiny models' random weights write until the
 * context is full).
 */
export function seedDataDir(dataDir: string, models: Record<string, string>, chatDefaults: Partial<SamplingParams>): void {
  const folder = path.join(dataDir, 'models');
  fs.mkdirSync(folder, { recursive: true });
  for (const [name, from] of Object.entries(models)) copyModel(from, path.join(folder, name));
  const store = Store.open(dataPaths(dataDir).database);
  try {
    store.settings.update({ chatDefaults: { ...store.settings.get('chatDefaults'), ...chatDefaults } });
  } finally {
    store.close();
  }
}
