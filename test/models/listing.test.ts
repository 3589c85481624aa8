/**
 * The models folder's listing (issue 12, left item 2), on real files with the real services and
 * engine host: with 100,000 junk files in the folder, the walk runs off main's event loop (the loop
 * keeps turning while it runs) and model-naming calls are answered from the cached listing (walks
 * are counted); a model added to the folder (top or subfolder) is found, a removed or replaced one is
 * refused, concurrent calls share one walk, and a walk past its bounds says where it stopped.
 * The junk lives on a tmpfs where there is one (/dev/shm) and is made of hard links, so making it is quick.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import { ModelLibrary } from '../../main/models/library';
import { MODEL_WALK_LIMITS, ModelFolder, walkModels } from '../../main/models/listing';
import { collectingLogger, errorOf } from '../helpers/engine';
import { copyModel, TINY_SPM } from '../helpers/models';
import { ChatApp, chatApp } from '../helpers/chat';

const JUNK = 100_000;
const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();

let chat: ChatApp;
let modelsDir: string;
const call: ChatApp['call'] = (channel, payload) => chat.call(channel, payload);

/** `n` empty files named junk-<i>.txt in `folder`: hard links of a few hidden files (a file system allows ~65,000 links to one). */
function makeJunk(folder: string, n: number): void {
  let src = '';
  for (let i = 0; i < n; i++) {
    if (i % 50_000 === 0) fs.writeFileSync((src = path.join(folder, `.src${i}`)), '');
    fs.linkSync(src, path.join(folder, `junk-${i}.txt`));
  }
}

/** Sets every folder's mtime an hour back, as if nothing had changed lately (a folder changed just now is read again anyway). */
function settle(folder: string): void {
  const old = new Date(Date.now() - 3600_000);
  fs.utimesSync(folder, old, old);
  for (const e of fs.readdirSync(folder, { withFileTypes: true })) if (e.isDirectory()) settle(path.join(folder, e.name));
}

beforeAll(() => {
  chat = chatApp({
    dir: fs.mkdtempSync(path.join(base, 'hearth-listing-')),
    modelAs: path.join('family', 'tiny.gguf'),
    logger: collectingLogger(),
    prepare({ models }) {
      makeJunk(models, JUNK);
      fs.symlinkSync(TINY_SPM, path.join(models, 'linked.gguf'));
      fs.symlinkSync('/etc/passwd', path.join(models, 'evil.gguf'));
      settle(models);
    },
  });
  modelsDir = chat.paths.models;
}, 120_000);

afterAll(() => chat.close());

test('with 100,000 junk files the walk runs off the event loop, and model-naming calls are answered from the cache', async () => {
  const folder = chat.app.library.folder;
  const inside = path.join(modelsDir, 'family', 'tiny.gguf');
  const linked = path.join(modelsDir, 'linked.gguf');
  expect(folder.walks).toBe(0);

  // the first call walks; a setImmediate probe counts the event loop's turns while it runs (a
  // walk on main's thread would let none happen before the call returned)
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let turns = 0;
  let probing = true;
  const probe = () => {
    turns++;
    if (probing) setImmediate(probe);
  };
  setImmediate(probe);
  const t0 = Date.now();
  expect(await chat.app.library.known(inside)).toBe(inside);
  const walkMs = Date.now() - t0;
  probing = false;
  delay.disable();
  expect(folder.walks).toBe(1);
  expect(turns).toBeGreaterThan(100); // 100,000 entries are read a few hundred at a time
  const listing = await folder.listing();
  expect(listing.entries).toBe(JUNK + 2 /* .src */ + 4 /* family, tiny.gguf, linked.gguf, evil.gguf */);
  expect(listing.truncated).toBeNull();
  expect(listing.models.map((m) => m.path)).toEqual([linked, inside]);

  // model-naming calls (IPC, through the real engine host) and membership checks: no walk
  for (let i = 0; i < 4; i++) expect((await call('models.settings.get', { path: i % 2 ? inside : linked })).layers).toBeGreaterThan(0);
  const many = await Promise.all(Array.from({ length: 500 }, (_, i) => chat.app.library.known(i % 2 ? inside : linked)));
  expect(new Set(many)).toEqual(new Set([inside, linked]));
  // misses check the folders' mtimes (unchanged) instead of walking
  const misses = await Promise.all(
    ['/etc/passwd', path.join(modelsDir, 'evil.gguf'), path.join(modelsDir, 'junk-7.txt'), path.join(modelsDir, 'none.gguf'), TINY_SPM].flatMap((p) =>
      Array.from({ length: 40 }, () => errorOf(chat.app.library.known(p))),
    ),
  );
  expect(new Set(misses.map((e) => e.code))).toEqual(new Set(['model_unknown']));
  expect((await call('models.list')).map((m: { path: string }) => m.path)).toEqual([linked, inside]);
  expect(folder.walks).toBe(1);
  // the figures, for the report (not asserted: no timed assertions)
  console.log(`listing of ${listing.entries} entries: ${walkMs} ms, ${turns} event-loop turns meanwhile, loop delay max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms; ${1 + 4 + 500 + 200 + 1} calls, ${folder.walks} walk`);
});

test('a model added to the folder (top or subfolder) is found; a removed or replaced one is refused; concurrent calls share one walk', async () => {
  const folder = chat.app.library.folder;
  const added = path.join(modelsDir, 'added.gguf');
  const deeper = path.join(modelsDir, 'family', 'deeper.gguf');
  const inside = path.join(modelsDir, 'family', 'tiny.gguf');
  // 100 concurrent calls naming a model that just arrived: found, with at most one walk running at a time
  fs.copyFileSync(TINY_SPM, added);
  const w0 = folder.walks;
  const found = await Promise.all(Array.from({ length: 100 }, () => chat.app.library.known(added)));
  expect(new Set(found)).toEqual(new Set([added]));
  expect(folder.walks - w0).toBeGreaterThanOrEqual(1);
  expect(folder.walks - w0).toBeLessThanOrEqual(2); // the one running, and the one queued after it
  expect((await call('models.settings.get', { path: added })).path).toBe(added);
  // in a subfolder (no recursive fs.watch on Linux: the folder's mtime tells)
  copyModel(TINY_SPM, deeper);
  expect(await chat.app.library.known(deeper)).toBe(deeper);
  // removed: refused at once, with the one identical error
  fs.rmSync(inside);
  const gone = await errorOf(call('models.settings.get', { path: inside }));
  const never = await errorOf(call('models.settings.get', { path: '/etc/passwd' }));
  expect(gone).toEqual(never);
  expect(gone.code).toBe('model_unknown');
  // a listed model replaced by a link to a file that is no GGUF
  fs.rmSync(added);
  fs.symlinkSync('/etc/passwd', added);
  expect((await errorOf(chat.app.library.known(added))).code).toBe('model_unknown');
  expect((await chat.app.library.list()).map((m) => m.path)).toEqual([deeper, path.join(modelsDir, 'linked.gguf')]);
});

test('a walk past its bounds stops and says where; the library logs it once', async () => {
  const small = fs.mkdtempSync(path.join(base, 'hearth-bounds-'));
  try {
    makeJunk(small, 500);
    copyModel(TINY_SPM, path.join(small, 'model.gguf'));
    const l = await walkModels(small, { entries: 100, depth: 6 });
    expect(l.truncated).toEqual({ reason: 'entries', limit: 100, folder: small });
    expect(l.entries).toBe(100);
    // too deep: the folder below the bound is named; the model above it is listed
    const deep = path.join(small, 'sub', 'a', 'b', 'c');
    fs.mkdirSync(deep, { recursive: true });
    copyModel(TINY_SPM, path.join(deep, 'deep.gguf'));
    copyModel(TINY_SPM, path.join(small, 'sub', 'a', 'up.gguf'));
    const d = await walkModels(path.join(small, 'sub'), { entries: 1000, depth: 1 });
    expect(d.truncated).toEqual({ reason: 'depth', limit: 1, folder: path.join(small, 'sub', 'a', 'b') });
    expect(d.models.map((m) => m.name)).toEqual(['up']);
    // through the library: one warning per change of what is left out, and the model past the bound is unknown
    const logger = collectingLogger();
    const lib = new ModelLibrary({
      engine: chat.engine,
      modelsDir: small,
      logger,
      loadSettings: () => ({}),
      guardrail: () => ({ mode: 'off', marginMiB: 0 }),
      onState: () => undefined,
      walkLimits: { entries: 1000, depth: 2 },
    });
    expect((await errorOf(lib.known(path.join(deep, 'deep.gguf')))).code).toBe('model_unknown');
    expect(await lib.known(path.join(small, 'model.gguf'))).toBe(path.join(small, 'model.gguf'));
    await lib.list();
    expect(logger.lines.filter((l) => l.startsWith('models folder'))).toEqual([`models folder: ${path.join(small, 'sub', 'a', 'b')} is more than 2 folders deep; models in it are not listed`]);
    lib.close();
    expect(MODEL_WALK_LIMITS.entries).toBeGreaterThan(JUNK); // the suite's folder is within the default bound
    const f = new ModelFolder(small, { limits: { entries: 10, depth: 6 } });
    expect((await f.listing()).truncated?.reason).toBe('entries');
    f.close();
  } finally {
    fs.rmSync(small, { recursive: true, force: true });
  }
});
