/**
 * The files of deleted chats set aside (<data>/images/.stray, <data>/documents/.stray) as Settings → Data
 * shows them and deletes them before their time (data.stray, data.stray.empty): real SQLite and files in a
 * temporary data folder, the app as composeApp builds it (browser mode's restart host).
 */
import fs from 'fs';
import path from 'path';
import type { EngineClient } from '../../main/engine/client';
import { STRAY_FOLDER, STRAY_KEEP_MS } from '../../main/file-sweep';
import { StrayDTO } from '../../main/ipc/data';
import { makeEngine, tempDir } from '../helpers/engine';
import { host, linkedDocument, pngUrl, swept, threadWithImage } from './folder-helpers';

jest.setTimeout(60_000);

let engine: EngineClient;
const dirs: string[] = [];
beforeAll(() => {
  engine = makeEngine();
});
afterAll(async () => {
  await engine.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

test('what is set aside is counted with its bytes, and deleted on asking; a file a chat names again is put back, not deleted; the files in place are left to the sweeps', async () => {
  const dir = tempDir('hearth-stray-');
  dirs.push(dir);
  const h = host(dir, engine);
  const app = h.current();
  try {
    const stray = async () => StrayDTO.parse(await app.services.handle('data.stray', {}));
    expect(await stray()).toEqual({ files: 0, bytes: 0, keepDays: STRAY_KEEP_MS / 86_400_000 });
    const first = await threadWithImage(app, dir, 'deleted', 1);
    const doc = await linkedDocument(app, dir, first.threadId, 'notes of a deleted chat');
    const second = await threadWithImage(app, dir, 'deleted too', 2);
    await app.services.handle('threads.delete', { id: first.threadId });
    await app.services.handle('threads.delete', { id: second.threadId });
    await swept(app);
    const aside = [
      path.join(dir, 'images', STRAY_FOLDER, path.basename(first.file)),
      path.join(dir, 'documents', STRAY_FOLDER, path.basename(doc)),
      path.join(dir, 'images', STRAY_FOLDER, path.basename(second.file)),
    ];
    expect(aside.map((f) => fs.existsSync(f))).toEqual([true, true, true]);
    // what is not a set-aside file is not counted: a folder, a file of another name
    fs.mkdirSync(path.join(dir, 'images', STRAY_FOLDER, 'a folder'));
    fs.writeFileSync(path.join(dir, 'images', STRAY_FOLDER, 'notes.txt'), 'mine');
    expect(await stray()).toEqual({ files: 3, bytes: aside.reduce((n, f) => n + fs.statSync(f).size, 0), keepDays: 30 });

    // a message box's image, attached over an hour ago, set aside and not sent yet: kept when the page says so
    const unsent = await threadWithImage(app, dir, 'unsent', 4);
    await app.services.handle('threads.delete', { id: unsent.threadId });
    await swept(app);
    const unsentAside = path.join(dir, 'images', STRAY_FOLDER, path.basename(unsent.file));
    expect(fs.existsSync(unsentAside)).toBe(true);
    // an image in place that no chat names (another process's temporary chat may hold it): left to the sweeps
    const loose = await threadWithImage(app, dir, 'loose', 3);
    app.store.db.prepare('DELETE FROM threads WHERE id = ?').run(loose.threadId);
    // the second image named again (a backup restored names it) before the files are deleted: put back
    const t = app.store.threads.create({ title: 'restored' });
    app.store.messages.add({ threadId: t.id, role: 'user', content: 'look', attachments: [second.image] });
    // (one a chat names again is not counted: it goes back, not away)
    expect(await stray()).toMatchObject({ files: 3 });
    // nor one the page's message boxes hold (it goes back too)
    expect(StrayDTO.parse(await app.services.handle('data.stray', { keep: [unsent.image.ref] }))).toMatchObject({ files: 2 });
    expect(StrayDTO.parse(await app.services.handle('data.stray.empty', { keep: [unsent.image.ref] }))).toEqual({ files: 0, bytes: 0, keepDays: 30 });
    // (kept as a chat's is: put back in place, its time restarted)
    expect([fs.existsSync(unsentAside), fs.existsSync(unsent.file)]).toEqual([false, true]);
    expect(aside.map((f) => fs.existsSync(f))).toEqual([false, false, false]);
    expect(fs.existsSync(second.file)).toBe(true);
    expect(await app.services.handle('images.read', { ref: second.image.ref })).toEqual(pngUrl(2));
    // the others are gone for good; what is not Hearth's in the folder stays
    expect(fs.existsSync(first.file)).toBe(false);
    expect(fs.existsSync(doc)).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'images', STRAY_FOLDER)).sort()).toEqual(['a folder', 'notes.txt']);
    expect(fs.existsSync(loose.file)).toBe(true);
    // the next sweep sets it aside, as ever
    await app.imageSweep.run();
    expect(fs.existsSync(path.join(dir, 'images', STRAY_FOLDER, path.basename(loose.file)))).toBe(true);
  } finally {
    await h.current().close();
  }
});
