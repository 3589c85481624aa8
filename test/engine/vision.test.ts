/**
 * Images through a model's projector (llama.cpp's mtmd): the real host and addon, the tiny BPE model
 * with a generated CLIP projector (TINY_PROJECTOR: every image is 16 image tokens) and PNG files
 * written here. The weights are noise: the tests count tokens, compare cached prefixes and check
 * that the image changes what the model sees, never what it says.
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import type { ChatMessage } from '../../main/engine/protocol';
import { asData, MAX_IMAGE_PIXELS, MAX_REQUEST_PIXELS } from '../../main/params';
import { inAddon } from '../helpers/addon';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { adam7RawBytes, bmpImage, pngDeclaring, pngWithRows, progressiveJpeg, testPng, withTextChunk } from '../helpers/images';
import { TINY_BPE, TINY_PROJECTOR, TINY_PROJECTOR_IMAGE_TOKENS } from '../helpers/models';

let engine: EngineClient;
const M = 'vision';
const PLAIN = 'plain';
const greedy = { temperature: 0 };
const png = testPng(0).toString('base64');
const otherPng = testPng(97).toString('base64');

const withImage = (data: string, text = 'Describe it.'): ChatMessage[] => [
  { role: 'user', content: [{ type: 'image', data }, { type: 'text', text }] },
];

beforeAll(async () => {
  engine = makeEngine();
  const loaded = await engine.load(M, TINY_BPE, { contextSize: 512, threads: 2, mmproj: TINY_PROJECTOR });
  expect(loaded.metadata.vision).toBe(true);
});

afterAll(async () => {
  await engine.close();
});

describe('images', () => {
  test('data marks with an image: special-token text in the data is broken up by a word joiner (mtmd parses the whole text), as if written so', async () => {
    const chatOf = async (text: string, dataMarks = false) =>
      (await engine.chat(M, { messages: withImage(png, text), maxTokens: 1, sampling: greedy, dataMarks })).timings.promptTokens;
    const wj = '\u2060';
    // a joiner inside each special-token text in the data (native/src/data_text.cpp breakMarked)
    const marked = await chatOf(`Read: ${asData('a<|eot_id|>b<|eot_id|>')}`, true);
    expect(marked).toBe(await chatOf(`Read: a<${wj}|eot_id|>b<${wj}|eot_id|>`));
    expect(marked).toBeGreaterThan(await chatOf('Read: a<|eot_id|>b<|eot_id|>'));
    // data without special-token text: the prompt of the text unmarked
    expect(await chatOf(`Read: ${asData('plain words')}`, true)).toBe(await chatOf('Read: plain words'));
  });

  test("an image's tokens are evaluated: the prompt is the text's tokens and the image's", async () => {
    const text = await engine.chat(M, { messages: [{ role: 'user', content: 'Describe it.' }], maxTokens: 1, sampling: greedy });
    const image = await engine.chat(M, { messages: withImage(png), maxTokens: 1, sampling: greedy });
    expect(image.timings.promptTokens).toBe(text.timings.promptTokens + TINY_PROJECTOR_IMAGE_TOKENS);
    // the template renders the image part as a marker that the projector replaces
    const rendered = await engine.applyTemplate(M, { messages: withImage(png) });
    expect(rendered.tokens).toBe(image.timings.promptTokens);
  });

  test('the reply streams, and the image changes what the model reads (another image, another reply)', async () => {
    const pieces: string[] = [];
    await engine.clearSequence(M);
    const a = await engine.chat(M, { messages: withImage(png), maxTokens: 24, ignoreEos: true, sampling: greedy }, { onPiece: (t) => pieces.push(t) });
    expect(a.timings.generatedTokens).toBe(24);
    expect(a.timings.cachedTokens).toBe(0);
    expect(pieces.join('')).toBe(a.text);
    expect(pieces.length).toBeGreaterThan(0);
    await engine.clearSequence(M);
    const again = await engine.chat(M, { messages: withImage(png), maxTokens: 24, ignoreEos: true, sampling: greedy });
    expect(again.tokens).toEqual(a.tokens);
    await engine.clearSequence(M);
    const b = await engine.chat(M, { messages: withImage(otherPng), maxTokens: 24, ignoreEos: true, sampling: greedy });
    expect(b.timings.promptTokens).toBe(a.timings.promptTokens);
    expect(b.tokens).not.toEqual(a.tokens);
  });

  test("the next turn reuses the image from the cache; another image in its place is read again", async () => {
    await engine.clearSequence(M);
    const turn1 = await engine.chat(M, { messages: withImage(png), maxTokens: 12, ignoreEos: true, sampling: greedy });
    const history: ChatMessage[] = [...withImage(png), { role: 'assistant', content: turn1.content }, { role: 'user', content: 'And the colours?' }];
    const turn2 = await engine.chat(M, { messages: history, maxTokens: 8, ignoreEos: true, sampling: greedy });
    // everything the first turn read (its image's tokens among them) is cached
    expect(turn2.timings.cachedTokens).toBeGreaterThanOrEqual(turn1.timings.promptTokens - 1);
    expect(turn2.timings.promptTokens).toBeGreaterThan(turn2.timings.cachedTokens);
    // the same conversation with another image: the cache holds only what comes before the image
    const swapped: ChatMessage[] = [...withImage(otherPng), ...history.slice(1)];
    const turn3 = await engine.chat(M, { messages: swapped, maxTokens: 8, ignoreEos: true, sampling: greedy });
    expect(turn3.timings.promptTokens).toBe(turn2.timings.promptTokens);
    expect(turn3.timings.cachedTokens).toBeLessThan(turn1.timings.promptTokens - TINY_PROJECTOR_IMAGE_TOKENS);
    // and the first image again: read again too (the cache now holds the other one)
    const back = await engine.chat(M, { messages: history, maxTokens: 8, ignoreEos: true, sampling: greedy });
    expect(back.timings.cachedTokens).toBe(turn3.timings.cachedTokens);
    expect(back.tokens).toEqual(turn2.tokens);
  });

  test.each([
    // what every position held before: one 30-bit FNV-1a of the id in hex, repeated (a pair agreeing on it was taken for each other)
    ['a 30-bit FNV-1a of their ids', (h: Buffer) => {
      let x = 0x811c9dc5;
      for (const c of Buffer.from(h.toString('hex'))) x = Math.imul(x ^ c, 16777619) >>> 0;
      return x & 0x3fffffff;
    }],
    // what the first of an image's positions holds now (vision.cpp placeholders: bit 0 to 29 of the hash)
    ['their first 30 bits', (h: Buffer) => h.readUInt32BE(0) >>> 2],
  ])('two images whose hashes agree on %s are told apart: the second is read again', async (_what, key) => {
    // mtmd names an image by the SHA-256 of its file. Found here: two files of different pixels (testPng
    // 0 and 97, each with a text chunk of its own) whose hashes agree on `key`.
    const keyOf = (file: Buffer) => key(createHash('sha256').update(file).digest());
    const [pngA, pngB] = [testPng(0), testPng(97)];
    const a = new Map<number, number>();
    for (let i = 0; i < 1 << 17; i++) a.set(keyOf(withTextChunk(pngA, String(i))), i);
    let pair: [Buffer, Buffer] | undefined;
    for (let j = 0; j < 1 << 17 && !pair; j++) {
      const file = withTextChunk(pngB, String(j));
      const i = a.get(keyOf(file));
      if (i !== undefined) pair = [withTextChunk(pngA, String(i)), file];
    }
    expect(pair).toBeDefined();
    const [imageA, imageB] = pair!.map((f) => f.toString('base64'));
    // what the model reads shows in its log-probabilities (this noise model's greedy replies often agree)
    const read = async (image: string) => {
      const probs: number[] = [];
      const r = await engine.chat(M, { messages: withImage(image), maxTokens: 6, ignoreEos: true, sampling: { temperature: 0, nProbs: 3 } }, {
        onPiece: (_t, _r, p) => probs.push(...(p ?? []).flatMap((t) => t.top.map((x) => x.logprob))),
      });
      return { r, probs };
    };
    const apart = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i])));
    await engine.clearSequence(M);
    const alone = await read(imageB);
    await engine.clearSequence(M);
    const first = await read(imageA);
    expect(first.probs).toHaveLength(alone.probs.length);
    expect(apart(first.probs, alone.probs)).toBeGreaterThan(0.01);
    // the same message with the other image, its predecessor in the cache: read from the image on
    const second = await read(imageB);
    expect(second.r.timings.cachedTokens).toBeLessThan(first.r.timings.promptTokens - TINY_PROJECTOR_IMAGE_TOKENS);
    expect(second.r.tokens).toEqual(alone.r.tokens);
    expect(apart(second.probs, alone.probs)).toBeLessThan(1e-3);
  });

  test("imageTokens answers the positions an image takes, as a real chat counts them in its prompt", async () => {
    await engine.clearSequence(M);
    const text = await engine.chat(M, { messages: [{ role: 'user', content: 'Describe it.' }], maxTokens: 1, sampling: greedy });
    const one = await engine.chat(M, { messages: withImage(png), maxTokens: 1, sampling: greedy });
    // testPng is 48 x 40; a second image of another size (a 100 x 20 BMP) beside it
    const bmp = bmpImage(100, 20, [200, 30, 90]).toString('base64');
    const two = await engine.chat(M, { messages: [{ role: 'user', content: [{ type: 'image', data: png }, { type: 'image', data: bmp }, { type: 'text', text: 'Describe it.' }] }], maxTokens: 1, sampling: greedy });
    const [png48x40, bmp100x20] = await engine.imageTokens(M, [{ width: 48, height: 40 }, { width: 100, height: 20 }]);
    expect(png48x40).toBe(one.timings.promptTokens - text.timings.promptTokens);
    expect(png48x40 + bmp100x20).toBe(two.timings.promptTokens - text.timings.promptTokens);
    expect(png48x40).toBeGreaterThan(0);
    // asked again (remembered per size), in another order, with the largest image read: nothing is decoded
    const again = await engine.imageTokens(M, [{ width: 100, height: 20 }, { width: 8192, height: 8192 }, { width: 48, height: 40 }, { width: 1, height: 1 }]);
    expect(again[0]).toBe(bmp100x20);
    expect(again[2]).toBe(png48x40);
    // this projector resizes every image to its own size: every size is the same count
    expect(again).toEqual([png48x40, png48x40, png48x40, png48x40]);
    expect(png48x40).toBe(TINY_PROJECTOR_IMAGE_TOKENS);
  });

  test('imageTokens refuses sizes out of bounds (invalid_argument, the host and the addon) and a model without a projector (not_supported)', async () => {
    for (const size of [{ width: 0, height: 40 }, { width: 48, height: -1 }, { width: 4.5, height: 40 }, { width: 8193, height: 8192 }, { width: 5, height: 13421773 }]) {
      const e = await errorOf(engine.imageTokens(M, [{ width: 48, height: 40 }, size]));
      expect(e.code).toBe('invalid_argument');
    }
    expect((await errorOf(engine.imageTokens(M, []))).code).toBe('invalid_argument');
    // at the bound: answered
    expect(await engine.imageTokens(M, [{ width: 5, height: 13421772 }])).toHaveLength(1);
    // the addon's own checks (main's schema is not in front of it)
    const refused = await inAddon<{ code: string; message: string }[]>(
      `const m = await addon.loadModel(input.model, { gpuLayers: 0, mmproj: input.projector }).promise;
       const plain = await addon.loadModel(input.model, { gpuLayers: 0 }).promise;
       const out = [];
       const tryIt = async (model, sizes) => { try { await model.imageTokens(sizes); out.push({ code: 'none', message: '' }); } catch (e) { out.push({ code: e.code, message: e.message }); } };
       try {
         for (const s of input.sizes) await tryIt(m, [s]);
         await tryIt(plain, [{ width: 48, height: 40 }]);
         out.push({ code: 'answer', message: JSON.stringify(await m.imageTokens([{ width: 48, height: 40 }, { width: 5, height: 13421772 }])) });
         return out;
       } finally { await m.dispose(); await plain.dispose(); }`,
      { model: TINY_BPE, projector: TINY_PROJECTOR, sizes: [{ width: 0, height: 40 }, { width: 48, height: -3 }, { width: 1.5, height: 2 }, { width: '48', height: 40 }, { width: 5, height: 13421773 }, { width: 2 ** 40, height: 2 ** 40 }] },
    );
    expect(refused.slice(0, 6).map((r) => r.code)).toEqual(Array(6).fill('invalid_argument'));
    expect(refused[4].message).toBe(`an image of 5x13421773 pixels; at most ${MAX_IMAGE_PIXELS} pixels are read`);
    expect(refused[6].code).toBe('not_supported');
    expect(refused[6].message).toMatch(/no projector/);
    expect(JSON.parse(refused[7].message)).toEqual([TINY_PROJECTOR_IMAGE_TOKENS, TINY_PROJECTOR_IMAGE_TOKENS]);
    // and through the engine: a model loaded without a projector
    await engine.load(PLAIN, TINY_BPE, { contextSize: 256, threads: 2 });
    const e = await errorOf(engine.imageTokens(PLAIN, [{ width: 48, height: 40 }]));
    expect(e.code).toBe('not_supported');
    await engine.unload(PLAIN);
  });

  test('an image by path, a data URL and base64 are the same image', async () => {
    const dir = tempDir('vision');
    const file = path.join(dir, 'a.png');
    fs.writeFileSync(file, Buffer.from(png, 'base64'));
    await engine.clearSequence(M);
    const byData = await engine.chat(M, { messages: withImage(png), maxTokens: 8, ignoreEos: true, sampling: greedy });
    await engine.clearSequence(M);
    const byPath = await engine.chat(M, { messages: [{ role: 'user', content: [{ type: 'image', path: file }, { type: 'text', text: 'Describe it.' }] }], maxTokens: 8, ignoreEos: true, sampling: greedy });
    const byUrl = await engine.chat(M, { messages: withImage(`data:image/png;base64,${png}`), maxTokens: 8, ignoreEos: true, sampling: greedy });
    expect(byPath.tokens).toEqual(byData.tokens);
    // the same image: the whole prompt was cached by the request before
    expect(byUrl.timings.cachedTokens).toBe(byUrl.timings.promptTokens - 1);
    expect(byUrl.tokens).toEqual(byData.tokens);
  });

  test('what is not an image is refused with the reason, and the engine goes on', async () => {
    const junk = Buffer.from('not an image at all').toString('base64');
    const e = await errorOf(engine.chat(M, { messages: withImage(junk), maxTokens: 4 }));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/image 1 is not a PNG, JPEG, GIF or BMP file/);
    // a PNG signature over garbage: read as a PNG, and refused as one that does not decode
    const broken = Buffer.concat([testPng(0).subarray(0, 8), Buffer.from('garbage after the signature')]).toString('base64');
    const b = await errorOf(engine.chat(M, { messages: withImage(broken), maxTokens: 4 }));
    expect(b.code).toBe('invalid_argument');
    expect(b.message).toMatch(/image 1 could not be decoded/);
    const ok = await engine.chat(M, { messages: withImage(png), maxTokens: 4, ignoreEos: true, sampling: greedy });
    expect(ok.timings.generatedTokens).toBe(4);
  });

  test('an image declaring more pixels than are read is refused before it is decoded', async () => {
    // a valid PNG header (IHDR) that declares 10000 x 10000 pixels: only the header is read
    const huge = pngDeclaring(10000, 10000).toString('base64');
    const e = await errorOf(engine.chat(M, { messages: withImage(huge), maxTokens: 4 }));
    expect(e.code).toBe('invalid_argument');
    expect(e.message).toMatch(/image 1 is 10000x10000 pixels; at most 67108864/);
  });

  test('an image whose data would cost the decoder more than its pixels is refused before it is decoded', async () => {
    const ask = (image: Buffer) => engine.chat(M, { messages: withImage(image.toString('base64')), maxTokens: 1, sampling: greedy });
    // a 1x1 PNG whose data inflates to 16 MiB (stb_image would grow its buffer to hold all of it; 2 GiB at most)
    const bomb = await errorOf(ask(pngWithRows(1, 1, Buffer.alloc(16 << 20))));
    expect(bomb.code).toBe('invalid_argument');
    expect(bomb.message).toBe('image 1 could not be decoded, or its compressed data holds more than its pixels need');
    // the rows it declares, exactly: decoded; and interlaced (Adam7's seven passes, RGBA)
    expect((await ask(pngWithRows(1, 1, Buffer.alloc(4)))).timings.promptTokens).toBeGreaterThan(0);
    expect((await ask(pngWithRows(13, 11, Buffer.alloc(adam7RawBytes(13, 11, 4)), { rgba: true, interlaced: true }))).timings.promptTokens).toBeGreaterThan(0);
    expect((await errorOf(ask(pngWithRows(13, 11, Buffer.alloc(adam7RawBytes(13, 11, 4) + 1), { rgba: true, interlaced: true })))).code).toBe('invalid_argument');
    // Apple's CgBI PNG: stb reads its data without a zlib header (one stream could be two): refused
    const cgbi = await errorOf(ask(pngWithRows(1, 1, Buffer.alloc(4), { cgbi: true })));
    expect(cgbi.message).toBe('image 1 is an Apple-optimized PNG (CgBI), not a standard one (save it again as an ordinary PNG)');
    // a progressive JPEG's scans are each a pass over every block: at most MAX_JPEG_SCANS (100)
    expect((await ask(progressiveJpeg(64, 100))).timings.promptTokens).toBeGreaterThan(0);
    const scans = await errorOf(ask(progressiveJpeg(64, 101)));
    expect(scans.message).toBe('image 1 is a JPEG of more than 100 scans (save it again as an ordinary JPEG)');
    expect(fs.readFileSync(path.join(__dirname, '../../native/src/image_check.h'), 'utf8')).toMatch(/constexpr int MAX_JPEG_SCANS = 100;/);
  });

  test("the engine's pixel bounds are main's (MAX_IMAGE_PIXELS, MAX_REQUEST_PIXELS in main/params/chat.ts)", async () => {
    // one pixel over main's bound (5 x 13421773 = 8192 x 8192 + 1) is refused by its size; one at it
    // passes the size check (and then fails to decode: the header's image data is 48 x 40)
    expect(5 * 13421773).toBe(MAX_IMAGE_PIXELS + 1);
    const over = await errorOf(engine.chat(M, { messages: withImage(pngDeclaring(5, 13421773).toString('base64')), maxTokens: 4 }));
    expect(over.message).toBe(`image 1 is 5x13421773 pixels; at most ${MAX_IMAGE_PIXELS} pixels are read (scale it down)`);
    const at = await errorOf(engine.chat(M, { messages: withImage(pngDeclaring(8192, 8192).toString('base64')), maxTokens: 4 }));
    expect(at.message).toMatch(/^image 1 could not be decoded/);
    // the request's bound would take decoding more than 8192 x 8192 pixels to reach: the source says it
    const source = fs.readFileSync(path.join(__dirname, '../../native/src/vision.cpp'), 'utf8');
    const constant = (name: string, known: Record<string, number>): number => {
      const m = new RegExp(`constexpr uint64_t ${name} = ([^;]+);`).exec(source);
      expect(m).not.toBeNull();
      const factors = m![1].split('*').map((f) => f.trim().replace(/ull$/, ''));
      return factors.reduce((n, f) => n * (f in known ? known[f] : /^\d+$/.test(f) ? Number(f) : NaN), 1);
    };
    const image = constant('MAX_IMAGE_PIXELS', {});
    expect(image).toBe(MAX_IMAGE_PIXELS);
    expect(constant('MAX_REQUEST_PIXELS', { MAX_IMAGE_PIXELS: image })).toBe(MAX_REQUEST_PIXELS);
  });

  test('bytes that are not an image never reach a decoder that runs programs (ffprobe/ffmpeg from PATH)', async () => {
    // stand-ins for ffprobe and ffmpeg first on PATH: each leaves a mark if it is ever run
    const dir = tempDir('vision-path');
    const mark = path.join(dir, 'ran');
    for (const name of ['ffprobe', 'ffmpeg']) {
      fs.writeFileSync(path.join(dir, name), `#!/bin/sh\necho ${name} >> ${mark}\ncat > /dev/null\nexit 1\n`, { mode: 0o755 });
    }
    const e2 = makeEngine({ PATH: `${dir}:${process.env.PATH ?? ''}` });
    try {
      await e2.load(M, TINY_BPE, { contextSize: 512, threads: 2, mmproj: TINY_PROJECTOR });
      for (const bytes of [Buffer.from('this is not an image, just some bytes'), Buffer.from('RIFF\0\0\0\0WEBPVP8 '), Buffer.from('\0\0\0\x20ftypisom')]) {
        const e = await errorOf(e2.chat(M, { messages: withImage(bytes.toString('base64')), maxTokens: 4 }));
        expect(e.code).toBe('invalid_argument');
      }
      expect(fs.existsSync(mark)).toBe(false);
    } finally {
      await e2.close();
    }
  });

  test('a model without a projector refuses images (not_supported) and says why', async () => {
    const loaded = await engine.load(PLAIN, TINY_BPE, { contextSize: 256, threads: 2 });
    expect(loaded.metadata.vision).toBe(false);
    const e = await errorOf(engine.chat(PLAIN, { messages: withImage(png), maxTokens: 4 }));
    expect(e.code).toBe('not_supported');
    expect(e.message).toMatch(/projector/);
    await engine.unload(PLAIN);
  });

  test("the projector's memory is in the estimate, where the load puts it, and the loaded breakdown shows the same", async () => {
    const params = { contextSize: 512, threads: 2, gpuLayers: 0 };
    const without = await engine.estimate(TINY_BPE, params);
    const withIt = await engine.estimate(TINY_BPE, { ...params, mmproj: TINY_PROJECTOR });
    // its weights (the file's tensors) and its compute buffer for the largest image: more than the whole
    // file (the weights alone are less), all in system RAM here
    expect(without.host.projector).toBe(0);
    expect(withIt.host.projector).toBeGreaterThan(fs.statSync(TINY_PROJECTOR).size);
    for (const d of [...without.devices, ...withIt.devices]) expect(d.projector).toBe(0);
    // the rest of the estimate is the model's own, unchanged
    expect({ ...withIt.host, free: 0, projector: 0 }).toEqual({ ...without.host, free: 0, projector: 0 });
    // the model loaded with it (beforeAll, on the CPU) reports the projector as the estimate did
    const real = await engine.memory(M);
    expect(real.host.projector).toBe(withIt.host.projector);
    const plain = await engine.load(PLAIN, TINY_BPE, params);
    expect(plain.metadata.vision).toBe(false);
    expect((await engine.memory(PLAIN)).host.projector).toBe(0);
    await engine.unload(PLAIN);
    // a projector llama.cpp cannot read counts nothing (a load drops a paired one and goes on without
    // images): the estimate still answers, and the load says why
    const unread = await engine.estimate(TINY_BPE, { ...params, mmproj: TINY_BPE });
    expect(unread.host.projector).toBe(0);
    const e = await errorOf(engine.load('unread', TINY_BPE, { ...params, mmproj: TINY_BPE }));
    expect(e.code).toBe('load_failed');
    expect(e.message).toMatch(/projector/);
  });

  test('a projector that does not exist fails the load (load_failed)', async () => {
    const e = await errorOf(engine.load('missing', TINY_BPE, { contextSize: 256, threads: 2, mmproj: '/nonexistent/mmproj.gguf' }));
    expect(e.code).toBe('load_failed');
    expect(e.message).toMatch(/projector/);
  });
});
