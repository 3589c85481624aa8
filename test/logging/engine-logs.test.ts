/**
 * Logs of the real parts: main's services (composeApp) writing main.log, the real engine host writing
 * engine.log with llama.cpp's own lines, crash reasons recorded when the host dies (SIGKILL, abort),
 * no prompt text at the default level, and app.diagnostics over browser mode's real WebSocket.
 */
import fs from 'fs';
import path from 'path';
import WebSocket from 'ws';
import { BrowserServer } from '../../main/browser/server';
import { App, composeApp } from '../../main/compose';
import { EngineClient } from '../../main/engine/client';
import { Diagnostics, EventOf, MessageDTO } from '../../main/ipc/contract';
import { FileLogger, LOG_FILES, openFileLogger } from '../../main/logging';
import { DataPaths, ensureDataDir } from '../../main/paths';
import { until } from '../helpers/browser-mode';
import { errorOf, HOST_SCRIPT, tempDir } from '../helpers/engine';
import { REPO_ROOT, TINY_SPM } from '../helpers/models';

/** Words no log line has any other reason to contain. */
const PROMPT = 'Quokka marmalade whispers 4417 under the violet lighthouse';

let dir: string;
let paths: DataPaths;
let mainLog: FileLogger;
let engine: EngineClient;
let app: App;
let server: BrowserServer;
let modelPath: string;

type Line = Record<string, any> & { level: number; msg: string };
const lines = (name: keyof typeof LOG_FILES): Line[] => {
  const file = path.join(paths.logs, LOG_FILES[name]);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
};
/** Everything under <data>/logs, every file, as one string. */
const allLogText = () => fs.readdirSync(paths.logs).map((f) => fs.readFileSync(path.join(paths.logs, f), 'utf8')).join('\n');

beforeAll(async () => {
  dir = tempDir();
  paths = ensureDataDir(dir);
  modelPath = path.join(paths.models, 'tiny.gguf');
  fs.copyFileSync(TINY_SPM, modelPath);
  // what the app and `hearth serve` do: main.log for main, the host writes engine.log (default level: info)
  mainLog = openFileLogger(paths.logs, 'main');
  engine = new EngineClient({ hostScript: HOST_SCRIPT, env: { HEARTH_TEST_HOOKS: '1', HEARTH_LOG_LEVEL: '' }, logger: mainLog, logDir: paths.logs });
  app = composeApp({ paths, engine, appVersion: '0.0.0-test', logger: mainLog });
  app.store.settings.update({ chatDefaults: { ...app.store.settings.get('chatDefaults'), maxTokens: 16 } });
  server = new BrowserServer({ services: app.services, host: '127.0.0.1', port: 0, rendererDir: path.join(REPO_ROOT, 'dist', 'renderer'), logger: mainLog });
  await server.listen();
});

afterAll(async () => {
  await server.close();
  await app.close();
  await engine.close();
  mainLog.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test("llama.cpp's own log reaches engine.log when the real host loads a model", async () => {
  await app.services.handle('models.load', { path: modelPath });
  await until('llama.cpp lines in engine.log', async () => lines('engine').some((l) => /^llama: llama_context: /.test(l.msg)), 10_000);
  const engineLines = lines('engine');
  expect(engineLines.find((l) => l.msg === 'engine host started')).toMatchObject({ level: 30, backends: expect.arrayContaining(['CPU']) });
  // the model loader's and the context's lines, at info and above only (the default level)
  expect(engineLines.some((l) => /^llama: llama_model_loader: /.test(l.msg))).toBe(true);
  expect(engineLines.every((l) => l.level >= 30)).toBe(true);
  expect(engineLines.map((l) => l.pid)).toContain(engine.pid);
  // main's own side: the host's start and the backend it chose
  expect(lines('main').some((l) => new RegExp(`^engine host ${engine.pid} ready`).test(l.msg))).toBe(true);
  expect(lines('main').some((l) => /^engine backend: /.test(l.msg))).toBe(true);
});

test('a chat leaves ids, counts and times in the logs, never its prompt text', async () => {
  const t = (await app.services.handle('threads.create', {})) as { id: string };
  const done = new Promise<MessageDTO>((resolve) => {
    const off = app.services.subscribe((event, payload) => {
      if (event === 'chat.done' && (payload as EventOf<'chat.done'>).threadId === t.id) {
        off();
        resolve((payload as EventOf<'chat.done'>).message);
      }
    });
  });
  await app.services.handle('chat.send', { threadId: t.id, content: PROMPT });
  const reply = await done;
  await app.chat.idle(); // the title, generated from the prompt too
  expect(reply.status).toBe('done');
  const line = lines('main').find((l) => l.msg === 'chat reply' && l.messageId === reply.id);
  expect(line).toMatchObject({ level: 30, threadId: t.id, stopReason: expect.any(String), promptTokens: expect.any(Number), generatedTokens: reply.metrics!.generatedTokens });
  const text = allLogText();
  expect(text.length).toBeGreaterThan(1000);
  for (const word of [PROMPT, 'Quokka', 'marmalade', 'lighthouse']) expect(text).not.toContain(word);
});

test('app.diagnostics over the browser-mode WebSocket: versions, platform, backends, devices, the choice and why, a clean log tail', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  let next = 1;
  const call = (channel: string, payload: unknown = {}) =>
    new Promise<any>((resolve) => {
      const id = next++;
      const onMsg = (data: WebSocket.RawData) => {
        const frame = JSON.parse(String(data));
        if (frame.id !== id) return;
        ws.off('message', onMsg);
        resolve(frame);
      };
      ws.on('message', onMsg);
      ws.send(JSON.stringify({ id, channel, payload }));
    });
  try {
    const r = await call('app.diagnostics');
    expect(r.ok).toBe(true);
    const d = Diagnostics.parse(r.result);
    expect(d).toMatchObject({ appVersion: '0.0.0-test', platform: process.platform, arch: process.arch, logsDir: paths.logs, runtime: `Node ${process.versions.node}` });
    expect(d.llamaCommit).toMatch(/^[0-9a-f]{12}$/);
    expect(d.backends).toContain('CPU');
    expect(d.devices.some((v) => v.type === 'cpu')).toBe(true);
    expect(d.backendChoice).toEqual({ backend: engine.backendChoice!.backend, reason: engine.backendChoice!.reason });
    expect(d.logTail.some((l) => / INFO \[main\] chat reply /.test(l))).toBe(true);
    expect(d.logTail.some((l) => / \[engine\] llama: /.test(l))).toBe(true);
    for (const part of [d.text, ...d.logTail]) expect(part).not.toContain('Quokka');
    expect(d.text).toContain(`Hearth 0.0.0-test (Node ${process.versions.node})`);
    expect(d.text).toContain(`Backend in use: ${d.backendChoice!.backend} (${d.backendChoice!.reason})`);

    // browser mode has no file manager to open: the app says so, and the channel is not there
    const info = await call('app.info');
    expect(info.result).toMatchObject({ logsDir: paths.logs, canOpenLogsFolder: false });
    const open = await call('app.openLogsFolder');
    expect(open).toMatchObject({ ok: false, error: { code: 'unknown_channel' } });
  } finally {
    ws.close();
  }
});

test('a host killed mid-generation leaves its reason and the last request in main.log', async () => {
  await engine.load('k', modelPath, { contextSize: 512, threads: 2 });
  const pid = engine.pid!;
  let killed = false;
  const err = await errorOf(
    engine.complete('k', { prompt: 'Count', maxTokens: 100000, ignoreEos: true, sampling: { seed: 1 } }, {
      onPiece: () => {
        if (!killed) {
          killed = true;
          process.kill(pid, 'SIGKILL');
        }
      },
    }),
  );
  expect(err.code).toBe('engine_crashed');
  const crash = lines('main').find((l) => l.msg === 'engine host stopped (signal SIGKILL)' && l.hostPid === pid && l.pid === process.pid);
  expect(crash).toMatchObject({ level: 50, signal: 'SIGKILL', exitCode: null, lastRequest: { method: 'complete', id: expect.any(Number) } });
  expect(crash!.failedRequests).toBeGreaterThanOrEqual(1);
});

test("a native abort in the host: main.log has the signal and the host's stderr, engine.log the host's last line", async () => {
  await engine.start();
  const pid = engine.pid!;
  const err = await errorOf(engine.request('crash', { how: 'abort' }));
  expect(err.code).toBe('engine_crashed');
  const crash = lines('main').find((l) => l.level === 50 && l.msg.startsWith('engine host stopped') && l.hostPid === pid);
  expect(crash).toMatchObject({ signal: 'SIGABRT', lastRequest: { method: 'crash' } });
  expect(crash!.stderrTail).toContain('hearth test hook: crash (abort)');
  // written synchronously by the host right before process.abort(): on disk although the process died
  expect(lines('engine').some((l) => l.pid === pid && l.msg === 'test hook: crashing (abort)')).toBe(true);
  // and the engine comes back
  await until('a new host', async () => engine.pid !== undefined && engine.pid !== pid, 30_000);
});
