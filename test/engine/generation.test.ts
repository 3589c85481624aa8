/**
 * The engine end to end: EngineClient → host process → native addon → llama.cpp, on generated GGUF
 * models. Nothing is mocked.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { z } from 'zod';
import { EngineClient } from '../../main/engine/client';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { TINY_BPE, TINY_EMBED, TINY_SPM } from '../helpers/models';
import { agreeingSession, sessionChecksum, sessionLayout } from '../helpers/sessions';

let engine: EngineClient;
const M = 'spm';

beforeAll(async () => {
  engine = makeEngine();
  await engine.load(M, TINY_SPM, { contextSize: 512, threads: 2 });
});

afterAll(async () => {
  await engine.close();
});

const sampled = { temperature: 0.9, topK: 0, topP: 1, minP: 0, seed: 1234 };

describe('generation', () => {
  test('the host reports llama.cpp and the CPU backend', async () => {
    const v = await engine.version();
    expect(v.llamaCommit).toMatch(/^[0-9a-f]{12}$/);
    expect(v.backends).toContain('CPU');
    expect(v.pid).toBe(engine.pid);
    expect(v.pid).not.toBe(process.pid);
  });

  test('a seed makes sampling deterministic; another seed changes it', async () => {
    const a = await engine.complete(M, { prompt: 'Once upon a time', maxTokens: 24, ignoreEos: true, sampling: sampled });
    const b = await engine.complete(M, { prompt: 'Once upon a time', maxTokens: 24, ignoreEos: true, sampling: sampled });
    const c = await engine.complete(M, { prompt: 'Once upon a time', maxTokens: 24, ignoreEos: true, sampling: { ...sampled, seed: 99 } });
    expect(a.tokens).toHaveLength(24);
    expect(b.tokens).toEqual(a.tokens);
    expect(b.text).toBe(a.text);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  test('greedy (top-k 1) equals temperature 0', async () => {
    const greedy = await engine.complete(M, { prompt: 'The weather today', maxTokens: 16, ignoreEos: true, sampling: { topK: 1, seed: 5 } });
    const temp0 = await engine.complete(M, { prompt: 'The weather today', maxTokens: 16, ignoreEos: true, sampling: { temperature: 0, seed: 77 } });
    expect(temp0.tokens).toEqual(greedy.tokens);
  });

  test('streamed text is coalesced (at most one piece per the engine\'s interval) and none of it is lost', async () => {
    // the interval's one definition: native/src/generation.cpp
    const source = fs.readFileSync(path.join(__dirname, '..', '..', 'native', 'src', 'generation.cpp'), 'utf8');
    const intervalMs = Number(/kEmitInterval = std::chrono::milliseconds\((\d+)\)/.exec(source)?.[1]);
    expect(intervalMs).toBeGreaterThan(0);
    const pieces: string[] = [];
    const t0 = performance.now();
    const r = await engine.complete(M, { prompt: 'Tell me everything:', maxTokens: 300, ignoreEos: true, sampling: sampled }, { onPiece: (t) => pieces.push(t) });
    const wallMs = performance.now() - t0;
    expect(r.timings.generatedTokens).toBe(300);
    expect(pieces.join('')).toBe(r.text);
    // one piece per interval at most, plus the last flush: far fewer messages than tokens at this speed
    expect(pieces.length).toBeLessThanOrEqual(Math.floor(wallMs / intervalMs) + 2);
    expect(pieces.length).toBeLessThan(r.timings.generatedTokens / 2);
  });

  test('flash attention "auto" is off on a CPU-only load, unless a quantized V cache needs it', async () => {
    const faOf = async (params: Parameters<EngineClient['load']>[2]) => {
      await engine.load('fa', TINY_SPM, { contextSize: 256, gpuLayers: 0, ...params });
      const fa = (await engine.contextInfo('fa')).flashAttention;
      await engine.unload('fa');
      return fa;
    };
    expect(await faOf({})).toBe('off');
    expect(await faOf({ flashAttention: 'on' })).toBe('on');
    expect(await faOf({ cacheTypeV: 'q8_0' })).toBe('auto');
  });

  test('max tokens is respected', async () => {
    const r = await engine.complete(M, { prompt: 'Count:', maxTokens: 7, ignoreEos: true, sampling: sampled });
    expect(r.timings.generatedTokens).toBe(7);
    expect(r.tokens).toHaveLength(7);
    expect(r.stopReason).toBe('length');
  });

  test('stop strings cut the output exactly, streamed and final alike', async () => {
    const full = await engine.complete(M, { prompt: 'Hello there', maxTokens: 48, ignoreEos: true, sampling: sampled });
    // a stop string taken from the middle of the full output, at its first occurrence
    let stop = '';
    for (let i = Math.floor(full.text.length / 2); i < full.text.length - 3 && !stop; i++) {
      const s = full.text.slice(i, i + 3);
      if (s.trim().length === 3 && full.text.indexOf(s) === i) stop = s;
    }
    expect(stop).not.toBe('');
    let streamed = '';
    const cut = await engine.complete(
      M,
      { prompt: 'Hello there', maxTokens: 48, ignoreEos: true, sampling: sampled, stop: [stop] },
      { onPiece: (t) => (streamed += t) },
    );
    expect(cut.stopReason).toBe('stop');
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stop)));
    expect(streamed).toBe(cut.text);
  });

  test('abort stops a running generation within one token', async () => {
    const ac = new AbortController();
    let pieces = 0;
    const r = await engine.complete(
      M,
      { prompt: 'A long story:', maxTokens: 100000, ignoreEos: true, sampling: sampled },
      {
        signal: ac.signal,
        onPiece: () => {
          if (++pieces === 2) ac.abort();
        },
      },
    );
    expect(r.stopReason).toBe('aborted');
    expect(r.tokensAfterAbort).toBeGreaterThanOrEqual(0);
    expect(r.tokensAfterAbort).toBeLessThanOrEqual(1);
    expect(r.timings.generatedTokens).toBeLessThan(100000);
  });

  test('a queued request aborted before it runs never runs', async () => {
    const first = engine.complete(M, { prompt: 'First', maxTokens: 64, ignoreEos: true, sampling: sampled });
    const ac = new AbortController();
    const second = engine.complete(M, { prompt: 'Second', maxTokens: 64, ignoreEos: true, sampling: sampled }, { signal: ac.signal });
    ac.abort();
    const err = await errorOf(second);
    expect(err.code).toBe('aborted');
    const r = await first;
    expect(r.timings.generatedTokens).toBe(64);
  });

  test('a JSON schema yields JSON that validates', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 12 },
        age: { type: 'integer', minimum: 0, maximum: 120 },
        tags: { type: 'array', items: { enum: ['red', 'green', 'blue'] }, maxItems: 3 },
      },
      required: ['name', 'age', 'tags'],
      additionalProperties: false,
    };
    // the BPE model: its tokenizer splits the template's generation prompt the way the schema's grammar expects
    await engine.load('bpe', TINY_BPE, { contextSize: 512, threads: 2 });
    const r = await engine.chat('bpe', { messages: [{ role: 'user', content: 'Describe a person as JSON.' }], jsonSchema: schema, maxTokens: 300, sampling: sampled });
    await engine.unload('bpe');
    expect(r.stopReason).toBe('eos');
    const value = JSON.parse(r.content);
    const Person = z.object({ name: z.string().max(12), age: z.number().int().min(0).max(120), tags: z.array(z.enum(['red', 'green', 'blue'])).max(3) }).strict();
    expect(Person.safeParse(value).success).toBe(true);
  });

  test('a chat request\'s own grammar holds its reply, as a completion\'s does (the template renders no grammar of its own)', async () => {
    await engine.load('bpe', TINY_BPE, { contextSize: 512, threads: 2 });
    try {
      const r = await engine.chat('bpe', { messages: [{ role: 'user', content: 'Say yes.' }], grammar: 'root ::= "yes" ("-yes")*', maxTokens: 12, sampling: sampled });
      expect(r.content).toMatch(/^yes(-yes)*(-(y(e)?)?)?$/);
      expect(r.content.length).toBeGreaterThan(2);
    } finally {
      await engine.unload('bpe');
    }
  });

  test('a grown conversation reuses the cached prefix and gives the same text as a cold run', async () => {
    const history = [
      { role: 'system' as const, content: 'You are a helpful assistant.' },
      { role: 'user' as const, content: 'Tell me about the sea and the ships that sail on it.' },
    ];
    // greedy: a cold and a warm run evaluate the prompt in different batches, and sampling at a temperature
    // can tip on the last bits of a logit; greedy compares what prefix reuse must preserve
    const greedy = { temperature: 0 };
    const turn1 = await engine.chat(M, { messages: history, maxTokens: 20, ignoreEos: true, sampling: greedy });
    const grown = [...history, { role: 'assistant' as const, content: turn1.content }, { role: 'user' as const, content: 'And the rivers?' }];
    const warm = await engine.chat(M, { messages: grown, maxTokens: 20, ignoreEos: true, sampling: greedy });
    const t1 = await engine.applyTemplate(M, { messages: history });
    expect(warm.timings.cachedTokens).toBeGreaterThanOrEqual(t1.tokens - 1);
    expect(warm.timings.promptTokens).toBeGreaterThan(warm.timings.cachedTokens);
    await engine.clearSequence(M);
    const cold = await engine.chat(M, { messages: grown, maxTokens: 20, ignoreEos: true, sampling: greedy });
    expect(cold.timings.cachedTokens).toBe(0);
    expect(cold.tokens).toEqual(warm.tokens);
  });

  test('save → restore → continue equals an uninterrupted run, and a foreign session is refused', async () => {
    const dir = tempDir();
    const prompt = await engine.tokenize(M, 'In a village by the mountains there lived');
    const greedy = { temperature: 0, seed: 1 };
    const whole = await engine.complete(M, { prompt, maxTokens: 24, ignoreEos: true, sampling: greedy });
    const part1 = await engine.complete(M, { prompt, maxTokens: 12, ignoreEos: true, sampling: greedy });
    expect(part1.tokens).toEqual(whole.tokens.slice(0, 12));
    const file = path.join(dir, 'seq.session');
    const saved = await engine.saveSession(M, file);
    expect(saved.tokens).toBe(prompt.length + 11);
    await engine.clearSequence(M);
    const restored = await engine.restoreSession(M, file);
    expect(restored.tokens).toBe(saved.tokens);
    const part2 = await engine.complete(M, { prompt: [...prompt, ...part1.tokens], maxTokens: 12, ignoreEos: true, sampling: greedy });
    expect(part2.timings.cachedTokens).toBe(prompt.length + 11);
    expect([...part1.tokens, ...part2.tokens]).toEqual(whole.tokens);

    // the same session file offered to another model is rejected, not used
    await engine.load('bpe', TINY_BPE, { contextSize: 512, threads: 2 });
    const err = await errorOf(engine.restoreSession('bpe', file));
    expect(err.code).toBe('session_mismatch');
    await engine.unload('bpe');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a state written and read in pieces (quantized and transposed caches, the test hook\'s 1,000-byte pieces) restores to the same continuation', async () => {
    // the pieces are 8 MB; a tiny model's state is a few KB: the hook makes them small enough that each
    // layer's keys take several (kept to whole rows of the tensor), flash attention on and off (the
    // values transposed, written a cell's element at a time)
    const pieces = makeEngine({ HEARTH_TEST_IO_PIECE: '1000' });
    try {
      for (const flashAttention of ['on', 'off'] as const) {
        await pieces.load('q', TINY_SPM, { contextSize: 512, threads: 2, cacheTypeK: 'q8_0', cacheTypeV: flashAttention === 'on' ? 'q8_0' : 'f16', flashAttention });
        const prompt = await pieces.tokenize('q', 'In a village by the mountains there lived an old man who');
        const greedy = { temperature: 0, seed: 1 };
        const whole = await pieces.complete('q', { prompt, maxTokens: 40, ignoreEos: true, sampling: greedy });
        const part1 = await pieces.complete('q', { prompt, maxTokens: 20, ignoreEos: true, sampling: greedy });
        const file = path.join(tempDir(), 'pieces.kv');
        const saved = await pieces.saveSession('q', file);
        await pieces.clearSequence('q');
        expect((await pieces.restoreSession('q', file)).tokens).toBe(saved.tokens);
        const part2 = await pieces.complete('q', { prompt: [...prompt, ...part1.tokens], maxTokens: 20, ignoreEos: true, sampling: greedy });
        expect(part2.timings.cachedTokens).toBe(saved.tokens);
        expect([...part1.tokens, ...part2.tokens]).toEqual(whole.tokens);
        await pieces.unload('q');
      }
    } finally {
      await pieces.close();
    }
  });

  test('a session file is read only when it is a regular file whose sizes add up; a save writes no link', async () => {
    const dir = tempDir();
    const prompt = await engine.tokenize(M, 'In a village by the mountains there lived');
    await engine.complete(M, { prompt, maxTokens: 4, ignoreEos: true, sampling: { temperature: 0 } });
    const file = path.join(dir, 'seq.kv');
    // a link left where the save writes first is replaced, not written through
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'kept');
    fs.symlinkSync(target, `${file}.tmp`);
    const saved = await engine.saveSession(M, file);
    expect(fs.readFileSync(target, 'utf8')).toBe('kept');
    expect(fs.existsSync(`${file}.tmp`)).toBe(false);
    await engine.saveSession(M, file); // over the file before it
    const buf = fs.readFileSync(file);
    // HEARTHS2, the header (its length first), the tokens (their count first), the state's length and
    // checksum, the state (what llama.cpp's memory module writes of the sequence)
    expect(buf.subarray(0, 8).toString('latin1')).toBe('HEARTHS2');
    const layout = sessionLayout(buf);
    const { headerBytes, tokensAt, lengthAt, stateAt } = layout;
    expect(buf.subarray(12, 12 + headerBytes).toString('utf8')).toMatch(/\|k=f16\|v=f16\|llama=[0-9a-f]+$/);
    expect(buf.readUInt32LE(tokensAt)).toBe(saved.tokens);
    expect(lengthAt).toBe(tokensAt + 4 + 4 * saved.tokens);
    expect(stateAt).toBe(lengthAt + 16);
    expect(Number(buf.readBigUInt64LE(lengthAt))).toBe(buf.length - stateAt);
    expect(buf.readBigUInt64LE(lengthAt + 8)).toBe(sessionChecksum(buf.subarray(stateAt)));
    const variant = (name: string, edit: (b: Buffer) => Buffer): string => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, edit(Buffer.from(buf)));
      return f;
    };
    const agreeing = (b: Buffer): Buffer => agreeingSession(b, layout);
    const refusal = async (f: string) => errorOf(engine.restoreSession(M, f));
    // a token count past 2^31 (negative as an int), more than the file holds, or none
    const huge = variant('huge', (b) => (b.writeUInt32LE(0xc0000000, tokensAt), b));
    expect((await refusal(huge)).message).toMatch(/3221225472 tokens do not fit/);
    const many = variant('many', (b) => (b.writeUInt32LE(500, tokensAt), b));
    expect((await refusal(many)).message).toMatch(/truncated or corrupt/);
    const none = variant('none', (b) => (b.writeUInt32LE(0, tokensAt), b));
    expect((await refusal(none)).message).toMatch(/it holds no tokens/);
    // cut or lengthened (the state's length no longer the rest of the file)
    const short = variant('short', (b) => b.subarray(0, b.length - 1));
    expect((await refusal(short)).message).toMatch(/truncated or corrupt/);
    const long = variant('long', (b) => Buffer.concat([b, Buffer.alloc(1)]));
    expect((await refusal(long)).message).toMatch(/truncated or corrupt/);
    // damage inside the state: its checksum refuses it before llama.cpp reads it
    const flipped = variant('flipped', (b) => (b[b.length - 7] ^= 1, b));
    expect(await refusal(flipped)).toEqual({ code: 'session_failed', message: expect.stringMatching(/corrupt \(its checksum does not match\)/) });
    // a state cut short with its length and checksum made to agree: llama.cpp's reader asks for more
    // than there is, and Hearth's reader refuses (llama.cpp's own file reader read on, then asserted)
    const shorter = variant('shorter', (b) => agreeing(b.subarray(0, b.length - 100)));
    expect(await refusal(shorter)).toEqual({ code: 'session_mismatch', message: expect.stringMatching(/llama.cpp rejected the saved state for this context/) });
    // one llama.cpp refuses (its stream count made another, within what Hearth's reader lets through), and one with more than llama.cpp reads
    const streams = variant('streams', (b) => (b.writeUInt32LE(2, stateAt), agreeing(b)));
    const g = await refusal(streams);
    expect(g.code).toBe('session_mismatch');
    expect(g.message).toMatch(/llama.cpp rejected the saved state/);
    // a cell count of millions, which llama.cpp sizes an allocation by (~21 bytes a cell) before it compares
    // it with the cache's cells: Hearth's reader refuses it first, and the host's memory never held it
    expect(buf.readUInt32LE(stateAt + 4)).toBe(saved.tokens); // after the stream count, the first stream's cells
    const cells = variant('cells', (b) => (b.writeUInt32LE(50_000_000, stateAt + 4), agreeing(b)));
    const peak = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${engine.pid}/status`, 'utf8'))?.[1]) * 1024;
    const peakBefore = process.platform === 'linux' ? peak() : 0;
    expect(await refusal(cells)).toEqual({ code: 'session_mismatch', message: expect.stringMatching(/Hearth refused the saved state: it holds a field of 50000000, larger than any count of this context \(at most \d+\) and none of its widths \(it is damaged, or was not written by this Hearth\)$/) });
    if (process.platform === 'linux') expect(peak() - peakBefore).toBeLessThan(100 * 2 ** 20);
    const trailing = variant('trailing', (b) => agreeing(Buffer.concat([b, Buffer.alloc(8)])));
    expect((await refusal(trailing)).message).toMatch(/the state holds more than llama.cpp read/);
    // an earlier Hearth's file, and another build's
    const earlier = variant('earlier', (b) => (b.write('HEARTHS1', 0, 'latin1'), b));
    expect(await refusal(earlier)).toEqual({ code: 'session_mismatch', message: expect.stringMatching(/earlier version of Hearth/) });
    const other = variant('other', (b) => (b.write('0', 12 + headerBytes - 1, 'latin1'), b));
    expect((await refusal(other)).code).toBe('session_mismatch');
    // after all of them, the sequence restores and continues
    // a link or a FIFO is refused at once (a FIFO's read would block the worker)
    const link = path.join(dir, 'link');
    fs.symlinkSync(file, link);
    expect((await errorOf(engine.restoreSession(M, link))).message).toMatch(/not a regular file/);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect((await errorOf(engine.restoreSession(M, fifo))).message).toMatch(/not a regular file/);
    expect((await engine.restoreSession(M, file)).tokens).toBe(saved.tokens);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('context overflow is an error naming the sizes unless a policy is chosen', async () => {
    const long = Array.from({ length: 300 }, (_, i) => `word${i}`).join(' ');
    const err = await errorOf(engine.complete(M, { prompt: long, maxTokens: 4 }));
    expect(err.code).toBe('context_overflow');
    expect(err.message).toMatch(/\d+ tokens but the context holds 512/);

    const shifted = await engine.complete(M, { prompt: long, maxTokens: 4, ignoreEos: true, overflow: 'shift', sampling: sampled });
    expect(shifted.shifted).toBe(true);
    expect(shifted.timings.generatedTokens).toBe(4);

    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      ...Array.from({ length: 12 }, (_, i) => ({ role: (i % 2 ? 'assistant' : 'user') as 'user' | 'assistant', content: `turn ${i} ${long.slice(0, 300)}` })),
      { role: 'user' as const, content: 'last question' },
    ];
    const chatErr = await errorOf(engine.chat(M, { messages, maxTokens: 4 }));
    expect(chatErr.code).toBe('context_overflow');
    const truncated = await engine.chat(M, { messages, maxTokens: 4, overflow: 'truncateMiddle', sampling: sampled });
    expect(truncated.droppedMessages).toBeGreaterThan(0);
    expect(truncated.timings.promptTokens).toBeLessThan(512);
    // each render counts: those after the first (a message dropped each) are tokenized nearly whole, and together hold more than the context
    expect(truncated.timings.tokenizedTokens).toBeGreaterThanOrEqual(512);
  });

  test('invalid load parameters are rejected before anything loads', async () => {
    const bad = await errorOf(engine.load('bad', TINY_SPM, { cacheTypeK: 'q3_x' as never }));
    expect(bad.code).toBe('invalid_argument');
    const badV = await errorOf(engine.load('bad', TINY_SPM, { cacheTypeV: 'q8_0', flashAttention: 'off' }));
    expect(badV.code).toBe('invalid_argument');
    expect(badV.message).toMatch(/flash attention/);
    const badBatch = await errorOf(engine.load('bad', TINY_SPM, { batchSize: 64, ubatchSize: 128 }));
    expect(badBatch.message).toMatch(/ubatchSize/);
  });

  test('tokenize and detokenize round trip; the chat template renders', async () => {
    const toks = await engine.tokenize(M, 'Hello world', { addSpecial: false });
    expect(toks.length).toBeGreaterThan(0);
    expect(await engine.detokenize(M, toks)).toBe('Hello world');
    const t = await engine.applyTemplate(M, { messages: [{ role: 'user', content: 'Hi' }] });
    expect(t.prompt).toContain('Hi');
    expect(t.tokens).toBeGreaterThan(2);
  });
});

describe('embeddings', () => {
  test('deterministic, normalized, and batched', async () => {
    await engine.load('embed', TINY_EMBED, { embeddings: true, contextSize: 512, parallel: 4, threads: 2 });
    const texts = ['the cat sat on the mat', 'a completely different sentence', 'the cat sat on the mat'];
    const a = await engine.embed('embed', texts);
    const b = await engine.embed('embed', texts);
    expect(a).toHaveLength(3);
    for (const v of a) {
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      expect(norm).toBeCloseTo(1, 4);
    }
    const cos = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i], 0);
    // the same text in two slots of one batch: the same vector up to float rounding
    expect(cos(a[0], a[2])).toBeCloseTo(1, 5);
    expect(cos(a[0], a[1])).toBeLessThan(0.99);
    // the same batch again: bit-identical
    expect(b).toEqual(a);
    // one text alone gives the vector it had inside the batch
    const [alone] = await engine.embed('embed', [texts[1]]);
    expect(cos(alone, a[1])).toBeCloseTo(1, 5);
    const notEmbed = await errorOf(engine.embed(M, ['x']));
    expect(notEmbed.code).toBe('not_supported');
    await engine.unload('embed');
  });
});

describe('parallel slots', () => {
  async function overlap(parallel: number): Promise<{ aEnd: number; bFirst: number; a: number[]; b: number[] }> {
    await engine.load('par', TINY_SPM, { contextSize: 1024, threads: 2, parallel });
    const t: { aEnd: number; bFirst: number } = { aEnd: 0, bFirst: 0 };
    const greedy = { temperature: 0 };
    const a = engine.complete('par', { prompt: 'First story:', maxTokens: 160, ignoreEos: true, sampling: greedy, seq: 0 });
    const b = engine.complete('par', { prompt: 'Second story:', maxTokens: 160, ignoreEos: true, sampling: greedy, seq: parallel > 1 ? 1 : 0 }, {
      onPiece: () => (t.bFirst ||= performance.now()),
    });
    const ra = await a;
    t.aEnd = performance.now();
    const rb = await b;
    await engine.unload('par');
    return { ...t, a: ra.tokens, b: rb.tokens };
  }

  test('with parallel > 1 two requests run together on their own sequences; with 1 they queue', async () => {
    const together = await overlap(2);
    expect(together.a).toHaveLength(160);
    expect(together.b).toHaveLength(160);
    expect(together.bFirst).toBeLessThan(together.aEnd);
    const queued = await overlap(1);
    expect(queued.bFirst).toBeGreaterThan(queued.aEnd - 50);
    // the same requests give the same text whether they shared the batch or not
    expect(together.a.slice(0, 20)).toEqual(queued.a.slice(0, 20));
    expect(together.b.slice(0, 20)).toEqual(queued.b.slice(0, 20));
  });
});
