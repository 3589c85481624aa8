/**
 * Reading files Hearth did not write (readRegularFile) and the kept documents (DocFiles), on a real
 * temporary folder; the documents' folder's sweep (main/file-sweep.ts with docFileOf) on a real folder
 * and a real store, and through the app (composeApp): at start, a file no document's row names, older
 * than its grace, goes, as does a crashed write's temporary file.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DocFiles, docFileOf } from '../../main/docs/files';
import { FileSweep, STRAY_FOLDER, STRAY_KEEP_MS, type SweepResult } from '../../main/file-sweep';
import { readRegularFile } from '../../main/regular-file';
import { DocGarbage, STRAY_FILE_GRACE_MS } from '../../main/docs/garbage';
import { chatApp, type ChatApp } from '../helpers/chat';
import { collectingLogger } from '../helpers/engine';
import { closeStores, openStore } from '../store/helpers';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-files-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const posix = process.platform !== 'win32';

describe('readRegularFile', () => {
  test('a regular file: its bytes, up to and at the limit', async () => {
    const file = path.join(dir, 'notes.txt');
    fs.writeFileSync(file, 'owls at dusk');
    expect((await readRegularFile(file, 1024))?.toString()).toBe('owls at dusk');
    expect((await readRegularFile(file, 12))?.toString()).toBe('owls at dusk');
    fs.writeFileSync(path.join(dir, 'empty'), '');
    expect((await readRegularFile(path.join(dir, 'empty'), 0))?.length).toBe(0);
  });

  test('a file larger than the limit: null', async () => {
    const file = path.join(dir, 'big.bin');
    fs.writeFileSync(file, Buffer.alloc(5 * 1024 * 1024, 7));
    expect(await readRegularFile(file, 5 * 1024 * 1024 - 1)).toBeNull();
    expect((await readRegularFile(file, 5 * 1024 * 1024))?.length).toBe(5 * 1024 * 1024);
  });

  test('gone, or a folder: null', async () => {
    expect(await readRegularFile(path.join(dir, 'nothing-here'), 1024)).toBeNull();
    fs.mkdirSync(path.join(dir, 'sub'));
    expect(await readRegularFile(path.join(dir, 'sub'), 1024)).toBeNull();
  });

  (posix ? test : test.skip)('a symbolic link, even to a regular file: null', async () => {
    const target = path.join(dir, 'real.txt');
    fs.writeFileSync(target, 'the real one');
    fs.symlinkSync(target, path.join(dir, 'link.txt'));
    expect(await readRegularFile(path.join(dir, 'link.txt'), 1024)).toBeNull();
    expect((await readRegularFile(target, 1024))?.toString()).toBe('the real one');
  });

  (posix ? test : test.skip)('a FIFO with no writer: null, at once (opening it does not wait for a writer)', async () => {
    const fifo = path.join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise((resolve) => (timer = setTimeout(() => resolve('hung'), 5000)));
    const answer = await Promise.race([readRegularFile(fifo, 1024), hung]);
    clearTimeout(timer);
    expect(answer).toBeNull();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  (fs.existsSync('/dev/zero') ? test : test.skip)('a device (/dev/zero, endless): null', async () => {
    expect(await readRegularFile('/dev/zero', 1024)).toBeNull();
  });

  test('an aborted read rejects with the reason', async () => {
    const file = path.join(dir, 'a.txt');
    fs.writeFileSync(file, 'text');
    const ac = new AbortController();
    ac.abort(new Error('stopped by the test'));
    await expect(readRegularFile(file, 1024, ac.signal)).rejects.toThrow('stopped by the test');
  });
});

describe('DocFiles', () => {
  test('put keeps the bytes by their hash; get reads them back; a link in their place is not followed', async () => {
    const files = new DocFiles(path.join(dir, 'documents'));
    const hash = await files.put(Buffer.from('a kept document'));
    expect((await files.get(hash))?.toString()).toBe('a kept document');
    if (!posix) return;
    const outside = path.join(dir, 'outside.txt');
    fs.writeFileSync(outside, 'not a document');
    fs.rmSync(path.join(dir, 'documents', hash));
    fs.symlinkSync(outside, path.join(dir, 'documents', hash));
    expect(await files.get(hash)).toBeNull();
  });
});

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
/** Makes a file look older than the documents' folder's grace. */
const age = (file: string) => {
  const t = (Date.now() - STRAY_FILE_GRACE_MS - 60_000) / 1000;
  fs.lutimesSync(file, t, t);
};

describe("the documents' folder's sweep", () => {
  afterEach(() => closeStores());

  test('names: a document\'s hash and a write\'s temporary file only', () => {
    const h = 'a'.repeat(64);
    expect(docFileOf(h)).toEqual({ kind: 'stored', ref: h });
    expect(docFileOf(`.${h}.0123456789ab.tmp`)).toEqual({ kind: 'temporary', ref: h });
    for (const other of ['A'.repeat(64), `${h}.txt`, `${h}x`, 'a'.repeat(63), `.${h}.tmp`, 'notes.txt', '.', '..']) expect(docFileOf(other)).toBeNull();
  });

  test('put of content kept already restarts its file\'s time (its row is being written: the sweep leaves it)', async () => {
    const files = new DocFiles(path.join(dir, 'documents'));
    const hash = await files.put(Buffer.from('kept twice'));
    const file = path.join(files.dir, hash);
    age(file);
    const before = fs.statSync(file).mtimeMs;
    expect(await files.put(Buffer.from('kept twice'))).toBe(hash);
    expect(fs.statSync(file).mtimeMs).toBeGreaterThan(before + STRAY_FILE_GRACE_MS);
  });

  test("on a real folder and store: a file no row names is set aside once older than the grace (taken back when a row names it again, deleted after 30 days), an old temporary file deleted; a row's file, young files, links, folders and other names stay", async () => {
    const store = openStore();
    const files = new DocFiles(path.join(dir, 'documents'));
    const kept = await files.put(Buffer.from('a document with its row'));
    store.docs.ensureDocument({ hash: kept, kind: 'text', size: 23 });
    const stray = await files.put(Buffer.from('a killed import left me'));
    const young = await files.put(Buffer.from('my row is being written'));
    const oldTmp = `.${sha('x')}.0123456789ab.tmp`;
    const youngTmp = `.${sha('y')}.0123456789ab.tmp`;
    for (const n of [oldTmp, youngTmp, 'notes.txt']) fs.writeFileSync(path.join(files.dir, n), 'x');
    fs.mkdirSync(path.join(files.dir, sha('folder')));
    if (posix) fs.symlinkSync(path.join(dir, 'elsewhere'), path.join(files.dir, sha('link')));
    for (const n of [kept, stray, oldTmp, 'notes.txt', sha('folder')]) age(path.join(files.dir, n));
    if (posix) age(path.join(files.dir, sha('link')));
    const logger = collectingLogger();
    // the documents' garbage as the app makes it (main/docs/garbage.ts), its sweep run alone
    const garbage = new DocGarbage({ store, files, logger, cancelHash: () => undefined });
    const r = (await garbage.sweepFiles()) as SweepResult;
    expect(r.deleted).toEqual([oldTmp]);
    expect(r.setAside).toEqual([stray]);
    const left = fs.readdirSync(files.dir).sort();
    expect(left).toEqual([kept, young, youngTmp, 'notes.txt', sha('folder'), STRAY_FOLDER, ...(posix ? [sha('link')] : [])].sort());
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER))).toEqual([stray]);
    expect(logger.lines.some((l) => /docs: set aside the files no document is/.test(l))).toBe(true);
    // a row names it again (a restore undone): get takes it back into place
    store.docs.ensureDocument({ hash: stray, kind: 'text', size: 23 });
    expect((await files.get(stray))?.toString()).toBe('a killed import left me');
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER))).toEqual([]);
    expect(fs.existsSync(path.join(files.dir, stray))).toBe(true);
    /** its row gone (a backup restored), an hour old: set aside again by the next sweep */
    const setAsideAgain = async () => {
      store.db.prepare('DELETE FROM documents WHERE hash = ?').run(stray);
      age(path.join(files.dir, stray));
      await garbage.sweepFiles();
      expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER))).toEqual([stray]);
    };
    await setAsideAgain();
    // a row naming it again takes it back at the next sweep too, without a read (a restore undone, its documents indexed already)
    store.docs.ensureDocument({ hash: stray, kind: 'text', size: 23 });
    await garbage.sweepFiles();
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER))).toEqual([]);
    expect(fs.existsSync(path.join(files.dir, stray))).toBe(true);
    // set aside again, then deleted once 30 days have passed, and only then
    await setAsideAgain();
    const later = (days: number) => new DocGarbage({ store, files, logger, cancelHash: () => undefined, clock: () => Date.now() + days * 86_400_000 });
    // 29 days on: the young file, no row ever naming it, is set aside too (its 30 days count from now)
    await later(29).sweepFiles();
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER)).sort()).toEqual([stray, young].sort());
    await later(STRAY_KEEP_MS / 86_400_000 + 1).sweepFiles();
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER))).toEqual([young]);
    expect(await files.get(stray)).toBeNull();
    // with nothing left to set aside in the folder, the stray folder is still tended: 31 days after the young one went
    expect(fs.readdirSync(files.dir).filter((n) => docFileOf(n)?.kind === 'stored' && fs.lstatSync(path.join(files.dir, n)).isFile() && n !== kept)).toEqual([]);
    await later(29 + STRAY_KEEP_MS / 86_400_000 + 1).sweepFiles();
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER))).toEqual([]);
    // a store that cannot answer (closed): nothing goes, the failure is logged
    const closed = openStore();
    closed.close();
    age(path.join(files.dir, kept));
    const before = fs.readdirSync(files.dir).sort();
    expect(await new DocGarbage({ store: closed, files, logger, cancelHash: () => undefined }).sweepFiles()).toEqual({ deleted: [], setAside: [], kept: 0 });
    expect(fs.readdirSync(files.dir).sort()).toEqual(before);
    expect(logger.lines.some((l) => /docs: the sweep of .* failed: .*not open/.test(l))).toBe(true);
  });

  (posix ? test : test.skip)('a .stray that is not a folder (a file, a link someone put there): nothing goes into it; the file is deleted, as before there was a stray folder', async () => {
    const store = openStore();
    const files = new DocFiles(path.join(dir, 'documents'));
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    for (const plant of [() => fs.writeFileSync(path.join(files.dir, STRAY_FOLDER), 'x'), () => fs.symlinkSync(elsewhere, path.join(files.dir, STRAY_FOLDER))]) {
      const stray = await files.put(Buffer.from('no row names me'));
      age(path.join(files.dir, stray));
      fs.rmSync(path.join(files.dir, STRAY_FOLDER), { force: true });
      plant();
      const logger = collectingLogger();
      expect(await new DocGarbage({ store, files, logger, cancelHash: () => undefined }).sweepFiles()).toMatchObject({ deleted: [stray], setAside: [] });
      expect(fs.existsSync(path.join(files.dir, stray))).toBe(false);
      expect(fs.readdirSync(elsewhere)).toEqual([]);
      expect(fs.lstatSync(path.join(files.dir, STRAY_FOLDER)).isDirectory()).toBe(false);
      expect(logger.lines.filter((l) => /\.stray is not a folder: the files nothing refers to are deleted, not set aside/.test(l))).toHaveLength(1);
    }
  });

  test('dispose: kept when stored again meanwhile or named again; deleted when discarded, else set aside; Erase all chats deletes what cannot be set aside', async () => {
    const store = openStore();
    const files = new DocFiles(path.join(dir, 'documents'));
    const logger = collectingLogger();
    const names = new Set<string>();
    const sweep = new FileSweep({ dir: files.dir, label: 'docs', refersTo: 'no document is', fileOf: docFileOf, referenced: () => names, graceMs: STRAY_FILE_GRACE_MS, logger, setAside: true, maxBytes: 64 });
    const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((t) => files.put(Buffer.from(`document ${t}`))));
    for (const h of [a, b, c, d]) age(path.join(files.dir, h));
    // a: stored again after it was let go, before the step runs (a put's time restarted: as put does, at once
    // here, as the step runs after); b: a row names it again
    const disposed = [sweep.dispose(a, { discard: true }), sweep.dispose(b, { discard: true })];
    fs.utimesSync(path.join(files.dir, a), new Date(), new Date());
    names.add(b);
    await Promise.all(disposed);
    expect([fs.existsSync(path.join(files.dir, a)), fs.existsSync(path.join(files.dir, b))]).toEqual([true, true]);
    names.delete(b);
    // c: let go for good; d: let go (a saved chat's), set aside
    await sweep.dispose(c, { discard: true });
    await sweep.dispose(d, { discard: false });
    expect(fs.existsSync(path.join(files.dir, c))).toBe(false);
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER))).toEqual([d]);
    // a set-aside copy larger than a document may be is never read to be taken back
    const big = 'x'.repeat(100);
    fs.writeFileSync(path.join(files.dir, STRAY_FOLDER, sha(big)), big);
    names.add(sha(big));
    await sweep.run();
    expect(fs.existsSync(path.join(files.dir, sha(big)))).toBe(false);
    names.delete(sha(big));
    // every chat erased: e, whose place in the stray folder a folder took (it cannot be set aside), is deleted, and the stray folder emptied
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER)).sort()).toEqual([b, d, sha(big)].sort());
    const e = await files.put(Buffer.from('document e'));
    age(path.join(files.dir, e));
    fs.mkdirSync(path.join(files.dir, STRAY_FOLDER, e));
    expect(await sweep.run([], { emptyStray: true })).toMatchObject({ deleted: [e], setAside: [] });
    expect(fs.existsSync(path.join(files.dir, e))).toBe(false);
    expect(fs.readdirSync(path.join(files.dir, STRAY_FOLDER))).toEqual([e]); // (the folder: not a file Hearth deletes)
    store.close();
  });

  describe('in the app', () => {
    let opened: ChatApp | null = null;
    afterEach(async () => {
      await opened?.close();
      opened = null;
    });

    test('at start the sweep sets aside what a killed import left (a file no row names, past its grace) and deletes a write\'s temporary file', async () => {
      const stray = sha('a killed import left me');
      const tmp = `.${sha('half written')}.0123456789ab.tmp`;
      const young = sha('being written');
      opened = chatApp({
        model: null,
        prepare: (paths) => {
          fs.mkdirSync(paths.documents, { recursive: true });
          for (const n of [stray, tmp, young]) fs.writeFileSync(path.join(paths.documents, n), n);
          age(path.join(paths.documents, stray));
          age(path.join(paths.documents, tmp));
        },
      });
      await opened.app.docs.garbage.swept();
      expect(fs.readdirSync(opened.paths.documents).sort()).toEqual([STRAY_FOLDER, young].sort());
      expect(fs.readdirSync(path.join(opened.paths.documents, STRAY_FOLDER))).toEqual([stray]);
    });
  });
});
