/**
 * The image store (main/chat/images.ts) on a real folder: what it keeps (PNG, JPEG, GIF, BMP by their
 * first bytes), what it refuses (other kinds, empty or oversize files, what is not base64), that one
 * image attached twice is one file written atomically, and that a ref names nothing but a hash.
 */
import fs from 'fs';
import path from 'path';
import { createHash } from 'crypto';
import { ImageStore } from '../../main/chat/images';
import { IpcError } from '../../main/ipc/contract';
import { IMAGE_KINDS, MAX_IMAGE_BYTES, MAX_IMAGE_CHARS } from '../../main/params';
import { tempDir } from '../helpers/engine';
import { testPng } from '../helpers/images';

let dir: string;
let images: ImageStore;

beforeEach(() => {
  dir = path.join(tempDir('images'), 'images');
  images = new ImageStore(dir);
});
afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

async function refusal(p: Promise<unknown>): Promise<IpcError> {
  const e = await p.then(
    () => {
      throw new Error('expected a refusal');
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(IpcError);
  return e as IpcError;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('a PNG is kept by its hash, with its kind and size, and read back as the same bytes', async () => {
  const png = testPng(3);
  const a = await images.add(png, 'photo.png');
  expect(a).toEqual({ type: 'image', ref: sha(png), name: 'photo.png', mimeType: 'image/png', size: png.length });
  const file = path.join(dir, `${sha(png)}.png`);
  expect(fs.readFileSync(file).equals(png)).toBe(true);
  expect(await images.find(a.ref)).toEqual({ file, kind: IMAGE_KINDS[0], size: png.length });
  expect(await images.dataUrl(a.ref)).toBe(`data:image/png;base64,${png.toString('base64')}`);
});

test('JPEG, GIF and BMP are known by their first bytes (whatever the name says)', async () => {
  const cases: [number[], string, string][] = [
    [[0xff, 0xd8, 0xff, 0xe0], 'image/jpeg', 'jpg'],
    [[...Buffer.from('GIF89a')], 'image/gif', 'gif'],
    [[...Buffer.from('GIF87a')], 'image/gif', 'gif'],
    [[...Buffer.from('BM')], 'image/bmp', 'bmp'],
  ];
  for (const [head, mimeType, ext] of cases) {
    const bytes = Buffer.concat([Buffer.from(head), Buffer.from(`rest of ${mimeType} ${ext}`)]);
    const a = await images.add(bytes, 'named.png');
    expect(a.mimeType).toBe(mimeType);
    expect(fs.existsSync(path.join(dir, `${a.ref}.${ext}`))).toBe(true);
  }
});

test('other kinds are refused naming the kinds read: WEBP, HEIC, text, an empty file', async () => {
  const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('WEBPVP8 '), Buffer.alloc(32)]);
  const heic = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypheic'), Buffer.alloc(16)]);
  for (const [bytes, name] of [[webp, 'a.webp'], [heic, 'b.heic'], [Buffer.from('just some text'), 'c.png']] as const) {
    const e = await refusal(images.add(bytes, name));
    expect(e.code).toBe('invalid_input');
    expect(e.message).toContain(name);
    expect(e.message).toMatch(/only PNG, JPEG, GIF or BMP files/);
  }
  expect((await refusal(images.add(Buffer.alloc(0), 'empty.png'))).code).toBe('invalid_input');
  // nothing was written, not even the folder
  expect(fs.existsSync(dir)).toBe(false);
});

test('the size bound is what base64 fits in MAX_IMAGE_CHARS: one byte more is too large', async () => {
  expect(Buffer.alloc(MAX_IMAGE_BYTES).toString('base64').length).toBeLessThanOrEqual(MAX_IMAGE_CHARS);
  expect(Buffer.alloc(MAX_IMAGE_BYTES + 3).toString('base64').length).toBeGreaterThan(MAX_IMAGE_CHARS);
  const big = Buffer.alloc(MAX_IMAGE_BYTES + 1);
  testPng(0).copy(big);
  const e = await refusal(images.add(big, 'huge.png'));
  expect(e.code).toBe('too_large');
  expect(e.message).toContain(String(MAX_IMAGE_BYTES));
  // the largest accepted is kept
  const most = big.subarray(0, MAX_IMAGE_BYTES);
  const a = await images.add(most, 'largest.png');
  expect(a.size).toBe(MAX_IMAGE_BYTES);
});

test('the same image twice is one file (no temporary file left behind)', async () => {
  const png = testPng(9);
  const a = await images.add(png, 'first.png');
  const b = await images.add(Buffer.from(png), 'second name.png');
  expect(b.ref).toBe(a.ref);
  expect(b.name).toBe('second name.png');
  expect(fs.readdirSync(dir)).toEqual([`${a.ref}.png`]);
  const c = await images.add(testPng(10), 'other.png');
  expect(c.ref).not.toBe(a.ref);
  expect(fs.readdirSync(dir).sort()).toEqual([`${a.ref}.png`, `${c.ref}.png`].sort());
});

test('base64 only: anything else is refused before it is decoded', async () => {
  const png = testPng(4);
  expect((await images.addBase64(png.toString('base64'), 'p.png')).ref).toBe(sha(png));
  for (const bad of [`data:image/png;base64,${png.toString('base64')}`, 'not base64!', 'abcde', png.toString('base64').replace(/=+$/, '') + '=x']) {
    expect((await refusal(images.addBase64(bad, 'p.png'))).code).toBe('invalid_input');
  }
});

test('a ref is a 64-digit hash, nothing else: no path reaches the file system', async () => {
  const png = testPng(1);
  const a = await images.add(png, 'p.png');
  for (const ref of ['../hearth.db', `${a.ref}/../../x`, a.ref.toUpperCase(), a.ref.slice(1), `${a.ref}.png`, '', `/${a.ref}`]) {
    expect((await refusal(images.find(ref))).code).toBe('invalid_input');
    expect((await refusal(images.dataUrl(ref))).code).toBe('invalid_input');
  }
  // a well-formed ref of an image never stored (or deleted since) is missing, and says which
  const gone = sha(Buffer.from('never stored'));
  expect(await images.find(gone)).toBeNull();
  const e = await refusal(images.get(gone, 'holiday.jpg'));
  expect(e.code).toBe('image_missing');
  expect(e.message).toContain('holiday.jpg');
  fs.rmSync(path.join(dir, `${a.ref}.png`));
  expect((await refusal(images.attachment({ ref: a.ref, name: 'p.png' }))).code).toBe('image_missing');
});

test("an attachment's kind and size are the stored file's, not what the caller says", async () => {
  const png = testPng(2);
  const a = await images.add(png, 'p.png');
  expect(await images.attachment({ ref: a.ref, name: 'renamed.png' })).toEqual({ ...a, name: 'renamed.png' });
});
