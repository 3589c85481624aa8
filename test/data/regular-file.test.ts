/**
 * Opening only a regular file, decided on the open descriptor (main/regular-file.ts), on a real folder: a
 * FIFO is told at once (its open does not wait for a writer), a folder is refused, a link is followed or
 * not as asked. Then the import's readers with a file replaced by a FIFO right after their first check:
 * the swap is made by a spy on fs's stat (the only double here: the race's timing cannot be reached
 * otherwise), and each reader refuses the FIFO promptly rather than blocking on it (before, detection's
 * open waited for a writer that never came, and the sync sniff would have blocked the whole process).
 * And a file another program holds a lease on (a real one, placed by Python's fcntl): the open waits for it
 * to be given up rather than failing with O_NONBLOCK's EAGAIN.
 */
import { execFileSync, spawn } from 'child_process';
import fs from 'fs';
import path from 'path';
import { detectFormat, openImport } from '../../main/data/formats/detect';
import { readHearthThreads } from '../../main/data/formats/hearth';
import { openSource, ownFormat } from '../../main/data/import-sources';
import { closeFd, openForReading, openRegularFile, openRegularFileSync, waitingForLease } from '../../main/regular-file';
import { cleanupDirs, closeStores, openStore, tmpDir } from '../store/helpers';
import { janFolder, SEC } from './folder-helpers';

const posix = process.platform !== 'win32';
const fifos: string[] = [];

afterEach(() => {
  jest.restoreAllMocks();
  // a reader that did block on a FIFO is let go (a writer opens it), so no thread stays blocked
  for (const f of fifos.splice(0)) {
    try { fs.closeSync(fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); } catch { /* no reader waits */ }
  }
  closeStores();
  cleanupDirs();
});

function mkfifo(file: string): string {
  execFileSync('mkfifo', [file]);
  fifos.push(file);
  return file;
}

(posix ? describe : describe.skip)('openRegularFile', () => {
  test('a regular file: its descriptor and stat; a FIFO and a folder: null at once; a link followed, or null with follow: false', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'a.json');
    fs.writeFileSync(file, '[]');
    const opened = await openRegularFile(file);
    expect(opened?.st.size).toBe(2);
    expect(fs.readFileSync(opened!.fd, 'utf8')).toBe('[]');
    await closeFd(opened!.fd);
    const fifo = mkfifo(path.join(dir, 'pipe.json'));
    expect(await openRegularFile(fifo)).toBeNull();
    expect(openRegularFileSync(fifo)).toBeNull();
    expect(await openRegularFile(dir)).toBeNull();
    expect(openRegularFileSync(dir)).toBeNull();
    const link = path.join(dir, 'link.json');
    fs.symlinkSync(file, link);
    const viaLink = openRegularFileSync(link);
    expect(viaLink?.st.size).toBe(2);
    fs.closeSync(viaLink!.fd);
    expect(await openRegularFile(link, { follow: false })).toBeNull();
    expect(openRegularFileSync(link, { follow: false })).toBeNull();
    await expect(openRegularFile(path.join(dir, 'gone.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test("a file replaced by a FIFO between the helper's own first look and its open: the open descriptor decides (null, at once)", async () => {
    const file = path.join(tmpDir(), 'a.json');
    fs.writeFileSync(file, '[]');
    const swap = () => {
      fs.rmSync(file);
      mkfifo(file);
    };
    const stat = fs.promises.stat.bind(fs.promises);
    jest.spyOn(fs.promises, 'stat').mockImplementationOnce(async (p, o) => {
      const st = await stat(p, o as never);
      swap();
      return st as never;
    });
    expect(await openRegularFile(file)).toBeNull();
    fs.rmSync(file);
    fs.writeFileSync(file, '[]');
    const statSync = fs.statSync.bind(fs);
    jest.spyOn(fs, 'statSync').mockImplementationOnce(((p: fs.PathLike, o?: never) => {
      const st = statSync(p, o);
      swap();
      return st;
    }) as typeof fs.statSync);
    expect(openRegularFileSync(file)).toBeNull();
  }, 10_000);
});

/**
 * A program holding a write lease on `file` (Linux's fcntl F_SETLEASE, as a Samba or NFS server holds one on
 * a file it serves), given up `releaseMs` after another process's open asks for it; resolves once it holds it.
 * Python's fcntl places it (Node has no call for it).
 */
async function leaseHolder(file: string, releaseMs: number): Promise<{ released: Promise<void>; stop: () => void }> {
  const script = [
    'import fcntl, os, signal, sys, time',
    'fd = os.open(sys.argv[1], os.O_RDONLY)',
    'def on_break(sig, frame):',
    '    time.sleep(float(sys.argv[2]) / 1000)',
    '    fcntl.fcntl(fd, 1024, fcntl.F_UNLCK)',
    '    print("released", flush=True)',
    'signal.signal(signal.SIGIO, on_break)',
    'fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)',
    'print("leased", flush=True)',
    'time.sleep(30)',
  ].join('\n');
  const child = spawn('python3', ['-c', script, file, String(releaseMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const saw = (word: string) => new Promise<void>((resolve, reject) => {
    const check = () => { if (out.includes(word)) resolve(); };
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); check(); });
    child.on('exit', (code) => (out.includes(word) ? resolve() : reject(new Error(`the lease holder ended (${code}) before it ${word}`))));
    check();
  });
  const leased = saw('leased');
  const released = saw('released');
  released.catch(() => undefined);
  await leased;
  return { released, stop: () => child.kill() };
}

const leasesHere = process.platform === 'linux' && fs.existsSync('/proc/sys/fs/leases-enable') && fs.readFileSync('/proc/sys/fs/leases-enable', 'utf8').trim() === '1';

(leasesHere ? describe : describe.skip)("another program's lease on the file", () => {
  test('an open waits, with timers, until the lease is given up, then reads; a synchronous open answers EAGAIN at once', async () => {
    const file = path.join(tmpDir(), 'served.json');
    fs.writeFileSync(file, '[]');
    const holder = await leaseHolder(file, 400);
    try {
      // the synchronous open cannot wait: O_NONBLOCK's answer (and it starts the lease's break)
      expect(() => openRegularFileSync(file)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^(EAGAIN|EWOULDBLOCK)$/) }));
      const started = Date.now();
      const opened = await openRegularFile(file);
      await holder.released;
      expect(Date.now() - started).toBeGreaterThanOrEqual(300);
      expect(fs.readFileSync(opened!.fd, 'utf8')).toBe('[]');
      await closeFd(opened!.fd);
    } finally {
      holder.stop();
    }
    // a model file's open (main/gguf, discovery) waits as well
    const model = path.join(tmpDir(), 'model.gguf');
    fs.writeFileSync(model, 'GGUF');
    const second = await leaseHolder(model, 300);
    try {
      const fh = await openForReading(model);
      await second.released;
      expect((await fh.readFile()).toString()).toBe('GGUF');
      await fh.close();
      // a lease not given up within the wait: its EAGAIN; a cancel ends the wait at once
      const third = path.join(tmpDir(), 'held.json');
      fs.writeFileSync(third, '{}');
      const stubborn = await leaseHolder(third, 5000);
      try {
        await expect(waitingForLease(() => fs.promises.open(third, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), { waitMs: 200 })).rejects.toMatchObject({ code: 'EAGAIN' });
        const stop = new AbortController();
        setTimeout(() => stop.abort(new Error('cancelled')), 100);
        const asked = Date.now();
        await expect(openRegularFile(third, { signal: stop.signal })).rejects.toMatchObject({ name: 'AbortError' });
        expect(Date.now() - asked).toBeLessThan(2000);
      } finally {
        stubborn.stop();
      }
    } finally {
      second.stop();
    }
  }, 20_000);
});

(posix ? describe : describe.skip)('a FIFO among the files', () => {
  test('an LM Studio folder: a conversation file that is a FIFO or a link is named in a note, never read; the others are read', async () => {
    const dir = tmpDir();
    fs.cpSync(path.resolve(__dirname, '../fixtures/imports/lmstudio'), dir, { recursive: true });
    const fifo = mkfifo(path.join(dir, 'Work', '1700000300000.conversation.json'));
    // a link to a conversation outside the folder is not followed either
    const outside = path.join(tmpDir(), 'private.json');
    fs.copyFileSync(path.join(dir, '1700000000000.conversation.json'), outside);
    fs.symlinkSync(outside, path.join(dir, 'Work', '1700000400000.conversation.json'));
    const read = async () => {
      const all: unknown[] = [];
      for await (const c of (await openImport(dir, 'auto')).conversations()) all.push('sourceId' in c ? c.sourceId : c);
      return all;
    };
    const note = (id: string) => ({ skipped: { reason: `an LM Studio conversation that could not be read (${id} is not a regular file (a link, a folder, a FIFO, a device or a socket))` } });
    expect(await read()).toEqual([
      '1700000000000.conversation.json', 'Work/1700000100000.conversation.json',
      note('Work/1700000300000.conversation.json'), note('Work/1700000400000.conversation.json'),
    ]);
    // a folder holding only such a file is still LM Studio's: the note says why nothing was read
    const only = tmpDir();
    fs.renameSync(fifo, path.join(only, '1700000300000.conversation.json'));
    fifos.push(path.join(only, '1700000300000.conversation.json'));
    expect(await detectFormat(only)).toBe('lmstudio');
  }, 10_000);

  test("a Jan folder: a thread whose messages.jsonl is a FIFO, whose thread.json is a link, or whose folder is a link, is named in a note, never read; an assistant.json that is a FIFO too; the others are read; a thread folder alone: the error", async () => {
    const root = janFolder(4);
    const threads = fs.readdirSync(path.join(root, 'threads')).sort();
    const fifo = mkfifo(path.join(root, 'threads', threads[1], 'messages.jsonl.fifo'));
    fs.rmSync(path.join(root, 'threads', threads[1], 'messages.jsonl'));
    fs.renameSync(fifo, path.join(root, 'threads', threads[1], 'messages.jsonl'));
    fifos.push(path.join(root, 'threads', threads[1], 'messages.jsonl'));
    // a link to a thread.json outside the folder is not followed
    const outside = path.join(tmpDir(), 'thread.json');
    fs.renameSync(path.join(root, 'threads', threads[2], 'thread.json'), outside);
    fs.symlinkSync(outside, path.join(root, 'threads', threads[2], 'thread.json'));
    // a link where a thread folder would be: named, not followed
    const elsewhere = janFolder(1, { prefix: 'elsewhere' });
    const linked = path.join(root, 'threads', 'linked');
    fs.symlinkSync(path.join(elsewhere, 'threads', fs.readdirSync(path.join(elsewhere, 'threads'))[0]), linked);
    const assistant = path.join(root, 'assistants', 'jan', 'assistant.json');
    fs.rmSync(assistant);
    mkfifo(assistant);
    const store = openStore();
    const src = await openSource(store, () => { throw new Error('not a reader format'); }, root, 'auto', () => SEC * 1000);
    const units: unknown[] = [];
    for await (const u of src.units()) units.push('skipped' in u ? u.skipped.reason : u.sourceId);
    const notRegular = (file: string) => `${file} is not a regular file (a link, a folder, a FIFO, a device or a socket)`;
    expect(units).toEqual([
      `a Jan assistant that could not be imported, its chats given the default one (${notRegular(assistant)})`,
      `a link in a Jan folder, not followed (${linked})`,
      threads[0],
      `a Jan thread that could not be imported (${notRegular(path.join(root, 'threads', threads[1], 'messages.jsonl'))})`,
      `a Jan thread that could not be imported (${notRegular(path.join(root, 'threads', threads[2], 'thread.json'))})`,
      threads[3],
    ]);
    // a `threads` or `assistants` that is a link is not followed either: named, or (threads) the error says so
    const linkedThreads = tmpDir();
    fs.symlinkSync(path.join(elsewhere, 'threads'), path.join(linkedThreads, 'threads'));
    await expect(openSource(store, () => { throw new Error('not a reader format'); }, linkedThreads, 'jan', () => 0))
      .rejects.toMatchObject({ code: 'import_failed', message: expect.stringContaining(`${path.join(linkedThreads, 'threads')} is a link, which Hearth does not follow`) });
    const linkedAssistants = janFolder(1, { prefix: 'own' });
    fs.rmSync(path.join(linkedAssistants, 'assistants'), { recursive: true });
    fs.symlinkSync(path.join(elsewhere, 'assistants'), path.join(linkedAssistants, 'assistants'));
    const withLink = await openSource(store, () => { throw new Error('not a reader format'); }, linkedAssistants, 'jan', () => 0);
    const seen: unknown[] = [];
    for await (const u of withLink.units()) seen.push('skipped' in u ? u.skipped.reason : u.sourceId);
    expect(seen).toEqual([`a link in a Jan folder, not followed (${path.join(linkedAssistants, 'assistants')})`, `own_${SEC}`]);
    // one thread folder given alone: its error
    await expect(openSource(store, () => { throw new Error('not a reader format'); }, path.join(root, 'threads', threads[1]), 'jan', () => 0)
      .then(async (one) => { for await (const u of one.units()) void u; }))
      .rejects.toMatchObject({ code: 'import_failed', message: notRegular(path.join(root, 'threads', threads[1], 'messages.jsonl')) });
  }, 10_000);
});

(posix ? describe : describe.skip)('a file replaced by a FIFO after the reader checked it', () => {
  /** A regular file that becomes a FIFO as soon as fs's stat (async or sync) has looked at it. */
  function swappedAfterStat(name: string, text: string) {
    const file = path.join(tmpDir(), name);
    fs.writeFileSync(file, text);
    const swap = () => {
      if (fs.existsSync(file) && fs.lstatSync(file).isFile()) {
        fs.rmSync(file);
        mkfifo(file);
      }
    };
    const stat = fs.promises.stat.bind(fs.promises);
    jest.spyOn(fs.promises, 'stat').mockImplementation(async (p, o) => {
      const st = await stat(p, o as never);
      if (p === file) swap();
      return st as never;
    });
    const statSync = fs.statSync.bind(fs);
    jest.spyOn(fs, 'statSync').mockImplementation(((p: fs.PathLike, o?: never) => {
      const st = statSync(p, o);
      if (p === file) swap();
      return st;
    }) as typeof fs.statSync);
    return file;
  }

  test('detection refuses it (it waited for a writer before)', async () => {
    const file = swappedAfterStat('conversations.json', '[{"mapping":{}}]');
    await expect(detectFormat(file)).rejects.toThrow(/conversations\.json is not a regular file/);
  }, 10_000);

  test("Hearth JSON's reader refuses it", async () => {
    const file = swappedAfterStat('chats.json', '{"format":"hearth.threads","version":3,"exportedAt":0,"threads":[]}');
    await expect((async () => { for await (const t of readHearthThreads(file)) void t; })()).rejects.toThrow(/chats\.json is not a regular file/);
  }, 10_000);

  test('the sniff of its first bytes reads none of it', async () => {
    const file = swappedAfterStat('chats.json', '{"format":"hearth.threads","version":3,"exportedAt":0,"threads":[]}');
    expect(await ownFormat(file, 'auto')).toBeNull();
  });
});
