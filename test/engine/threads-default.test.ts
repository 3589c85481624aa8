/**
 * The CPU threads setting has one default, the engine's (llama.cpp's common_cpu_get_num_math, read by
 * the addon's defaultThreads): what the load settings and the hardware page show is what a context
 * loaded without the setting computes with (the context reports llama_n_threads). Through the IPC
 * entry point with the real store, the real engine host and a generated model.
 */
import { execFileSync, spawnSync } from 'child_process';
import os from 'os';
import path from 'path';
import { ChatApp, chatApp } from '../helpers/chat';
import { ADDON } from '../helpers/engine';

let chat: ChatApp;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

beforeAll(() => {
  chat = chatApp();
});

afterAll(() => chat.close());

test('the threads default shown is the one a load without the setting uses', async () => {
  const shown = (await call('models.settings.get', { path: chat.modelPath })).defaults.threads;
  expect(Number.isInteger(shown)).toBe(true);
  expect(shown).toBeGreaterThanOrEqual(1);
  expect((await call('hardware.info')).cpu.defaultThreads).toBe(shown);
  expect((await chat.engine.version()).defaultThreads).toBe(shown);

  await call('models.load', { path: chat.modelPath });
  const used = await chat.engine.contextInfo('chat');
  expect(used.threads).toBe(shown);
  expect(used.threadsBatch).toBe(shown);
});

test('a saved threads setting is what the context uses instead', async () => {
  const shown = (await call('models.settings.get', { path: chat.modelPath })).defaults.threads;
  const asked = shown + 1; // differs from the default, so the context's report cannot be the default by chance
  await call('models.settings.update', { path: chat.modelPath, settings: { threads: asked } });
  await call('models.load', { path: chat.modelPath });
  const used = await chat.engine.contextInfo('chat');
  expect(used.threads).toBe(asked);
  expect(used.threadsBatch).toBe(asked);
  expect((await call('models.settings.get', { path: chat.modelPath })).defaults.threads).toBe(shown);
});

// taskset (util-linux) runs the addon on one CPU of this machine; Linux only
const canPin = process.platform === 'linux' && os.cpus().length >= 2 && spawnSync('taskset', ['--version']).status === 0;
(canPin ? test : test.skip)('the default never exceeds the CPUs the process may run on (affinity)', () => {
  const script = `const a = require(${JSON.stringify(ADDON)}); a.init({ backendDir: ${JSON.stringify(path.dirname(ADDON))} }); process.stdout.write(String(a.defaultThreads()));`;
  const free = Number(execFileSync(process.execPath, ['-e', script]));
  const pinned = Number(execFileSync('taskset', ['-c', '0', process.execPath, '-e', script]));
  expect(pinned).toBe(1);
  expect(free).toBeGreaterThanOrEqual(1);
});
