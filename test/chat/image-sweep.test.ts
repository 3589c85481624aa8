/**
 * The image sweep (main/chat/image-sweep.ts) on a real folder and a real SQLite store: the images a
 * saved or an open temporary chat's message refers to are kept, unreferenced ones older than the grace
 * period are set aside (and taken back when a message names them again), a crashed write's temporary
 * file goes, young ones stay; a link or a foreign name is never touched. Through the app (composeApp):
 * a sweep at startup, after a thread is deleted (its images go at once), a temporary chat's images once
 * the chat is discarded (deleted, or dropped at close) unless a saved message refers to the same image.
 * (A backup restored and undone: test/data/backups.test.ts.)
 */
import fs from 'fs';
import path from 'path';
import { composeApp } from '../../main/compose';
import { filesToDelete, IMAGE_GRACE_MS, ImageSweep, imageFileOf, type SweepFile } from '../../main/chat/image-sweep';
import { ImageStore } from '../../main/chat/images';
import { STRAY_FOLDER, STRAY_KEEP_MS } from '../../main/file-sweep';
import type { ImageAttachment } from '../../main/ipc/contract';
import { ensureDataDir } from '../../main/paths';
import { Store } from '../../main/store';
import { chatApp, type ChatApp } from '../helpers/chat';
import { collectingLogger, makeEngine, tempDir } from '../helpers/engine';
import { testPng } from '../helpers/images';

const HOUR_AGO = () => (Date.now() - IMAGE_GRACE_MS - 60_000) / 1000;
/** Makes a file (or a link) look older than the grace period. */
const age = (file: string) => fs.lutimesSync(file, HOUR_AGO(), HOUR_AGO());
const HASH = (c: string) => c.repeat(64);

describe('the rules (pure)', () => {
  test('names: the store\'s images and temporary files only', () => {
    expect(imageFileOf(`${HASH('a')}.png`)).toEqual({ kind: 'stored', ref: HASH('a') });
    expect(imageFileOf(`${HASH('b')}.jpg`)).toEqual({ kind: 'stored', ref: HASH('b') });
    expect(imageFileOf(`.${HASH('c')}.0123456789ab.tmp`)).toEqual({ kind: 'temporary', ref: HASH('c') });
    for (const other of [`${HASH('A')}.png`, `${HASH('a')}.webp`, `${HASH('a')}.png.bak`, `x${HASH('a')}.png`, 'notes.txt', `.${HASH('c')}.tmp`, `${'a'.repeat(63)}.png`, '..', '.']) {
      expect(imageFileOf(other)).toBeNull();
    }
  });

  test('what goes: unreferenced and old, a discarded chat\'s unless referenced, old temporary files', () => {
    const now = 10 * IMAGE_GRACE_MS;
    const old = now - IMAGE_GRACE_MS;
    const young = now - IMAGE_GRACE_MS + 1;
    const f = (c: string, mtimeMs: number, kind: SweepFile['kind'] = 'stored'): SweepFile => ({ name: c, kind, ref: HASH(c), mtimeMs });
    const files = [f('1', old), f('2', young), f('3', old), f('4', old), f('5', young), f('6', young), f('7', old, 'temporary'), f('8', young, 'temporary')];
    const doomed = filesToDelete(files, {
      now, graceMs: IMAGE_GRACE_MS, referenced: new Set([HASH('3'), HASH('6'), HASH('7')]), recent: new Set([HASH('4')]), discarded: new Set([HASH('5'), HASH('6')]),
    });
    // 1 old; 5 discarded (young); 7 a temporary file, old (a ref does not keep it)
    expect(doomed.map((d) => d.name)).toEqual(['1', '5', '7']);
    // a discarded chat's image stored again lately (4) waits while Hearth runs, and goes at close
    const rules = { now, graceMs: IMAGE_GRACE_MS, referenced: new Set<string>(), recent: new Set([HASH('4')]), discarded: new Set([HASH('4')]) };
    expect(filesToDelete([f('4', young)], rules)).toEqual([]);
    expect(filesToDelete([f('4', young)], { ...rules, closing: true }).map((d) => d.name)).toEqual(['4']);
  });
});

describe('on a real folder and store', () => {
  let dir: string;
  let imagesDir: string;
  let store: Store;
  let images: ImageStore;
  let sweep: ImageSweep;
  const logger = collectingLogger();

  beforeEach(() => {
    dir = tempDir('image-sweep-');
    imagesDir = path.join(dir, 'images');
    store = Store.open(path.join(dir, 'hearth.db'));
    images = new ImageStore(imagesDir);
    sweep = new ImageSweep({ dir: imagesDir, referenced: () => store.attachmentRefs(), logger });
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const fileOf = (a: ImageAttachment) => path.join(imagesDir, `${a.ref}.png`);

  test('referenced images are kept, unreferenced old ones are set aside and old temporary files go, young ones and others stay', async () => {
    const [saved, temporary, oldLoose, youngLoose, alternative] = await Promise.all([1, 2, 3, 4, 5].map((n) => images.add(testPng(n), `${n}.png`)));
    const thread = store.threads.create({ title: 'saved' });
    const m = store.messages.add({ threadId: thread.id, role: 'user', content: 'look', attachments: [saved] });
    // an edit's older version (an alternative, not on the active path) still refers to its image
    store.messages.edit(m.id, 'look again', [alternative]);
    const tmp = store.temporary.threads.create({});
    store.temporary.messages.add({ threadId: tmp.id, role: 'user', content: '', attachments: [temporary] });
    // what the query must get past: a column that is not JSON, an object, scalars, an import's URL
    const other = store.messages.add({ threadId: thread.id, role: 'user', content: 'x' });
    const bad = store.messages.add({ threadId: thread.id, role: 'user', content: 'y' });
    const scalars = store.messages.add({ threadId: thread.id, role: 'user', content: 'z' });
    const url = store.messages.add({ threadId: thread.id, role: 'user', content: 'w', attachments: [{ type: 'image', ref: 'https://example.com/a.png' }] });
    store.db.prepare('UPDATE messages SET attachments = ? WHERE id = ?').run('not json', bad.id);
    store.db.prepare('UPDATE messages SET attachments = ? WHERE id = ?').run(JSON.stringify({ ref: HASH('f') }), other.id);
    store.db.prepare('UPDATE messages SET attachments = ? WHERE id = ?').run(JSON.stringify([1, 'x', null, { ref: 7 }]), scalars.id);
    expect(url.attachments).toHaveLength(1);

    // a crashed write's temporary files (old, young); a link and foreign names, old, never touched
    const oldTmp = path.join(imagesDir, `.${oldLoose.ref}.00112233aabb.tmp`);
    const youngTmp = path.join(imagesDir, `.${youngLoose.ref}.00112233aabc.tmp`);
    fs.writeFileSync(oldTmp, 'partial');
    fs.writeFileSync(youngTmp, 'partial');
    const outside = path.join(dir, 'outside.png');
    fs.writeFileSync(outside, testPng(9));
    const link = path.join(imagesDir, `${HASH('d')}.png`);
    fs.symlinkSync(outside, link);
    const foreign = [path.join(imagesDir, 'notes.txt'), path.join(imagesDir, `${HASH('E')}.png`), path.join(imagesDir, `${HASH('e')}.webp`)];
    for (const f of foreign) fs.writeFileSync(f, 'mine');
    const folder = path.join(imagesDir, `${HASH('c')}.png`);
    fs.mkdirSync(folder);
    for (const f of [fileOf(saved), fileOf(temporary), fileOf(oldLoose), fileOf(alternative), oldTmp, outside, link, ...foreign, folder]) age(f);

    const r = await sweep.run();
    expect(r.deleted).toEqual([path.basename(oldTmp)]);
    expect(r.setAside).toEqual([path.basename(fileOf(oldLoose))]);
    expect(fs.existsSync(fileOf(oldLoose))).toBe(false);
    expect(fs.readdirSync(path.join(imagesDir, STRAY_FOLDER))).toEqual([path.basename(fileOf(oldLoose))]);
    expect(fs.existsSync(oldTmp)).toBe(false);
    for (const kept of [fileOf(saved), fileOf(alternative), fileOf(temporary), fileOf(youngLoose), youngTmp, outside, ...foreign, folder]) expect(fs.existsSync(kept)).toBe(true);
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    expect(r.kept).toBe(5); // saved, alternative, temporary, youngLoose, youngTmp

    // the temporary chat discarded: its image goes (however young), the saved chat's stays
    const discarded = store.temporary.attachmentRefs(tmp.id);
    store.temporary.threads.delete(tmp.id);
    fs.utimesSync(fileOf(temporary), new Date(), new Date());
    const after = await sweep.run([...discarded, saved.ref]);
    expect(after.deleted).toEqual([path.basename(fileOf(temporary))]);
    expect(after.setAside).toEqual([]);
    expect(fs.existsSync(fileOf(saved))).toBe(true);
    expect(fs.readdirSync(path.join(imagesDir, STRAY_FOLDER))).toEqual([path.basename(fileOf(oldLoose))]);
  });

  test('a set-aside image: taken back by a read or by a sweep once a message names it, its content checked; deleted when discarded or after 30 days', async () => {
    const [a, b, c] = await Promise.all([1, 2, 3].map((n) => images.add(testPng(n), `${n}.png`)));
    for (const x of [a, b, c]) age(fileOf(x));
    expect((await sweep.run()).setAside.sort()).toEqual([a, b, c].map((x) => path.basename(fileOf(x))).sort());
    const aside = (x: ImageAttachment) => path.join(imagesDir, STRAY_FOLDER, path.basename(fileOf(x)));

    // a read (the thread shows its image) takes it back, as it was
    expect(await images.find(a.ref)).toEqual({ file: fileOf(a), kind: expect.objectContaining({ ext: 'png' }), size: a.size });
    expect(fs.existsSync(aside(a))).toBe(false);
    expect(fs.readFileSync(fileOf(a))).toEqual(testPng(1));
    // a file under b's name that does not hold b is not taken back (nor read)
    fs.writeFileSync(aside(b), testPng(4));
    expect(await images.find(b.ref)).toBeNull();
    expect(fs.existsSync(aside(b))).toBe(true);
    await expect(images.dataUrl(b.ref)).rejects.toMatchObject({ code: 'image_missing' });

    // a message names c again (a restore undone): the next sweep puts it back without a read
    const thread = store.threads.create({ title: 't' });
    store.messages.add({ threadId: thread.id, role: 'user', content: 'c', attachments: [c] });
    await sweep.run();
    expect(fs.existsSync(fileOf(c))).toBe(true);
    expect(fs.existsSync(aside(c))).toBe(false);

    // discarded (its thread deleted) while aside: deleted at once; one left alone, 30 days later
    const d = await images.add(testPng(5), '5.png');
    age(fileOf(d));
    await sweep.run();
    expect(fs.existsSync(aside(d))).toBe(true);
    await sweep.run([d.ref]);
    expect(fs.existsSync(aside(d))).toBe(false);
    const later = (days: number) => new ImageSweep({ dir: imagesDir, referenced: () => store.attachmentRefs(), logger, clock: () => Date.now() + days * 86_400_000 });
    // (29 days on, a, taken back and in no message, is set aside: its 30 days count from then)
    await later(29).run();
    expect(fs.existsSync(aside(b))).toBe(true);
    expect(fs.existsSync(aside(a))).toBe(true);
    await later(STRAY_KEEP_MS / 86_400_000 + 1).run();
    expect(fs.readdirSync(path.join(imagesDir, STRAY_FOLDER))).toEqual([path.basename(aside(a))]);
    fs.unlinkSync(aside(a));
    // a read does not look into a stray folder that is a link
    fs.rmdirSync(path.join(imagesDir, STRAY_FOLDER));
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, path.basename(fileOf(b))), testPng(2));
    fs.symlinkSync(elsewhere, path.join(imagesDir, STRAY_FOLDER));
    expect(await images.find(b.ref)).toBeNull();
    expect(fs.existsSync(path.join(elsewhere, path.basename(fileOf(b))))).toBe(true);
  });

  test('an old image stored again is kept for the grace period; a closed store or a missing folder is logged, never thrown', async () => {
    const a = await images.add(testPng(1), 'a.png');
    age(fileOf(a));
    sweep.noteStored(a.ref);
    expect((await sweep.run()).deleted).toEqual([]);
    expect(fs.existsSync(fileOf(a))).toBe(true);

    const b = await images.add(testPng(2), 'b.png');
    age(fileOf(b));
    store.close();
    expect(await sweep.run()).toEqual({ deleted: [], setAside: [], kept: 0 });
    expect(fs.existsSync(fileOf(b))).toBe(true);
    expect(logger.lines.some((l) => l.includes('the sweep of') && l.includes('closed'))).toBe(true);

    const none = new ImageSweep({ dir: path.join(dir, 'nothing-here'), referenced: () => new Set(), logger });
    expect(await none.run()).toEqual({ deleted: [], setAside: [], kept: 0 });
  });

  test('an image stored again restarts its time; one stored again while a sweep runs is kept; a discarded chat\'s image stored again lately waits until close', async () => {
    // the same bytes stored again: the file's time restarts, so the grace period counts from now
    const a = await images.add(testPng(1), 'a.png');
    age(fileOf(a));
    const before = fs.lstatSync(fileOf(a)).mtimeMs;
    await images.add(testPng(1), 'a-again.png');
    expect(fs.lstatSync(fileOf(a)).mtimeMs).toBeGreaterThan(before);
    expect((await new ImageSweep({ dir: imagesDir, referenced: () => new Set(), logger }).run()).deleted).toEqual([]);

    // stored again (by this process or another) after the sweep listed the folder: kept
    const b = await images.add(testPng(2), 'b.png');
    age(fileOf(a));
    age(fileOf(b));
    const racing = new ImageSweep({
      dir: imagesDir,
      logger,
      // asked once the folder is listed: the moment an images.store of b lands
      referenced: () => {
        fs.utimesSync(fileOf(b), new Date(), new Date());
        return new Set();
      },
    });
    expect((await racing.run()).setAside).toEqual([path.basename(fileOf(a))]);
    expect(fs.existsSync(fileOf(b))).toBe(true);

    // a deleted chat's image that a composer stored again lately: kept while Hearth runs, gone at close (the
    // sweep remembers it was discarded: a later sweep is not told again), and never set aside
    sweep.noteStored(b.ref);
    expect((await sweep.run([b.ref])).deleted).toEqual([]);
    expect((await sweep.run()).deleted).toEqual([]);
    expect(await sweep.run([], { closing: true })).toEqual({ deleted: [path.basename(fileOf(b))], setAside: [], kept: 0 });
    // one a message refers to meanwhile (the composer's message sent) is no longer discarded: it stays, at close too
    const c = await images.add(testPng(3), 'c.png');
    sweep.noteStored(c.ref);
    expect((await sweep.run([c.ref])).deleted).toEqual([]);
    const thread = store.threads.create({ title: 'sent' });
    store.messages.add({ threadId: thread.id, role: 'user', content: 'c', attachments: [c] });
    expect((await sweep.run()).deleted).toEqual([]);
    store.threads.delete(thread.id);
    expect(await sweep.run([], { closing: true })).toEqual({ deleted: [], setAside: [], kept: 1 });
    expect(fs.existsSync(fileOf(c))).toBe(true);
  });

  test('a link in place of the folder is not swept', async () => {
    const real = path.join(dir, 'real-images');
    const elsewhere = new ImageStore(real);
    const a = await elsewhere.add(testPng(1), 'a.png');
    age(path.join(real, `${a.ref}.png`));
    fs.symlinkSync(real, path.join(dir, 'linked'));
    const linked = new ImageSweep({ dir: path.join(dir, 'linked'), referenced: () => new Set(), logger });
    expect((await linked.run()).deleted).toEqual([]);
    expect(fs.existsSync(path.join(real, `${a.ref}.png`))).toBe(true);
    expect(logger.lines.some((l) => l.includes('is not a folder'))).toBe(true);
  });
});

describe('in the app', () => {
  let opened: ChatApp | null = null;
  afterEach(async () => {
    await opened?.close();
    opened = null;
  });
  const open = (o: Parameters<typeof chatApp>[0]): ChatApp => (opened = chatApp(o));

  /** stored as images.store would, without its note (which keeps an image for the grace period from now) */
  const store = (c: ChatApp, n: number): Promise<ImageAttachment> => new ImageStore(c.paths.images).add(testPng(n), `${n}.png`);
  const fileOf = (c: ChatApp, a: ImageAttachment) => path.join(c.paths.images, `${a.ref}.png`);

  test('a sweep at startup sets aside the old unreferenced images', async () => {
    const ref = HASH('a');
    const chat = open({
      model: null,
      prepare: (paths) => {
        fs.mkdirSync(paths.images, { recursive: true });
        fs.writeFileSync(path.join(paths.images, `${ref}.png`), testPng(1));
        age(path.join(paths.images, `${ref}.png`));
      },
    });
    await chat.app.imageSweep.idle();
    expect(fs.existsSync(path.join(chat.paths.images, `${ref}.png`))).toBe(false);
    expect(fs.readdirSync(path.join(chat.paths.images, STRAY_FOLDER))).toEqual([`${ref}.png`]);
  });

  test('deleting a thread: a temporary chat\'s images go at once, a saved chat\'s are set aside (a backup may bring it back); unless another message refers to them', async () => {
    const chat = open({ model: null });
    const [shared, onlyTemporary, savedOnly, loose] = await Promise.all([1, 2, 3, 4].map((n) => store(chat, n)));
    const saved = await chat.call('threads.create', {});
    chat.app.store.messages.add({ threadId: saved.id, role: 'user', content: 'a', attachments: [shared, savedOnly] });
    const tmp = await chat.call('threads.create', { temporary: true });
    chat.app.store.temporary.messages.add({ threadId: tmp.id, role: 'user', content: '', attachments: [shared, onlyTemporary] });

    await chat.call('threads.delete', { id: tmp.id });
    await chat.app.imageSweep.idle();
    expect(fs.existsSync(fileOf(chat, onlyTemporary))).toBe(false);
    expect(fs.existsSync(fileOf(chat, shared))).toBe(true);
    // young and in no message: a composer's image not sent yet
    expect(fs.existsSync(fileOf(chat, loose))).toBe(true);
    expect(fs.existsSync(path.join(chat.paths.images, STRAY_FOLDER))).toBe(false);

    // the saved thread goes: its images are set aside once past the grace period; loose, old now and sent meanwhile, stays
    for (const a of [shared, savedOnly, loose]) age(fileOf(chat, a));
    const other = await chat.call('threads.create', {});
    chat.app.store.messages.add({ threadId: other.id, role: 'user', content: 'b', attachments: [loose] });
    await chat.call('threads.delete', { id: saved.id });
    await chat.app.imageSweep.idle();
    expect(fs.existsSync(fileOf(chat, shared))).toBe(false);
    expect(fs.existsSync(fileOf(chat, savedOnly))).toBe(false);
    expect(fs.readdirSync(path.join(chat.paths.images, STRAY_FOLDER)).sort()).toEqual([shared, savedOnly].map((a) => path.basename(fileOf(chat, a))).sort());
    expect(fs.existsSync(fileOf(chat, loose))).toBe(true);

    // every chat erased (Settings → Data): their images go, and so does everything set aside
    await chat.call('data.erase', { scope: 'threads' });
    await chat.app.imageSweep.idle();
    expect(fs.existsSync(fileOf(chat, loose))).toBe(false);
    expect(fs.readdirSync(path.join(chat.paths.images, STRAY_FOLDER))).toEqual([]);
  });

  test('an open temporary chat\'s images go when the app closes', async () => {
    const dir = tempDir('image-sweep-close-');
    const paths = ensureDataDir(dir);
    const engine = makeEngine();
    try {
      const app = composeApp({ paths, engine, appVersion: '0.0.0-test', logger: collectingLogger() });
      const png = testPng(7).toString('base64');
      const a = (await app.services.handle('images.store', { name: 'a.png', data: png })) as ImageAttachment;
      const tmp = app.store.temporary.threads.create({});
      app.store.temporary.messages.add({ threadId: tmp.id, role: 'user', content: '', attachments: [a] });
      await app.imageSweep.run();
      expect(fs.existsSync(path.join(paths.images, `${a.ref}.png`))).toBe(true);
      await app.close();
      expect(fs.existsSync(path.join(paths.images, `${a.ref}.png`))).toBe(false);
    } finally {
      await engine.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
