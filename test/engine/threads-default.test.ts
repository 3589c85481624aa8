/**
 * The CPU threads setting has one default, the engine's (llama.cpp's common_cpu_get_num_math, read by
 * the addon's defaultThreads): what the load settings and the hardware page show is what a context
 * loaded without the setting computes with (the context reports llama_n_threads). Through the IPC
 * entry point with the real store, the real engine host and a generated model.
 */
import fs from 'fs';
import path from 'path';
import { composeApp, App } from '../../main/compose';
import { EngineClient } from '../../main/engine/client';
import { ensureDataDir } from '../../main/paths';
import { makeEngine, tempDir } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

let dir: string;
let engine: EngineClient;
let app: App;
let model: string;
const call = <T = any>(channel: string, payload: unknown = {}) => app.services.handle(channel, payload) as Promise<T>;

beforeAll(() => {
  dir = tempDir();
  const paths = ensureDataDir(dir);
  model = path.join(paths.models, 'tiny.gguf');
  fs.copyFileSync(TINY_SPM, model);
  engine = makeEngine();
  app = composeApp({ paths, engine, appVersion: '0.0.0-test', logger: { debug() {}, info() {}, warn() {}, error() {} } });
});

afterAll(async () => {
  await app.close();
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the threads default shown is the one a load without the setting uses', async () => {
  const shown = (await call('models.settings.get', { path: model })).defaults.threads;
  expect(Number.isInteger(shown)).toBe(true);
  expect(shown).toBeGreaterThanOrEqual(1);
  expect((await call('hardware.info')).cpu.defaultThreads).toBe(shown);
  expect((await engine.version()).defaultThreads).toBe(shown);

  await call('models.load', { path: model });
  const used = await engine.contextInfo('chat');
  expect(used.threads).toBe(shown);
  expect(used.threadsBatch).toBe(shown);
});

test('a saved threads setting is what the context uses instead', async () => {
  const shown = (await call('models.settings.get', { path: model })).defaults.threads;
  const asked = shown + 1; // differs from the default, so the context's report cannot be the default by chance
  await call('models.settings.update', { path: model, settings: { threads: asked } });
  await call('models.load', { path: model });
  const used = await engine.contextInfo('chat');
  expect(used.threads).toBe(asked);
  expect(used.threadsBatch).toBe(asked);
  expect((await call('models.settings.get', { path: model })).defaults.threads).toBe(shown);
});
