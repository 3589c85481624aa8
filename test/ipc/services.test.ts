/**
 * Services.handle, the one entry of the IPC contract: every failure leaves it as an IpcError whose code
 * is in IPC_ERROR_CODES. The engine is never called here (the one handler used is replaced), so an empty
 * object stands in for it.
 */
import { EngineClient } from '../../main/engine/client';
import { EngineError } from '../../main/engine/protocol';
import { type AppInfo, IPC_ERROR_CODES, IpcError } from '../../main/ipc/contract';
import { dataPaths } from '../../main/paths';
import { Services, toIpcError } from '../../main/services';
import { StoreError } from '../../main/store';
import { errorOf } from '../helpers/engine';

/** A logger keeping each line with its level and fields. */
function levelLogger() {
  const lines: { level: string; msg: string; meta?: Record<string, unknown> }[] = [];
  const at = (level: string) => (msg: string, meta?: Record<string, unknown>) => lines.push({ level, msg, meta });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function servicesThrowing(e: unknown) {
  const logger = levelLogger();
  const s = new Services({ engine: {} as EngineClient, paths: dataPaths('/nonexistent'), appVersion: '0.0.0-test', logger });
  s.register({
    'app.info': () => {
      throw e;
    },
  });
  return { s, logger };
}

test('a store or engine error keeps its code when the contract knows it', async () => {
  for (const [e, code] of [
    [new StoreError('too_large', 'content over its limit'), 'too_large'],
    [new StoreError('not_found', 'no such thread'), 'not_found'],
    [new EngineError('context_overflow', 'the prompt is too long'), 'context_overflow'],
    [new IpcError('busy', 'a reply is being written'), 'busy'],
  ] as const) {
    const { s, logger } = servicesThrowing(e);
    const err = await errorOf(s.handle('app.info', {}));
    expect(err).toEqual({ code, message: e.message });
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(logger.lines.find((l) => l.level === 'warn')?.meta?.code).toBe(code);
  }
});

test('any other error is internal (and logged), never a foreign code such as SQLITE_ERROR', async () => {
  const sqlite = Object.assign(new Error('unterminated string'), { code: 'SQLITE_ERROR' });
  for (const e of [sqlite, new TypeError('x is undefined'), new EngineError('invalid_argument', 'bad params'), 'a string', null]) {
    const { s, logger } = servicesThrowing(e);
    const err = await errorOf(s.handle('app.info', {}));
    expect(err.code).toBe('internal');
    // logged as an error, with the code only (a message may quote what the user typed)
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([{ level: 'error', msg: 'ipc app.info failed', meta: { code: 'internal', ms: expect.any(Number) } }]);
    expect(toIpcError(e)).toBeInstanceOf(IpcError);
  }
});

test('a response that fails its schema is internal; bad requests and channels keep their codes', async () => {
  const logger = levelLogger();
  const s = new Services({ engine: {} as EngineClient, paths: dataPaths('/nonexistent'), appVersion: '0.0.0-test', logger });
  s.register({ 'app.info': () => ({ appVersion: 1 }) as never });
  expect((await errorOf(s.handle('app.info', {}))).code).toBe('internal');
  expect((await errorOf(s.handle('app.info', { extra: 1 }))).code).toBe('invalid_input');
  expect((await errorOf(s.handle('no.such.channel', {}))).code).toBe('unknown_channel');
  expect((await errorOf(s.handle('threads.list', {}))).code).toBe('unknown_channel'); // not registered here
  expect(new Set(IPC_ERROR_CODES).size).toBe(IPC_ERROR_CODES.length);
});

test('app.info names its instance: the same for one Services, another for the next (a restart composes new ones)', async () => {
  const make = () => new Services({ engine: {} as EngineClient, paths: dataPaths('/nonexistent'), appVersion: '0.0.0-test', logger: levelLogger() });
  const instanceOf = async (s: Services) => ((await s.handle('app.info', {})) as AppInfo).instance;
  const one = make();
  const first = await instanceOf(one);
  const again = await instanceOf(one);
  const next = await instanceOf(make());
  expect(typeof first).toBe('string');
  expect(again).toBe(first);
  expect(next).not.toBe(first);
});

test('a closed Services (an App closed for a restart or at quit) answers every call `closed`, its handler not run', async () => {
  let ran = 0;
  const s = new Services({ engine: {} as EngineClient, paths: dataPaths('/nonexistent'), appVersion: '0.0.0-test', logger: levelLogger() });
  s.register({ 'data.folder': () => (ran++, { folder: '/x', canRestart: false }) });
  expect(await s.handle('data.folder', {})).toEqual({ folder: '/x', canRestart: false });
  s.close();
  expect(await errorOf(s.handle('data.folder', {}))).toMatchObject({ code: 'closed', message: expect.stringMatching(/restarting or closing/) });
  expect(ran).toBe(1);
});
