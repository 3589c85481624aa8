/**
 * Browser mode for the end-to-end suites: Debian's Chromium through playwright-core, and `npm start`
 * (no display, so it serves the UI) in its own process group, so npm, the server and the engine host
 * stop together.
 */
import { ChildProcess, spawn } from 'child_process';
import path from 'path';
import { Browser, chromium, Page } from 'playwright-core';
import { REPO_ROOT } from './models';

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

/** A screenshot of the page as test-output/screenshots/e2e-NAME.png. */
export const SHOTS = path.join(REPO_ROOT, 'test-output', 'screenshots');
export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `e2e-${name}.png`) });
}
