/**
 * The release CPU set (every CPU variant, no GPU backend) in build-variants/bin, built on demand by
 * scripts/build-native.js --cpu-variants (a no-op but for cmake's check when up to date). Suites
 * that need it share one build: a lock folder keeps two jest workers from building it at once.
 */
import { spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { REPO_ROOT } from './models';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { VARIANTS_DIR } = require('../../scripts/build-native.js') as { VARIANTS_DIR: string };
export const VARIANTS_BIN = path.join(VARIANTS_DIR, 'bin');
const BUILD_LOG = path.join(REPO_ROOT, 'test-output', 'build-variants.log');
const LOCK = path.join(REPO_ROOT, 'test-output', 'build-variants.lock');

/** Builds build-variants/; the output goes to test-output/build-variants.log. */
export async function buildVariants(): Promise<void> {
  fs.mkdirSync(path.dirname(BUILD_LOG), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch {
      // another suite is building; a lock left by a killed run is older than any build
      try {
        if (Date.now() - fs.statSync(LOCK).mtimeMs > 60 * 60_000) fs.rmSync(LOCK, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    const log = fs.openSync(BUILD_LOG, 'w');
    const t0 = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-native.js'), '--cpu-variants'], { cwd: REPO_ROOT, stdio: ['ignore', log, log] });
      child.on('error', () => resolve(null));
      child.on('exit', (c) => resolve(c));
    });
    fs.closeSync(log);
    if (code !== 0) throw new Error(`building build-variants/ failed (exit ${code}); the end of ${BUILD_LOG}:\n${fs.readFileSync(BUILD_LOG, 'utf8').slice(-4000)}`);
    process.stdout.write(`build-variants/ ready in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}
