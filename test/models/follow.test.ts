/**
 * Following the models folder (ModelFolder with onModels), on real files (issue 12 review): a .gguf
 * still being written is left out until it settles, a file too small or without GGUF's magic is no
 * model; pushes are rate-limited during a storm (the first one at once); the periodic check backs
 * off by the cost of the last walk (a huge linked folder that keeps changing); a folder removed and
 * made again is watched again.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { ModelDTO } from '../../main/ipc/contract';
import { GGUF_FIXED_HEADER_BYTES } from '../../main/gguf/types';
import { ModelFolder, PUSH_MIN_MS, SETTLE_MS, walkModels } from '../../main/models/listing';
import { until as untilAsync } from '../helpers/browser-mode';
import { copyModel, TINY_SPM } from '../helpers/models';

const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const until = (what: () => boolean, ms: number) => untilAsync(what.toString(), async () => what(), ms);
const old = () => new Date(Date.now() - 3600_000);

let dir: string;
let folder: ModelFolder | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(base, 'hearth-follow-'));
});
afterEach(() => {
  folder?.close();
  folder = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A followed folder that records every push with its time. */
function follow(models: string, checkMs: number): { pushes: { at: number; names: string[] }[] } {
  const rec = { pushes: [] as { at: number; names: string[] }[] };
  folder = new ModelFolder(models, { checkMs, onModels: (m: ModelDTO[]) => rec.pushes.push({ at: Date.now(), names: m.map((x) => x.name) }) });
  return rec;
}

test('a .gguf being written is left out until it stops changing (a finished copy is listed at once); a file too small or without the magic is never a model', async () => {
  copyModel(TINY_SPM, path.join(dir, 'done.gguf'));
  fs.writeFileSync(path.join(dir, 'eleven.gguf'), 'GGUFabcdefg'); // 11 bytes: shorter than GGUF's fixed header
  fs.writeFileSync(path.join(dir, 'text.gguf'), 'not a model, '.repeat(20));
  for (const f of ['eleven.gguf', 'text.gguf']) fs.utimesSync(path.join(dir, f), old(), old());
  expect(fs.statSync(path.join(dir, 'eleven.gguf')).size).toBeLessThan(GGUF_FIXED_HEADER_BYTES);
  const rec = follow(dir, 200);
  // a download in progress: the real model's bytes, written a piece every 50 ms for about 3 s
  const bytes = fs.readFileSync(TINY_SPM);
  const dl = path.join(dir, 'download.gguf');
  const piece = Math.ceil(bytes.length / 60);
  let written = 0;
  const writer = setInterval(() => {
    fs.appendFileSync(dl, bytes.subarray(written, written + piece));
    written += piece;
    if (written >= bytes.length) clearInterval(writer);
  }, 50);
  let listings = 0;
  while (written < bytes.length) {
    const l = await folder!.listing();
    if (written < bytes.length) {
      expect(l.models.map((m) => m.name)).toEqual(['done']);
      if (fs.existsSync(dl)) listings++;
    }
  }
  expect(listings).toBeGreaterThan(2);
  expect(rec.pushes.length).toBeGreaterThan(0);
  for (const p of rec.pushes) expect(p.names).toEqual(['done']);
  // finished: a later check lists it, with its whole size
  await until(() => rec.pushes.some((p) => p.names.includes('download')), SETTLE_MS + 5000);
  const l = await folder!.listing();
  expect(l.models.map((m) => [m.name, m.fileSize])).toEqual([
    ['done', bytes.length],
    ['download', bytes.length],
  ]);
  expect(l.unsettled).toEqual([]);
  // a finished copy made just now (as hearth import or a file manager leaves it) is listed at once
  fs.copyFileSync(TINY_SPM, path.join(dir, 'copied.gguf'));
  expect((await folder!.listing()).models.map((m) => m.name)).toEqual(['copied', 'done', 'download']);
}, 30_000);

test('pushes are at most one per PUSH_MIN_MS while changes keep coming; the first is at once; the last has every model', async () => {
  const rec = follow(dir, 100);
  const t0 = Date.now();
  let n = 0;
  while (Date.now() - t0 < 3 * PUSH_MIN_MS) {
    copyModel(TINY_SPM, path.join(dir, `m${n++}.gguf`));
    await sleep(100);
    if (n === 1) await until(() => rec.pushes.length > 0, PUSH_MIN_MS); // the first change is pushed without waiting for the limit
  }
  await until(() => rec.pushes.at(-1)?.names.length === n, 3 * PUSH_MIN_MS);
  expect(rec.pushes.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < rec.pushes.length; i++) expect(rec.pushes[i].at - rec.pushes[i - 1].at).toBeGreaterThanOrEqual(PUSH_MIN_MS - 20);
  // without the limit each 100 ms check that found a new file would have pushed
  expect(rec.pushes.length).toBeLessThan(n / 2);
}, 30_000);

test('a linked huge folder whose subfolders keep changing is walked less often the longer a walk takes', async () => {
  // a "Downloads" folder elsewhere, linked into the models folder, with 40,000 files (hard links: quick to make)
  const outside = fs.mkdtempSync(path.join(base, 'hearth-linked-'));
  try {
    const junk = path.join(outside, 'junk');
    fs.mkdirSync(junk);
    const src = path.join(outside, '.src');
    fs.writeFileSync(src, '');
    for (let i = 0; i < 40_000; i++) fs.linkSync(src, path.join(junk, `f${i}`));
    fs.mkdirSync(path.join(dir, 'models'));
    copyModel(TINY_SPM, path.join(dir, 'models', 'a.gguf'));
    fs.symlinkSync(outside, path.join(dir, 'models', 'downloads'));
    // one walk's cost on this machine, now
    const t = Date.now();
    await walkModels(path.join(dir, 'models'));
    const walkMs = Math.max(1, Date.now() - t);

    const checkMs = 50;
    follow(path.join(dir, 'models'), checkMs);
    await folder!.listing();
    const w0 = folder!.walks;
    const t0 = Date.now();
    let k = 0;
    while (Date.now() - t0 < 4000) {
      // a subfolder of the linked folder changes (a browser writing its temporary files)
      fs.mkdirSync(path.join(junk, `tmp${k}`));
      fs.rmdirSync(path.join(junk, `tmp${k++}`));
      await sleep(100);
    }
    const walks = folder!.walks - w0;
    const elapsed = Date.now() - t0;
    expect(folder!.checkDelayMs).toBeGreaterThan(checkMs); // backed off
    // each periodic walk waits ≥ 20× the last walk (taken at half the one measured: walks vary)
    const bound = 1 + elapsed / Math.max(checkMs, 10 * walkMs);
    const unbounded = elapsed / (checkMs + walkMs);
    console.log(`linked 40,000 files: walk ${walkMs} ms, ${walks} walks in ${elapsed} ms (without the back-off about ${unbounded.toFixed(0)})`);
    expect(walks).toBeGreaterThan(0); // the changes are seen
    expect(walks).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThan(unbounded / 2); // the bound says something on this machine
  } finally {
    fs.rmSync(outside, { recursive: true, force: true });
  }
}, 60_000);

test('the folder removed and made again (rm -r, mkdir) is watched again and followed', async () => {
  const models = path.join(dir, 'models');
  fs.mkdirSync(models);
  copyModel(TINY_SPM, path.join(models, 'a.gguf'));
  const rec = follow(models, 200);
  await folder!.listing();
  const first = fs.statSync(models);
  expect(folder!.watchedFolder).toEqual({ dev: first.dev, ino: first.ino });
  fs.rmSync(models, { recursive: true });
  fs.mkdirSync(models);
  const second = fs.statSync(models);
  expect(second.ino).not.toBe(first.ino);
  await until(() => folder!.watchedFolder?.ino === second.ino, 5000);
  expect(folder!.watchedFolder).toEqual({ dev: second.dev, ino: second.ino });
  copyModel(TINY_SPM, path.join(models, 'b.gguf'));
  await until(() => rec.pushes.at(-1)?.names.join() === 'b', 5000);
}, 30_000);
