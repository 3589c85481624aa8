/** Reading files Hearth did not write (readRegularFile) and the kept documents (DocFiles), on a real temporary folder. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DocFiles, readRegularFile } from '../../main/docs/files';

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
