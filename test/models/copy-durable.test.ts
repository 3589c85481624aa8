/**
 * A copy to another folder (imports, a moved models folder: main/models/copy.ts) is durable before its
 * original is deleted: the copy's bytes flushed, renamed into place, the folder flushed, then the
 * original removed. Real files through the real moveFolder; the order of the file-system calls is
 * recorded by spies on the real fs.promises (test/helpers/fs-order.ts). The move goes to /dev/shm (a
 * tmpfs, another device: the copy path); without it, the spy answers the first rename with EXDEV.
 */
import fs from 'fs';
import path from 'path';
import { moveFolder } from '../../main/models/folder-move';
import { tempDir } from '../helpers/engine';
import { recordFsOrder } from '../helpers/fs-order';

const SHM = fs.existsSync('/dev/shm') ? '/dev/shm' : null;
let dirs: string[] = [];
afterEach(() => {
  jest.restoreAllMocks();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});

test('moving the models folder to another disk: each copy is flushed, renamed, its folder flushed, then the original deleted', async () => {
  const from = tempDir('hearth-durable-');
  const base = SHM ? fs.mkdtempSync(path.join(SHM, 'hearth-durable-')) : tempDir('hearth-durable-to-');
  dirs.push(from, base);
  fs.writeFileSync(path.join(from, 'a.gguf'), Buffer.alloc(70_000, 1));
  fs.mkdirSync(path.join(from, 'sub'));
  fs.writeFileSync(path.join(from, 'sub', 'b.gguf'), Buffer.alloc(5_000, 2));
  const to = path.join(base, 'models');
  const log: string[] = [];
  // a copy's .part has a random name of its own (disk.ts copyPartOf): shown as `<name>.part`
  const name = (p: string) => (p.startsWith(from) ? `from/${path.relative(from, p)}` : p.startsWith(to) ? `to/${path.relative(to, p)}` : p).replace(/(^|\/)\.([^/]+)\.import-[0-9a-f]+\.part$/, '$1$2.part');
  recordFsOrder(log, name);
  if (!SHM) {
    const rename = jest.mocked(fs.promises.rename).getMockImplementation()!;
    jest.mocked(fs.promises.rename).mockImplementation(async (a, b) => {
      if (String(a).startsWith(from)) throw Object.assign(new Error('EXDEV'), { code: 'EXDEV' });
      return rename(a, b);
    });
  }
  await moveFolder(from, to);
  // per file, in the order the folder lists them
  const a = ['sync to/a.gguf.part', 'rename to/a.gguf.part → to/a.gguf', 'sync to/', 'rm from/a.gguf'];
  const b = ['sync to/sub/b.gguf.part', 'rename to/sub/b.gguf.part → to/sub/b.gguf', 'sync to/sub', 'rm from/sub/b.gguf'];
  expect([[...a, ...b], [...b, ...a]]).toContainEqual(log);
  expect(fs.readFileSync(path.join(to, 'a.gguf')).equals(Buffer.alloc(70_000, 1))).toBe(true);
  expect(fs.existsSync(path.join(from, 'a.gguf'))).toBe(false);
});
