/**
 * The image store (main/chat/images.ts) on a real folder: what it keeps (PNG, JPEG, GIF, BMP by their
 * first bytes, with the width and height their headers declare), what it refuses (other kinds, empty or
 * oversize files, headers that cannot be read, more pixels than the engine reads, what is not base64),
 * that one image attached twice is one file written atomically, that a ref names nothing but a hash,
 * and that what lies in the folder is not trusted (a link or an oversize file there is never read).
 */
import fs from 'fs';
import path from 'path';
import { createHash } from 'crypto';
import { ImageStore } from '../../main/chat/images';
import { AttachmentDTO, ImageAttachment, IpcError } from '../../main/ipc/contract';
import { IMAGE_KINDS, MAX_IMAGE_BYTES, MAX_IMAGE_CHARS, MAX_IMAGE_PIXELS } from '../../main/params';
import { attachmentSchema } from '../../main/store/validation';
import { tempDir } from '../helpers/engine';
import { bmpImage, gifImage, jpegHeader, pngDeclaring, testPng } from '../helpers/images';

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
  expect(a).toEqual({ type: 'image', ref: sha(png), name: 'photo.png', mimeType: 'image/png', size: png.length, width: 48, height: 40 });
  const file = path.join(dir, `${sha(png)}.png`);
  expect(fs.readFileSync(file).equals(png)).toBe(true);
  expect(await images.find(a.ref)).toEqual({ file, kind: IMAGE_KINDS[0], size: png.length });
  expect(await images.dataUrl(a.ref)).toBe(`data:image/png;base64,${png.toString('base64')}`);
});

test('JPEG, GIF and BMP are known by their first bytes (whatever the name says), with the size their headers declare', async () => {
  const cases: [Buffer, string, string, number, number][] = [
    [jpegHeader(640, 480), 'image/jpeg', 'jpg', 640, 480],
    [gifImage(30, 20), 'image/gif', 'gif', 30, 20],
    [Buffer.concat([Buffer.from('GIF87a'), gifImage(7, 9).subarray(6)]), 'image/gif', 'gif', 7, 9],
    [bmpImage(5, 3, [200, 100, 50]), 'image/bmp', 'bmp', 5, 3],
  ];
  for (const [bytes, mimeType, ext, width, height] of cases) {
    const a = await images.add(bytes, 'named.png');
    expect(a).toMatchObject({ mimeType, width, height });
    expect(fs.existsSync(path.join(dir, `${a.ref}.${ext}`))).toBe(true);
  }
});

test('an image whose width and height cannot be read is refused: a header cut short or damaged, bytes after a known start', async () => {
  const png = testPng(5);
  const cases: [Buffer, RegExp][] = [
    [png.subarray(0, 20), /PNG/],
    [Buffer.concat([png.subarray(0, 8), Buffer.from('garbage after the signature')]), /PNG/],
    [Buffer.from('BM'), /BMP/],
    [Buffer.concat([Buffer.from('BM'), Buffer.from('rest of a bitmap')]), /BMP/],
    [bmpImage(4, 4).subarray(0, 20), /BMP/],
    [Buffer.from('GIF89a'), /GIF/],
    [Buffer.concat([Buffer.from('GIF89a'), Buffer.alloc(7)]), /GIF/],
    [Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 4, 0, 0]), /JPEG/],
    [jpegHeader(0, 10), /JPEG/],
  ];
  for (const [bytes, kind] of cases) {
    const e = await refusal(images.add(bytes, 'broken.img'));
    expect(e.code).toBe('invalid_input');
    expect(e.message).toMatch(/^broken\.img: its width and height cannot be read \(a truncated or damaged /);
    expect(e.message).toMatch(kind);
  }
  expect(fs.existsSync(dir)).toBe(false);
});

test('an image of more pixels than the engine reads of one is refused; one at the bound is kept with its size', async () => {
  for (const [w, h] of [[8193, 8192], [8192, 8193], [MAX_IMAGE_PIXELS + 1, 1], [100_000, 100_000]]) {
    const e = await refusal(images.add(pngDeclaring(w, h), 'poster.png'));
    expect(e.code).toBe('invalid_input');
    expect(e.message).toBe(`poster.png is ${w}x${h} pixels; a model reads at most ${MAX_IMAGE_PIXELS} pixels of one image (8192 x 8192): scale it down`);
  }
  expect(fs.existsSync(dir)).toBe(false);
  expect(8192 * 8192).toBe(MAX_IMAGE_PIXELS);
  const most = await images.add(pngDeclaring(8192, 8192), 'most.png');
  expect(most).toMatchObject({ width: 8192, height: 8192 });
  const tall = await images.add(pngDeclaring(1, MAX_IMAGE_PIXELS), 'tall.png');
  expect(tall).toMatchObject({ width: 1, height: MAX_IMAGE_PIXELS });
  expect(ImageAttachment.parse(tall)).toEqual(tall);
});

test("an attachment of before width and height were recorded still parses (the contract's and the store's shape)", () => {
  const old = { type: 'image', ref: 'a'.repeat(64), name: 'old.png', mimeType: 'image/png', size: 100 };
  expect(AttachmentDTO.parse(old)).toEqual(old);
  expect(attachmentSchema.parse(old)).toEqual(old);
  expect(ImageAttachment.parse(old)).toEqual(old);
  expect(ImageAttachment.safeParse({ ...old, width: 0, height: 5 }).success).toBe(false);
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

test('a link where an image should be is refused, never followed; storing the image again puts the file back', async () => {
  const png = testPng(6);
  const a = await images.add(png, 'p.png');
  const file = path.join(dir, `${a.ref}.png`);
  // a file outside the folder that the link would reach (an image too, so that following it would work)
  const outside = path.join(path.dirname(dir), 'outside.png');
  const secret = testPng(7);
  fs.writeFileSync(outside, secret);
  fs.rmSync(file);
  fs.symlinkSync(outside, file);
  // each call made when it is awaited: a refusal made earlier would be unhandled until its turn
  for (const call of [() => images.find(a.ref, 'p.png'), () => images.get(a.ref, 'p.png'), () => images.dataUrl(a.ref), () => images.attachment({ ref: a.ref, name: 'p.png' })]) {
    const e = await refusal(call());
    expect(e.code).toBe('image_missing');
    expect(e.message).toMatch(/is not a regular file \(a link or a folder took its place\): it is not read/);
  }
  // a folder there is no image either
  fs.rmSync(file);
  fs.mkdirSync(file);
  expect((await refusal(images.dataUrl(a.ref))).message).toMatch(/is not a regular file/);
  fs.rmdirSync(file);
  fs.symlinkSync(outside, file);
  // the same image stored again replaces the link with the file (the link's target untouched)
  expect(await images.add(png, 'p.png')).toEqual(a);
  expect(fs.lstatSync(file).isFile()).toBe(true);
  expect(fs.readFileSync(file).equals(png)).toBe(true);
  expect(fs.readFileSync(outside).equals(secret)).toBe(true);
  expect(await images.dataUrl(a.ref)).toBe(`data:image/png;base64,${png.toString('base64')}`);
  expect(fs.readdirSync(dir)).toEqual([`${a.ref}.png`]);
});

test('a file larger than an image may be is refused before it is read; a file of another size is rewritten by storing the image again', async () => {
  const png = testPng(8);
  const a = await images.add(png, 'p.png');
  const file = path.join(dir, `${a.ref}.png`);
  const big = Buffer.alloc(MAX_IMAGE_BYTES + 1);
  png.copy(big);
  fs.writeFileSync(file, big);
  for (const call of [() => images.get(a.ref, 'p.png'), () => images.dataUrl(a.ref), () => images.attachment({ ref: a.ref, name: 'p.png' })]) {
    const e = await refusal(call());
    expect(e.code).toBe('image_missing');
    expect(e.message).toContain(`has ${MAX_IMAGE_BYTES + 1} bytes, more than an image may have (${MAX_IMAGE_BYTES}): it is not read`);
  }
  // a file cut short: kept by find (its size is an image's), rewritten when the image is stored again
  fs.writeFileSync(file, png.subarray(0, 10));
  expect(await images.find(a.ref)).toMatchObject({ size: 10 });
  expect((await refusal(images.attachment({ ref: a.ref, name: 'p.png' }))).code).toBe('invalid_input');
  await images.add(png, 'p.png');
  expect(fs.readFileSync(file).equals(png)).toBe(true);
  expect(await images.attachment({ ref: a.ref, name: 'p.png' })).toEqual(a);
});
