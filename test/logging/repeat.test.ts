/**
 * Failed-call log lines are rate-limited (issue 12, left item 6b): a page flooding calls that fail
 * fills main.log with a bounded number of lines per (channel, code) and one "N similar lines
 * suppressed" line per window. Real Services.handle (validation, dispatch, error mapping) and the
 * real pino logger writing main.log in a temp folder; the failing handlers throw the errors the real
 * services throw (model_unknown, and a bug's `internal`). Jest's fake clock stands in for the minute
 * a window lasts (the limiter's own timer writes the summary when it is advanced).
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { FileLogger, LOG_FILES, LOG_REPEAT_LIMITS, openFileLogger, RepeatLimiter } from '../../main/logging';
import { modelUnknown } from '../../main/models/library';
import { ensureDataDir } from '../../main/paths';
import { Services } from '../../main/services';
import { errorOf, tempDir } from '../helpers/engine';

type Line = { level: number; msg: string; code?: string; suppressed?: number };

let dir: string;
let log: FileLogger;
beforeEach(() => {
  dir = tempDir('hearth-repeat-');
  log = openFileLogger(path.join(dir, 'logs'), 'main', { level: 'debug' });
});
afterEach(() => {
  jest.useRealTimers();
  log.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const lines = (): Line[] =>
  fs
    .readFileSync(path.join(dir, 'logs', LOG_FILES.main), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

test('a flood of failing calls writes a bounded number of lines per (channel, code), then one summary per window', async () => {
  jest.useFakeTimers();
  const limits = LOG_REPEAT_LIMITS;
  // the engine is never started: these handlers fail before needing it
  const services = new Services({ engine: new EngineClient(), paths: ensureDataDir(dir), appVersion: '0', logger: log });
  services.register({
    'models.settings.get': () => {
      throw modelUnknown();
    },
    'models.load': () => {
      throw new Error('a bug'); // becomes `internal`, logged as an error
    },
  });
  const N = 2000;
  const answers = await Promise.all([
    ...Array.from({ length: N }, (_, i) => errorOf(services.handle('models.settings.get', { path: `/etc/x${i}` }))),
    ...Array.from({ length: N }, () => errorOf(services.handle('models.load', { path: '/x.gguf' }))),
  ]);
  // every caller still gets its error: only the log is limited
  expect(answers.filter((a) => a.code === 'model_unknown')).toHaveLength(N);
  expect(answers.filter((a) => a.code === 'internal')).toHaveLength(N);
  const during = lines();
  const count = (msg: string) => during.filter((l) => l.msg === msg).length;
  expect(count('ipc models.settings.get failed')).toBe(limits.lines);
  expect(count('ipc models.load failed')).toBe(limits.lines);
  // the debug line with the message goes with its warn line, or not at all
  expect(during.filter((l) => l.msg.startsWith('ipc models.settings.get failed: ')).length).toBe(limits.lines);
  expect(during.length).toBe(4 * limits.lines);

  // the window ends: one summary per key, at the key's level, with the code and the count
  jest.advanceTimersByTime(limits.windowMs - 1);
  expect(lines()).toHaveLength(during.length);
  jest.advanceTimersByTime(1);
  const summaries = lines().filter((l) => l.msg.includes('similar lines suppressed'));
  expect(summaries.map((l) => [l.level, l.msg, l.code, l.suppressed])).toEqual([
    [40, `ipc models.settings.get failed: ${N - limits.lines} similar lines suppressed in 60 s`, 'model_unknown', N - limits.lines],
    [50, `ipc models.load failed: ${N - limits.lines} similar lines suppressed in 60 s`, 'internal', N - limits.lines],
  ]);
  // a new window: the next failure is logged again
  await errorOf(services.handle('models.settings.get', { path: '/etc/y' }));
  expect(lines().filter((l) => l.msg === 'ipc models.settings.get failed')).toHaveLength(limits.lines + 1);

  // lines still held back at shutdown are counted in one last line
  for (let i = 0; i < 30; i++) await errorOf(services.handle('models.settings.get', { path: '/etc/z' }));
  jest.advanceTimersByTime(5_000);
  services.close();
  expect(lines().at(-1)).toMatchObject({ msg: `ipc models.settings.get failed: ${30 + 1 - limits.lines} similar lines suppressed in 5.0 s`, suppressed: 30 + 1 - limits.lines });
  jest.useRealTimers();
});

test('keys past the table bound share one count; the table never grows past it', () => {
  const limiter = new RepeatLimiter(log, { lines: 1, windowMs: 60_000, keys: 3 }, () => 5_000);
  for (let k = 0; k < 1000; k++) for (let i = 0; i < 3; i++) limiter.log(`key ${k}`, 'warn', `line ${k}`, { k }, { k });
  limiter.flush(6_000);
  const all = lines();
  // three keys with a line each, the shared bucket's first line, then the summaries
  expect(all.filter((l) => !l.msg.includes('suppressed')).map((l) => l.msg)).toEqual(['line 0', 'line 1', 'line 2', 'line 3']);
  expect(all.filter((l) => l.msg.includes('suppressed')).map((l) => l.msg)).toEqual([
    'line 0: 2 similar lines suppressed in 1.0 s',
    'line 1: 2 similar lines suppressed in 1.0 s',
    'line 2: 2 similar lines suppressed in 1.0 s',
    'log lines: 2990 similar lines suppressed in 1.0 s',
  ]);
});
