/**
 * Two processes on one data folder (issue 12, left item 6c): the app and `hearth serve`, two serves,
 * and the engine hosts of each all log into <data>/logs. Real child processes running the real
 * logging module (bundled for node) write at once, enough to rotate many times: one owns main.log
 * (through main.log.lock), the other writes main-<pid>.log; no line is lost, none is cut or
 * interleaved with another, no file holds both processes' lines. A dead owner's lock is taken over;
 * a living owner's is not; the files of ended processes are pruned to a bound.
 */
import fs from 'fs';
import path from 'path';
import { spawn, spawnSync } from 'child_process';
import { LOG_LIMITS, processFileName, readLogTail, rotatedName } from '../../main/logging';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';

let dir: string;
let logs: string;
let bundle: string;
let child: string;

beforeAll(() => {
  dir = tempDir('hearth-shared-logs-');
  bundle = path.join(dir, 'logging.js');
  require('esbuild').buildSync({ entryPoints: [path.join(REPO_ROOT, 'main', 'logging', 'index.ts')], outfile: bundle, bundle: true, platform: 'node', format: 'cjs', packages: 'external', logLevel: 'error' });
  // a writer: opens the logger, says which file it got, waits for "go" (so both write at once), writes N lines
  child = path.join(dir, 'writer.js');
  fs.writeFileSync(
    child,
    `const fs = require('fs'), path = require('path');
const { openFileLogger } = require(${JSON.stringify(bundle)});
const [logs, writer, n, maxBytes, keep] = process.argv.slice(2);
const l = openFileLogger(logs, 'main', { maxBytes: Number(maxBytes), keep: Number(keep) });
fs.writeFileSync(path.join(logs, '..', 'ready-' + writer), path.basename(l.file));
const end = Date.now() + 30000;
while (!fs.existsSync(path.join(logs, '..', 'go')) && Date.now() < end);
for (let i = 0; i < Number(n); i++) l.info('line', { writer, i, pad: 'x'.repeat(40 + (i % 50)) });
l.close();
`,
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  logs = path.join(dir, 'logs');
  fs.rmSync(logs, { recursive: true, force: true });
  for (const f of fs.readdirSync(dir)) if (f.startsWith('ready-') || f === 'go') fs.rmSync(path.join(dir, f));
  fs.mkdirSync(logs);
});

const env = { ...process.env, NODE_PATH: path.join(REPO_ROOT, 'node_modules') };

function startWriter(writer: string, n: number, maxBytes: number, keep: number) {
  const p = spawn(process.execPath, [child, logs, writer, String(n), String(maxBytes), String(keep)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stderr: string; pid: number }>((resolve) => p.on('exit', (code) => resolve({ code, stderr, pid: p.pid! })));
  return { pid: p.pid!, exited };
}

/** The content of `file` once it has some (the writer creates it, then writes: an empty read is too early). */
async function waitFor(file: string): Promise<string> {
  const end = Date.now() + 30_000;
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (text) return text;
    if (Date.now() > end) throw new Error(`no ${file}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Line = { writer: string; i: number; msg: string };

/** The lines of a file chain, oldest copy first; every line must be whole JSON. */
function chain(file: string, keep: number): { lines: Line[]; files: string[] } {
  const files = [...Array.from({ length: keep }, (_, k) => rotatedName(file, keep - k)), file].filter((f) => fs.existsSync(f));
  const lines = files.flatMap((f) =>
    fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Line),
  );
  return { lines, files };
}

/** A pid no process has: one that just ended. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

test('two processes writing at once: one owns main.log, the other its own file; nothing lost, cut, mixed or clobbered', async () => {
  const n = 3000;
  const maxBytes = 16 * 1024;
  const keep = 40; // enough copies to keep every line, so a lost line would show
  const a = startWriter('a', n, maxBytes, keep);
  const b = startWriter('b', n, maxBytes, keep);
  const files = { a: await waitFor(path.join(dir, 'ready-a')), b: await waitFor(path.join(dir, 'ready-b')) };
  fs.writeFileSync(path.join(dir, 'go'), '');
  const [ea, eb] = await Promise.all([a.exited, b.exited]);
  expect([ea.code, ea.stderr, eb.code, eb.stderr]).toEqual([0, '', 0, '']);

  // exactly one owns the shared name; the other got <name>-<its pid>.log
  const owner = files.a === 'main.log' ? 'a' : 'b';
  const other = owner === 'a' ? 'b' : 'a';
  expect(files[owner]).toBe('main.log');
  expect(files[other]).toBe(path.basename(processFileName(path.join(logs, 'main.log'), other === 'a' ? a.pid : b.pid)));

  for (const [writer, file] of [[owner, path.join(logs, 'main.log')], [other, path.join(logs, files[other])]] as const) {
    const c = chain(file, keep);
    expect(c.files.length).toBeGreaterThan(5); // it rotated, many times
    for (const f of c.files) expect(fs.statSync(f).size).toBeLessThanOrEqual(maxBytes);
    // only this writer's lines, every one of them, in order
    expect(new Set(c.lines.map((l) => l.writer))).toEqual(new Set([writer]));
    expect(c.lines.map((l) => l.i)).toEqual(Array.from({ length: n }, (_, i) => i));
  }
  // nothing else in the folder: the chains, and no lock left behind by either
  const expected = new Set([...chain(path.join(logs, 'main.log'), keep).files, ...chain(path.join(logs, files[other]), keep).files].map((f) => path.basename(f)));
  expect(new Set(fs.readdirSync(logs))).toEqual(expected);
  // diagnostics read both current files: the owner's and the other process's (labelled with its pid)
  const tail = readLogTail(logs, { lines: 10_000, bytes: 1 << 20 });
  expect(tail.some((l) => l.includes('[main] line'))).toBe(true);
  expect(tail.some((l) => l.includes(`[${path.basename(files[other], '.log')}] line`))).toBe(true);
});

test("a dead owner's lock is taken over; a living owner's is not", async () => {
  fs.writeFileSync(path.join(logs, 'main.log.lock'), `${deadPid()}\n`);
  const a = startWriter('a', 10, 4096, 2);
  expect(await waitFor(path.join(dir, 'ready-a'))).toBe('main.log');
  fs.writeFileSync(path.join(dir, 'go'), '');
  expect((await a.exited).code).toBe(0);
  expect(fs.existsSync(path.join(logs, 'main.log.lock'))).toBe(false); // released at close

  // a lock naming a running process (this one) stays its own
  fs.rmSync(path.join(dir, 'go'));
  fs.writeFileSync(path.join(logs, 'main.log.lock'), `${process.pid}\n`);
  const b = startWriter('b', 10, 4096, 2);
  expect(await waitFor(path.join(dir, 'ready-b'))).toBe(`main-${b.pid}.log`);
  fs.writeFileSync(path.join(dir, 'go'), '');
  expect((await b.exited).code).toBe(0);
  expect(fs.readFileSync(path.join(logs, 'main.log.lock'), 'utf8')).toBe(`${process.pid}\n`);
  expect(chain(path.join(logs, `main-${b.pid}.log`), 2).lines.map((l) => l.i)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  expect(chain(path.join(logs, 'main.log'), 2).lines.every((l) => l.writer === 'a')).toBe(true);
});

test('the own files of ended processes are pruned to the last few when an owner starts', async () => {
  const ended = Array.from({ length: LOG_LIMITS.endedProcesses + 3 }, deadPid);
  ended.forEach((pid, k) => {
    for (const f of [`main-${pid}.log`, `main-${pid}.1.log`]) {
      fs.writeFileSync(path.join(logs, f), '{}\n');
      const t = new Date(Date.now() - (ended.length - k) * 60_000); // the later in the list, the newer
      fs.utimesSync(path.join(logs, f), t, t);
    }
  });
  fs.writeFileSync(path.join(logs, `main-${process.pid}.log`), '{}\n'); // a running process's file: kept
  fs.writeFileSync(path.join(logs, 'engine-12.log'), '{}\n'); // another name: not this logger's business
  const a = startWriter('a', 1, 4096, 2);
  expect(await waitFor(path.join(dir, 'ready-a'))).toBe('main.log');
  fs.writeFileSync(path.join(dir, 'go'), '');
  expect((await a.exited).code).toBe(0);
  const kept = ended.slice(-LOG_LIMITS.endedProcesses).flatMap((pid) => [`main-${pid}.log`, `main-${pid}.1.log`]);
  expect(fs.readdirSync(logs).sort()).toEqual(['engine-12.log', 'main.log', `main-${process.pid}.log`, ...kept].sort());
});

describe('a lock that is not a plain file of this user is never read or moved: the logger is not its owner', () => {
  const posix = process.platform === 'win32' ? test.skip : test;

  /** Starts a writer with `plant` at main.log.lock; it must open promptly with its own file, the lock left as it was. */
  async function withPlantedLock(plant: (lock: string) => void, check: (lock: string) => void) {
    const lock = path.join(logs, 'main.log.lock');
    plant(lock);
    const a = startWriter('a', 5, 4096, 2);
    try {
      // before the fix, a FIFO blocked the read for good and /dev/zero read until memory ran out: no ready file
      expect(await waitFor(path.join(dir, 'ready-a'))).toBe(`main-${a.pid}.log`);
      fs.writeFileSync(path.join(dir, 'go'), '');
      const e = await a.exited;
      expect([e.code, e.stderr]).toEqual([0, '']);
      expect(chain(path.join(logs, `main-${a.pid}.log`), 2).lines.map((l) => l.i)).toEqual([0, 1, 2, 3, 4]);
      expect(fs.existsSync(path.join(logs, 'main.log'))).toBe(false);
      check(lock);
      expect(fs.readdirSync(logs).filter((f) => f.includes('.stale'))).toEqual([]);
    } finally {
      if (pidAliveHere(a.pid)) process.kill(a.pid, 'SIGKILL');
    }
  }

  posix('a FIFO', async () => {
    await withPlantedLock(
      (lock) => expect(spawnSync('mkfifo', [lock]).status).toBe(0),
      (lock) => expect(fs.lstatSync(lock).isFIFO()).toBe(true),
    );
  });

  posix('a symbolic link to /dev/zero', async () => {
    await withPlantedLock(
      (lock) => fs.symlinkSync('/dev/zero', lock),
      (lock) => expect(fs.readlinkSync(lock)).toBe('/dev/zero'),
    );
  });

  test('a folder', async () => {
    await withPlantedLock(
      (lock) => fs.mkdirSync(lock),
      (lock) => expect(fs.lstatSync(lock).isDirectory()).toBe(true),
    );
  });
});

function pidAliveHere(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
