/**
 * Which files the renderer can make native code read (issue 12, item 18), through the IPC entry
 * point with a real library folder and the real engine host: a model in <data>/models works, a
 * file picked this session works, and everything else (a system file, a missing path, a real GGUF
 * outside the folder, a symlink in the folder pointing out, the folder itself) gets the identical
 * model_unknown error on every channel that names a model, saying nothing about whether it exists.
 */
import fs from 'fs';
import path from 'path';
import { errorOf } from '../helpers/engine';
import { TINY_EMBED, TINY_SPM } from '../helpers/models';
import { ChatApp, chatApp } from '../helpers/chat';

let chat: ChatApp;
let inside: string;
let modelsDir: string;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

beforeAll(() => {
  chat = chatApp({
    modelAs: path.join('family', 'tiny.gguf'),
    prepare({ models }) {
      fs.symlinkSync('/etc/passwd', path.join(models, 'evil.gguf'));
      // a model linked in from elsewhere (another disk, another app's folder) is in the library
      fs.symlinkSync(TINY_SPM, path.join(models, 'linked.gguf'));
      fs.symlinkSync(models, path.join(models, 'family', 'loop')); // a link back: walked once
    },
  });
  inside = chat.modelPath;
  modelsDir = chat.paths.models;
});

afterAll(() => chat.close());

/** Every channel that takes a model path, with a valid rest of the request. */
const requests = (p: string): [string, unknown][] => [
  ['models.load', { path: p }],
  ['models.settings.get', { path: p }],
  ['models.settings.update', { path: p, settings: { contextSize: 1024 } }],
  ['models.settings.reset', { path: p }],
  ['models.estimate', { path: p, settings: { contextSize: 1024, gpuLayers: 0 } }],
];

test('paths outside the library get one identical error on every channel', async () => {
  expect(fs.existsSync('/etc/passwd')).toBe(true);
  const outside = [
    '/etc/passwd',
    path.join(chat.dir, 'no-such-model.gguf'),
    TINY_SPM, // a real GGUF, outside the folder
    path.join(modelsDir, 'evil.gguf'), // in the folder, a symlink to a file that is no GGUF: not listed
    path.join(modelsDir, 'family', '..', '..', '..', '..', '..', '..', 'etc', 'passwd'),
    modelsDir,
  ];
  const answers = new Set<string>();
  let n = 0;
  for (const p of outside) {
    for (const [channel, payload] of requests(p)) {
      const e = await errorOf(call(channel, payload));
      answers.add(JSON.stringify(e));
      n++;
    }
  }
  expect(n).toBe(30);
  expect([...answers]).toEqual([JSON.stringify({ code: 'model_unknown', message: 'this model is not in the library: put it in the models folder, or open it with the file picker' })]);
  expect(chat.app.store.modelSettings.list()).toEqual([]); // nothing was written for them
});

test('a model in the library works on every channel', async () => {
  const linked = path.join(modelsDir, 'linked.gguf');
  expect((await chat.app.library.list()).map((m) => m.path)).toEqual([linked, inside]);
  expect((await call('models.settings.get', { path: linked })).layers).toBeGreaterThan(0);
  const view = await call('models.settings.get', { path: inside });
  expect(view.layers).toBeGreaterThan(0);
  expect((await call('models.settings.update', { path: inside, settings: { contextSize: 1024 } })).settings).toEqual({ contextSize: 1024 });
  const est = await call('models.estimate', { path: inside, settings: { contextSize: 1024, gpuLayers: 0 } });
  expect(est.host.model).toBeGreaterThan(0);
  expect((await call('models.settings.reset', { path: inside })).settings).toEqual({});
  // the same file named another way resolves to the library's entry
  const state = await call('models.load', { path: path.join(modelsDir, 'family', '.', 'tiny.gguf') });
  expect(state.loaded.path).toBe(inside);
  await call('models.unload');
});

test('a file picked this session is accepted; only that one', async () => {
  const before = await errorOf(call('models.settings.get', { path: TINY_EMBED }));
  expect(before.code).toBe('model_unknown');
  chat.app.library.addPicked(TINY_EMBED);
  const view = await call('models.settings.get', { path: TINY_EMBED });
  expect(view.path).toBe(TINY_EMBED);
  expect((await errorOf(call('models.settings.get', { path: TINY_SPM }))).code).toBe('model_unknown');
});
