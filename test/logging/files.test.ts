/**
 * The log files on a real disk: pino lines in <data>/logs/main.log written synchronously, rotation
 * past the size cap keeping a bounded number of files, the tail for diagnostics (info and above),
 * and llama.cpp's fragments joined into lines.
 */
import fs from 'fs';
import path from 'path';
import { execFileSync, spawnSync } from 'child_process';
import { ensureDataDir } from '../../main/paths';
import { llamaLineJoiner, LOG_FILES, MAX_MESSAGE_CHARS, LOG_LIMITS, openFileLogger, readLogTail, rotatedName, teeLogger } from '../../main/logging';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';

let dir: string;
beforeEach(() => {
  dir = tempDir('hearth-logs-');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const readJson = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('lines land in <data>/logs/main.log at once (no flush needed), as JSON with time, level and fields', () => {
  const paths = ensureDataDir(dir);
  const log = openFileLogger(paths.logs, 'main');
  expect(log.file).toBe(path.join(dir, 'logs', LOG_FILES.main));
  log.info('engine host 123 ready', { backends: ['CPU'] });
  log.debug('below the default level');
  log.warn('a warning');
  // read before close: a synchronous destination has nothing buffered
  const lines = readJson(log.file);
  expect(lines.map((l) => [l.level, l.msg])).toEqual([
    [30, 'engine host 123 ready'],
    [40, 'a warning'],
  ]);
  expect(lines[0]).toMatchObject({ backends: ['CPU'], pid: process.pid });
  expect(typeof lines[0].time).toBe('string');
  log.close();
});

test('a line logged right before the process is killed is on disk (nothing is buffered)', () => {
  // the real module bundled for a fresh node process, which logs and is killed at once: no exit
  // handler runs, so only a line already written survives
  const out = path.join(dir, 'logging.js');
  require('esbuild').buildSync({ entryPoints: [path.join(REPO_ROOT, 'main', 'logging', 'index.ts')], outfile: out, bundle: true, platform: 'node', format: 'cjs', packages: 'external', logLevel: 'error' });
  const child = spawnSync(process.execPath, ['-e', `const l=require(${JSON.stringify(out)}).openFileLogger(${JSON.stringify(dir)},'main');l.error('last words before exit');process.kill(process.pid,'SIGKILL')`], {
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: path.join(REPO_ROOT, 'node_modules') },
  });
  expect(child.signal).toBe('SIGKILL');
  expect(readJson(path.join(dir, LOG_FILES.main)).map((l) => l.msg)).toEqual(['last words before exit']);
});

test('past the size cap the file rotates: at most keep + 1 files, each within the cap, newest last', () => {
  const maxBytes = 4096;
  const keep = 2;
  const log = openFileLogger(dir, 'main', { maxBytes, keep });
  const n = 400; // ~40 KB of lines: ten times what the files may hold together
  for (let i = 0; i < n; i++) log.info(`line ${i}`, { pad: 'x'.repeat(20) });
  log.close();
  const files = fs.readdirSync(dir).sort();
  expect(files).toEqual(['main.1.log', 'main.2.log', 'main.log']);
  for (const f of files) expect(fs.statSync(path.join(dir, f)).size).toBeLessThanOrEqual(maxBytes);
  // the kept lines are the newest, in order, none lost between the files
  const kept = [rotatedName(path.join(dir, 'main.log'), 2), rotatedName(path.join(dir, 'main.log'), 1), path.join(dir, 'main.log')].flatMap((f) => readJson(f).map((l) => l.msg));
  const first = Number(String(kept[0]).split(' ')[1]);
  expect(kept).toEqual(Array.from({ length: n - first }, (_, i) => `line ${first + i}`));
  expect(kept[kept.length - 1]).toBe(`line ${n - 1}`);
  // a new logger on the same folder continues main.log and keeps the bound
  const again = openFileLogger(dir, 'main', { maxBytes, keep });
  for (let i = 0; i < 100; i++) again.info(`more ${i}`);
  again.close();
  expect(fs.readdirSync(dir).sort()).toEqual(['main.1.log', 'main.2.log', 'main.log']);
  expect(LOG_LIMITS.maxBytes * (LOG_LIMITS.keep + 1)).toBeLessThanOrEqual(32 * 1024 * 1024);
});

test('the tail for diagnostics: both files merged by time, info and above only, readable', () => {
  const main = openFileLogger(dir, 'main', { level: 'debug' });
  const engine = openFileLogger(dir, 'engine', { level: 'debug' });
  // one millisecond apart: the merge orders by the lines' times (ties keep main's first)
  const tick = () => {
    const t = Date.now();
    while (Date.now() === t);
  };
  main.info('first', { requestId: 1 });
  engine.debug('llama: a debug line that may hold what a user typed');
  tick();
  engine.warn('llama: second');
  tick();
  main.error('third');
  main.close();
  engine.close();
  fs.appendFileSync(path.join(dir, 'main.log'), 'not json\n');
  const tail = readLogTail(dir);
  expect(tail).toHaveLength(3);
  expect(tail[0]).toMatch(/^\d{4}-\d\d-\d\dT.* INFO \[main\] first \{"requestId":1\}$/);
  expect(tail[1]).toMatch(/ WARN \[engine\] llama: second$/);
  expect(tail[2]).toMatch(/ ERROR \[main\] third$/);
  expect(tail.join('\n')).not.toContain('debug line');
  expect(readLogTail(dir, { lines: 1, bytes: 64 * 1024 })).toEqual([tail[2]]);
  expect(readLogTail(path.join(dir, 'missing'))).toEqual([]);
  if (process.platform === 'win32') return;
  // what another process could plant in the shared folder under a process file's name: a FIFO (its open
  // would block this thread for good) and a link to an endless device; neither is read
  execFileSync('mkfifo', [path.join(dir, 'main-4242.log')]);
  fs.symlinkSync('/dev/zero', path.join(dir, 'engine-4243.log'));
  expect(readLogTail(dir)).toEqual(tail);
});

test("a model load's hundred llama.cpp lines do not push main's lines out of the diagnostics tail", () => {
  const main = openFileLogger(dir, 'main');
  const engine = openFileLogger(dir, 'engine');
  main.info('engine backend: CPU');
  for (let i = 0; i < 300; i++) engine.info(`llama: print_info: line ${i}`);
  const tail = readLogTail(dir, { lines: 100, bytes: 64 * 1024 });
  expect(tail.length).toBeLessThanOrEqual(100);
  expect(tail.some((l) => l.includes('[main] engine backend: CPU'))).toBe(true);
  expect(tail[tail.length - 1]).toContain('line 299');
});

test("llama.cpp's fragments are joined into lines at the level of the fragment that began them", () => {
  const got: string[] = [];
  const join = llamaLineJoiner((level, line) => got.push(`${level}:${line}`));
  join('info', 'llama_model_loader: loaded ');
  join('cont', 'meta data\nprint_info: ');
  join('cont', 'arch = llama\n');
  join('warn', 'a warning\n\n');
  join('error', 'two\nlines\n');
  expect(got).toEqual(['info:llama_model_loader: loaded meta data', 'info:print_info: arch = llama', 'warn:a warning', 'error:two', 'error:lines']);
  const a: string[] = [];
  const b: string[] = [];
  const both = teeLogger({ ...silent(), info: (m) => a.push(m) }, { ...silent(), info: (m) => b.push(m) });
  both.info('x');
  expect([a, b]).toEqual([['x'], ['x']]);
});

test('a huge message (an 8 MiB metadata value that llama.cpp prints) is cut, in one line, in the file and from the joiner', () => {
  const huge = 'x'.repeat(8 * 1024 * 1024);
  const got: string[] = [];
  const join = llamaLineJoiner((_level, line) => got.push(line));
  // llama.cpp prints it in fragments; a newline ends it, and the next line is whole again
  join('info', 'print_info: general.name = ');
  for (let i = 0; i < 8; i++) join('cont', huge.slice(i * 1024 * 1024, (i + 1) * 1024 * 1024));
  join('cont', '\nprint_info: next = 1\n');
  expect(got).toHaveLength(2);
  expect(got[0].length).toBeLessThan(MAX_MESSAGE_CHARS + 100);
  expect(got[1]).toBe('print_info: next = 1');
  const log = openFileLogger(dir, 'main');
  log.info(huge);
  const size = fs.statSync(path.join(dir, LOG_FILES.main)).size;
  expect(size).toBeLessThan(MAX_MESSAGE_CHARS + 1024);
  expect(fs.readFileSync(path.join(dir, LOG_FILES.main), 'utf8')).toContain('more characters)');
});

function silent() {
  return { debug() {}, info(_m: string) {}, warn() {}, error() {} };
}

test('the logs folder deleted while Hearth runs: logging goes on, and the next rotation brings the folder back', () => {
  const logs = path.join(dir, 'logs');
  const log = openFileLogger(logs, 'main', { maxBytes: 2048, keep: 1 });
  log.info('before');
  fs.rmSync(logs, { recursive: true, force: true });
  for (let i = 0; i < 100; i++) log.info(`after ${i}`);
  log.close();
  const msgs = readJson(path.join(logs, 'main.log')).map((l) => l.msg);
  expect(msgs[msgs.length - 1]).toBe('after 99');
  expect(fs.statSync(path.join(logs, 'main.log')).size).toBeLessThanOrEqual(2048);
});
