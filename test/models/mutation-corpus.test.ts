/**
 * R3: a mutation corpus of GGUF files made at test time from the test models (issue 12): cuts,
 * flipped bytes, huge counts and lengths, zero and huge dimensions, bad type ids and hostile
 * hyperparameter values. Every file goes through the TypeScript reader in this process (in memory,
 * over a copy-on-write byte source); a sample goes through the real engine host (written to a temp
 * folder, then loaded), with the host's peak RSS read from /proc. Shows: no mutation crashes the
 * test process (main), every refusal is a clear error (code + one-line message), the host stays
 * under a stated memory bound, and a host crash (if llama.cpp has one on a file our reader passed)
 * ends only that request (engine_crashed) and is reported with the mutation that did it.
 * Bounded: a fixed seed and counts; the host sample is capped in count.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { bufferSource, parseGgufHeader, type GgufByteSource, type GgufHeader } from '../../main/gguf/read';
import { GgufError } from '../../main/gguf/types';
import { splitmix32 } from '../../scripts/make-test-model';
import { HOST_SCRIPT, tempDir } from '../helpers/engine';
import { TINY_BPE, TINY_EMBED, TINY_SPM } from '../helpers/models';

/** The engine host's peak resident memory must stay under this while it reads the sample (MiB). */
const HOST_PEAK_RSS_BOUND_MIB = 1024;
/** How many mutated files go through the engine host. */
const HOST_SAMPLE = 60;

// ---- where the fields are: a scan of a valid file ----------------------------------------------

type FieldKind = 'count' | 'length' | 'type' | 'value' | 'ndims' | 'dim' | 'ggml_type' | 'offset';
interface Field { kind: FieldKind; off: number; size: number; what: string }

const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

/** Every field of the header that a mutation can target (string arrays: only their first items). */
function scan(buf: Buffer): Field[] {
  const fields: Field[] = [
    { kind: 'count', off: 8, size: 8, what: 'tensor count' },
    { kind: 'count', off: 16, size: 8, what: 'kv count' },
  ];
  const nTensors = Number(buf.readBigUInt64LE(8));
  const nKv = Number(buf.readBigUInt64LE(16));
  let o = 24;
  const str = (what: string, record = true): string => {
    const n = Number(buf.readBigUInt64LE(o));
    if (record) fields.push({ kind: 'length', off: o, size: 8, what: `length of ${what}` });
    const s = buf.toString('utf8', o + 8, o + 8 + n);
    o += 8 + n;
    return s;
  };
  const value = (t: number, what: string): void => {
    if (t === 8) { str(what); return; }
    if (t === 9) {
      fields.push({ kind: 'type', off: o, size: 4, what: `item type of ${what}` });
      const it = buf.readUInt32LE(o);
      o += 4;
      fields.push({ kind: 'count', off: o, size: 8, what: `count of ${what}` });
      const n = Number(buf.readBigUInt64LE(o));
      o += 8;
      if (it === 8) for (let i = 0; i < n; i++) str(`${what}[${i}]`, i < 3);
      else if (it === 9) for (let i = 0; i < n; i++) value(9, `${what}[${i}]`);
      else o += n * SCALAR_SIZE[it];
      return;
    }
    fields.push({ kind: 'value', off: o, size: SCALAR_SIZE[t], what });
    o += SCALAR_SIZE[t];
  };
  for (let i = 0; i < nKv; i++) {
    const key = str(`key #${i}`);
    fields.push({ kind: 'type', off: o, size: 4, what: `type of ${key}` });
    const t = buf.readUInt32LE(o);
    o += 4;
    value(t, key);
  }
  for (let i = 0; i < nTensors; i++) {
    const name = str(`tensor #${i} name`);
    fields.push({ kind: 'ndims', off: o, size: 4, what: `n_dims of ${name}` });
    const nd = buf.readUInt32LE(o);
    o += 4;
    for (let d = 0; d < nd; d++, o += 8) fields.push({ kind: 'dim', off: o, size: 8, what: `dim ${d} of ${name}` });
    fields.push({ kind: 'ggml_type', off: o, size: 4, what: `type of ${name}` });
    o += 4;
    fields.push({ kind: 'offset', off: o, size: 8, what: `offset of ${name}` });
    o += 8;
  }
  return fields;
}

// ---- mutations ---------------------------------------------------------------------------------

interface Mutation {
  model: string;
  /** one line: what was changed, to reproduce it */
  label: string;
  kind: 'truncate' | 'flip' | 'huge' | 'zero_dim' | 'type_id' | 'value';
  size: number;
  patches: [number, Buffer][];
}

function uint(size: number, v: bigint): Buffer {
  const b = Buffer.alloc(size);
  if (size === 8) b.writeBigUInt64LE(BigInt.asUintN(64, v));
  else if (size === 4) b.writeUInt32LE(Number(BigInt.asUintN(32, v)));
  else if (size === 2) b.writeUInt16LE(Number(BigInt.asUintN(16, v)));
  else b.writeUInt8(Number(BigInt.asUintN(8, v)));
  return b;
}

/** A file with patches applied, without copying it. */
function patchedSource(base: Buffer, m: Mutation): GgufByteSource {
  return {
    size: m.size,
    read: async (buf, offset, length, position) => {
      const end = Math.min(m.size, position + length);
      if (end <= position) return 0;
      const n = base.copy(buf, offset, position, end);
      for (const [at, bytes] of m.patches) {
        for (let i = 0; i < bytes.length; i++) {
          const p = at + i;
          if (p >= position && p < end) buf[offset + p - position] = bytes[i];
        }
      }
      return n;
    },
  };
}

function materialize(base: Buffer, m: Mutation): Buffer {
  const out = Buffer.from(base.subarray(0, m.size));
  for (const [at, bytes] of m.patches) bytes.copy(out, at, 0, Math.max(0, Math.min(bytes.length, m.size - at)));
  return out;
}

const HUGE = [1n << 31n, 1n << 32n, 1n << 40n, 1n << 53n, 1n << 62n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];

function mutationsOf(model: string, buf: Buffer, header: GgufHeader, seed: number, counts: Record<Mutation['kind'], number>): Mutation[] {
  const rnd = splitmix32(seed);
  const pick = <T>(a: readonly T[]): T => a[rnd() % a.length];
  const name = path.basename(model);
  const fields = scan(buf);
  const of = (...kinds: FieldKind[]) => fields.filter((f) => kinds.includes(f.kind));
  const out: Mutation[] = [];
  const size = buf.length;
  for (let i = 0; i < counts.truncate; i++) {
    // mostly inside the header, some inside the tensor data
    const cut = i % 4 === 3 ? header.dataOffset + (rnd() % (size - header.dataOffset)) : rnd() % header.dataOffset;
    out.push({ model, kind: 'truncate', size: cut, patches: [], label: `${name}: cut at ${cut}` });
  }
  for (let i = 0; i < counts.flip; i++) {
    // header bytes (mostly those outside the vocab strings, where a flip means something), some data bytes
    const where = i % 8 === 7 ? header.dataOffset + (rnd() % (size - header.dataOffset)) : i % 2 ? pick(fields).off + (rnd() % 8) : rnd() % header.dataOffset;
    const n = 1 + (rnd() % 3);
    const patches: [number, Buffer][] = [];
    for (let k = 0; k < n; k++) patches.push([where + k, Buffer.from([buf[where + k] ^ (1 + (rnd() % 255))])]);
    out.push({ model, kind: 'flip', size, patches, label: `${name}: ${n} byte(s) flipped at ${where}` });
  }
  const lengths = of('count', 'length', 'offset');
  for (let i = 0; i < counts.huge; i++) {
    const f = pick(lengths);
    const orig = buf.readBigUInt64LE(f.off);
    const v = i % 3 === 2 ? orig + BigInt(1 + (rnd() % 4096)) : pick(HUGE);
    out.push({ model, kind: 'huge', size, patches: [[f.off, uint(8, v)]], label: `${name}: ${f.what} = ${v}` });
  }
  const dims = of('dim', 'ndims');
  for (let i = 0; i < counts.zero_dim; i++) {
    const f = dims[i % dims.length];
    const v = f.kind === 'ndims' ? BigInt(rnd() % 8) : i < dims.length ? 0n : pick([0n, ...HUGE]);
    out.push({ model, kind: 'zero_dim', size, patches: [[f.off, uint(f.size, v)]], label: `${name}: ${f.what} = ${v}` });
  }
  const types = of('type', 'ggml_type');
  for (let i = 0; i < counts.type_id; i++) {
    const f = pick(types);
    const v = pick([0n, 1n, 6n, 7n, 8n, 9n, 12n, 13n, 4n, 31n, 255n, 0xffffffffn, BigInt(rnd() % 64)]);
    out.push({ model, kind: 'type_id', size, patches: [[f.off, uint(4, v)]], label: `${name}: ${f.what} = ${v}` });
  }
  // hostile values for scalar metadata (hyperparameters, token ids): these pass the reader and reach llama.cpp
  const values = of('value');
  for (let i = 0; i < counts.value; i++) {
    const f = values[i % values.length];
    const v = pick([0n, 1n, 2n, 3n, 7n, 255n, 65535n, 0x7fffffffn, 0x80000000n, 0xffffffffn, (1n << 63n) - 1n, (1n << 64n) - 1n, BigInt(rnd())]);
    out.push({ model, kind: 'value', size, patches: [[f.off, uint(f.size, v)]], label: `${name}: ${f.what} = ${BigInt.asUintN(f.size * 8, v)}` });
  }
  return out;
}

// ---- the run -----------------------------------------------------------------------------------

interface Outcome { m: Mutation; passed: boolean; code?: string }

const bases = new Map<string, Buffer>();
const outcomes: Outcome[] = [];
let dir: string;

beforeAll(() => {
  dir = tempDir('hearth-r3-');
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

test('R3 reader: ≥ 1,000 mutated GGUF files, each refused with a clear error or read, none crashes', async () => {
  const plan: [string, number, Record<Mutation['kind'], number>][] = [
    // the BPE model's header (its 7.8 MB tokenizer) costs ten times the others' to read: a few of it
    [TINY_SPM, 11, { truncate: 120, flip: 210, huge: 120, zero_dim: 60, type_id: 50, value: 80 }],
    [TINY_EMBED, 12, { truncate: 70, flip: 110, huge: 60, zero_dim: 50, type_id: 30, value: 40 }],
    [TINY_BPE, 13, { truncate: 4, flip: 4, huge: 4, zero_dim: 4, type_id: 2, value: 2 }],
  ];
  const corpus: Mutation[] = [];
  for (const [model, seed, counts] of plan) {
    const buf = fs.readFileSync(model);
    bases.set(model, buf);
    const header = await parseGgufHeader(bufferSource(buf), model);
    corpus.push(...mutationsOf(model, buf, header, seed, counts));
  }
  expect(corpus.length).toBeGreaterThanOrEqual(1000);

  const unclear: string[] = [];
  const rss0 = process.memoryUsage().rss;
  const cpu0 = process.cpuUsage();
  let peakRss = rss0;
  const t0 = Date.now();
  for (const m of corpus) {
    try {
      await parseGgufHeader(patchedSource(bases.get(m.model)!, m), m.label);
      outcomes.push({ m, passed: true });
    } catch (e) {
      if (e instanceof GgufError && e.message.length > 0 && !/[\r\n]/.test(e.message) && e.message.length < 600) {
        outcomes.push({ m, passed: false, code: e.code });
      } else {
        unclear.push(`${m.label}: ${(e as Error)?.name}: ${(e as Error)?.message}`);
      }
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const byCode: Record<string, number> = {};
  for (const o of outcomes) byCode[o.code ?? 'read (passed)'] = (byCode[o.code ?? 'read (passed)'] ?? 0) + 1;
  const byKind: Record<string, string> = {};
  for (const k of ['truncate', 'flip', 'huge', 'zero_dim', 'type_id', 'value']) {
    const of = outcomes.filter((o) => o.m.kind === k);
    byKind[k] = `${of.length - of.filter((o) => o.passed).length} refused / ${of.filter((o) => o.passed).length} read`;
  }
  console.log([
    `R3 reader: ${corpus.length} mutated files (${plan.map(([m]) => path.basename(m)).join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(1)} s (${((process.cpuUsage(cpu0).user + process.cpuUsage(cpu0).system) / 1e6).toFixed(1)} s CPU)`,
    `  outcomes by code: ${JSON.stringify(byCode)}`,
    `  by mutation: ${JSON.stringify(byKind)}`,
    `  unclear errors (not a GgufError with a one-line message): ${unclear.length}; crashes of this process: 0 (it is still running)`,
    `  this process's RSS: ${(rss0 / 2 ** 20).toFixed(0)} MiB before, ${(peakRss / 2 ** 20).toFixed(0)} MiB peak`,
  ].join('\n'));
  expect(unclear).toEqual([]);
  // every kind of mutation that breaks the structure is refused at least sometimes; zero dims always
  expect(outcomes.filter((o) => o.m.kind === 'zero_dim' && o.m.label.endsWith('= 0')).every((o) => !o.passed && o.code === 'corrupt')).toBe(true);
  expect(outcomes.filter((o) => o.m.kind === 'truncate').every((o) => !o.passed)).toBe(true);
});

test('R3 engine host: a sample through EngineClient.load; main survives, clear errors, bounded host memory', async () => {
  expect(outcomes.length).toBeGreaterThan(0);
  const engine = new EngineClient({ hostScript: HOST_SCRIPT, env: { HEARTH_TEST_HOOKS: '1' }, maxRestarts: 10_000 });
  const spm = outcomes.filter((o) => o.m.model === TINY_SPM);
  // mostly files our reader passed (they reach llama.cpp), some it refused (the host answers invalid_model)
  const passed = spm.filter((o) => o.passed);
  const refused = spm.filter((o) => !o.passed);
  // hostile hyperparameters and token ids first: they pass our reader and test llama.cpp's own checks
  const values = passed.filter((o) => o.m.kind === 'value');
  const others = passed.filter((o) => o.m.kind !== 'value');
  const sample = [
    ...values.slice(0, HOST_SAMPLE - 35),
    ...others.filter((_, i) => i % Math.ceil(others.length / 15) === 0),
    ...refused.filter((_, i) => i % Math.ceil(refused.length / 20) === 0),
  ].slice(0, HOST_SAMPLE);
  const codes: Record<string, number> = {};
  const crashes: string[] = [];
  const unclear: string[] = [];
  const llamaRefused: string[] = [];
  let peakKiB = 0;
  const hwm = () => {
    const pid = engine.pid;
    if (!pid) return;
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      /* the host is gone (crashed) */
    }
  };
  const t0 = Date.now();
  try {
    await engine.start();
    for (const [i, o] of sample.entries()) {
      const file = path.join(dir, `m${i}.gguf`);
      fs.writeFileSync(file, materialize(bases.get(o.m.model)!, o.m));
      let code = 'loaded';
      try {
        await engine.load('m', file, { contextSize: 128, gpuLayers: 0, parallel: 1 });
        hwm();
        await engine.unload('m');
      } catch (e) {
        const err = e as { code?: string; message?: string };
        code = err.code ?? 'none';
        if (!err.code || !err.message) unclear.push(`${o.m.label}: ${String(e)}`);
        if (code !== 'invalid_model' && code !== 'engine_crashed') llamaRefused.push(`${o.m.label}: ${code}: ${err.message?.slice(0, 160)}`);
        if (code === 'engine_crashed') crashes.push(`${o.m.label} (${o.passed ? 'passed' : 'refused by'} the TS reader): ${err.message}`);
      }
      hwm();
      codes[code] = (codes[code] ?? 0) + 1;
      fs.rmSync(file, { force: true });
    }
    // the host still answers after the whole sample
    const ok = await engine.load('m', TINY_SPM, { contextSize: 128, gpuLayers: 0, parallel: 1 });
    expect(ok.modelId).toBe('m');
    hwm();
  } finally {
    await engine.close();
  }
  console.log([
    `R3 engine host: ${sample.length} files (${sample.filter((o) => o.passed).length} passed the TS reader, ${sample.filter((o) => !o.passed).length} refused by it) in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    `  outcomes by code: ${JSON.stringify(codes)}`,
    `  refused by llama.cpp itself (passed our reader): ${llamaRefused.length}${llamaRefused.length ? `\n    ${llamaRefused.join('\n    ')}` : ''}`,
    `  host crashes: ${crashes.length}${crashes.length ? `\n    ${crashes.join('\n    ')}` : ''}`,
    `  host peak RSS (VmHWM, max over host processes): ${(peakKiB / 1024).toFixed(0)} MiB (bound ${HOST_PEAK_RSS_BOUND_MIB} MiB)`,
  ].join('\n'));
  expect(unclear).toEqual([]);
  expect(peakKiB).toBeGreaterThan(0);
  expect(peakKiB / 1024).toBeLessThan(HOST_PEAK_RSS_BOUND_MIB);
  // every file the reader refused is refused by the host with invalid_model, before llama.cpp sees it
  expect(sample.filter((o) => !o.passed).length).toBeGreaterThan(10);
  expect(codes.invalid_model).toBeGreaterThanOrEqual(sample.filter((o) => !o.passed).length);
  // llama.block_count past LLAMA_MAX_LAYERS aborted the host in llama.cpp's load_hparams before the
  // host checked hyperparameters (main/gguf/hparams.ts): those files are now invalid_model
  expect(crashes.filter((c) => c.includes('block_count'))).toEqual([]);
});

test('hyperparameters llama.cpp asserts on are refused by the host as invalid_model, without a crash', async () => {
  const base = fs.readFileSync(TINY_SPM);
  const field = scan(base).find((f) => f.what === 'llama.block_count')!;
  expect(field).toBeDefined();
  const engine = new EngineClient({ hostScript: HOST_SCRIPT, env: { HEARTH_TEST_HOOKS: '1' } });
  try {
    await engine.start();
    const pid = engine.pid;
    for (const v of [0n, 513n, 0xffffffffn]) {
      const file = path.join(dir, `layers-${v}.gguf`);
      fs.writeFileSync(file, materialize(base, { model: TINY_SPM, kind: 'value', size: base.length, patches: [[field.off, uint(4, v)]], label: '' }));
      const e = await engine.load('m', file, { contextSize: 128, gpuLayers: 0 }).then(() => null, (x: { code: string; message: string }) => x);
      expect(e).toMatchObject({ code: 'invalid_model', message: expect.stringContaining(`llama.block_count is ${v}; llama.cpp supports 1 to 512 layers`) });
    }
    expect(engine.pid).toBe(pid); // the same host: nothing aborted
  } finally {
    await engine.close();
  }
});
