/** Builds EngineClients for tests: the real host process (dist/engine-host.js) with the real addon. */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import type { Logger } from '../../main/logging';
import { REPO_ROOT } from './models';

export const HOST_SCRIPT = path.join(REPO_ROOT, 'dist', 'engine-host.js');
export const ADDON = path.join(REPO_ROOT, 'build', 'bin', 'hearth.node');

export function makeEngine(env: NodeJS.ProcessEnv = {}, logger?: Logger): EngineClient {
  return new EngineClient({ hostScript: HOST_SCRIPT, env: { HEARTH_TEST_HOOKS: '1', ...env }, logger });
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
