/** Builds EngineClients for tests: the real host process (dist/engine-host.js) with the real addon. */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { EngineClient, EngineClientOptions } from '../../main/engine/client';
import { HostStats } from '../../main/engine/protocol';
import type { Logger } from '../../main/logging';
import { REPO_ROOT } from './models';

export const HOST_SCRIPT = path.join(REPO_ROOT, 'dist', 'engine-host.js');
export const ADDON = path.join(REPO_ROOT, 'build', 'bin', 'hearth.node');

export function makeEngine(env: NodeJS.ProcessEnv = {}, logger?: Logger, opts: EngineClientOptions = {}): EngineClient {
  return new EngineClient({ hostScript: HOST_SCRIPT, env: { HEARTH_TEST_HOOKS: '1', ...env }, logger, ...opts });
}

/** What the host holds and has done (native models and contexts alive, loads and generations started, RSS). */
export async function hostStats(engine: EngineClient): Promise<HostStats> {
  return HostStats.parse(await engine.request('stats', {}));
}

/** Kills the engine host with `signal` and resolves once the client noticed (a new host is then starting). */
export function killHost(engine: EngineClient, signal: NodeJS.Signals = 'SIGKILL'): Promise<string> {
  const noticed = new Promise<string>((resolve) => {
    const prev = engine.onCrash;
    engine.onCrash = (how) => {
      engine.onCrash = prev;
      resolve(how);
    };
  });
  process.kill(engine.pid!, signal);
  return noticed;
}

/** Whether a process with this pid is still running. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A logger that keeps every line (llama.cpp's log arrives through it as "llama: ..."). */
export function collectingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (m: string) => lines.push(m);
  return { lines, debug: push, info: push, warn: push, error: push };
}

export function tempDir(prefix = 'hearth-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Rejections carry a code; this returns it (or fails the test if the promise resolved). */
export async function errorOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { code: err.code ?? 'none', message: err.message ?? '' };
  }
  throw new Error('expected the promise to reject');
}

/** What `fn` throws (or fails the test if it returned), as it was thrown. */
export function thrownBy<E = Error>(fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    return e as E;
  }
  throw new Error('expected it to throw');
}

/** Runs `use`, then closes each of `closers` in order, also when `use` throws (a test's services, then its engine). */
export async function closingAfter<T>(closers: readonly { close(): Promise<unknown> }[], use: () => Promise<T>): Promise<T> {
  try {
    return await use();
  } finally {
    for (const c of closers) await c.close();
  }
}

/** What `fn` gives once it is truthy (asked every 25 ms); an error naming `what` after `ms`. */
export async function untilValue<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
