/**
 * The header check and llama.cpp's load see the same file (issue 12, what was left: item 3). The
 * host opens a model file once, checks its header from that open file, and hands llama.cpp the same
 * file (`/proc/self/fd/N` here; a split model's parts through a folder of links to its open files),
 * and where llama.cpp opens files by name (Windows and macOS: the test hook's `identity`) their
 * identity is checked after the load instead (main/engine/model-file.ts). A file renamed over the path between
 * the check and the load is never what gets loaded: the test hook `loadGate` holds the host right
 * there while the test swaps the file. Real addon, real host.
 */
import { execFileSync, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { readGgufHeader, readGgufTensorBytes } from '../../main/gguf/read';
import { gguf } from '../../main/gguf/types';
import { GgufWriter, GgufWriterTensorType } from '../../main/gguf/write';
import { descriptorPath, processStart, removeStaleLinkDirs, renameInMessage } from '../../main/engine/model-file';
import { errorOf, hostStats, makeEngine, tempDir } from '../helpers/engine';
import { inAddon } from '../helpers/addon';
import { TINY_BPE, TINY_PROJECTOR, TINY_SPM, writeRetyped } from '../helpers/models';
import type { LoadParamsInput } from '../../main/params';
import { writeTestControlVector, writeTestLora } from '../../scripts/make-test-adapter';

const SMALL = { contextSize: 256, threads: 1 };
let dir: string;
let engine: EngineClient;
let spmVocab: number;

beforeAll(async () => {
  dir = tempDir();
  engine = makeEngine();
  await engine.load('ref', TINY_SPM, SMALL);
  spmVocab = (await engine.info(TINY_SPM)).vocabSize;
  await engine.unload('ref');
});

afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Waits until the host has checked the files and waits at `gate`. */
async function untilChecked(gate: string): Promise<void> {
  for (let i = 0; i < 1500 && !fs.existsSync(path.join(gate, 'checked')); i++) await new Promise((r) => setTimeout(r, 20));
  expect(fs.existsSync(path.join(gate, 'checked'))).toBe(true);
}

/** Loads `file` as `modelId` while the host waits between the check and the load, running `swap` there. */
async function loadWithSwap(modelId: string, file: string, swap: () => void, identity = false, params: LoadParamsInput = SMALL) {
  const gate = fs.mkdtempSync(path.join(dir, 'gate-'));
  await engine.request('loadGate', { dir: gate, identity });
  const loading = engine.load(modelId, file, params);
  loading.catch(() => undefined);
  await untilChecked(gate);
  swap();
  fs.writeFileSync(path.join(gate, 'go'), '');
  return loading;
}

/** Puts a copy of `from` in place of `file` (a rename: the path names a new file, as an attacker's swap would). */
function swapIn(from: string, file: string): void {
  const tmp = `${file}.swap`;
  fs.copyFileSync(from, tmp);
  fs.renameSync(tmp, file);
}

/** Writes `source` as a model split in two files (`<stem>-00001-of-00002.gguf`, …), the way llama.cpp's gguf-split does. */
async function writeSplit(stem: string, source = TINY_SPM): Promise<string[]> {
  const h = await readGgufHeader(source);
  const half = Math.ceil(h.tensors.length / 2);
  const parts = [h.tensors.slice(0, half), h.tensors.slice(half)];
  const files = parts.map((_, i) => `${stem}-${String(i + 1).padStart(5, '0')}-of-00002.gguf`);
  for (let i = 0; i < parts.length; i++) {
    const w = new GgufWriter();
    if (i === 0) for (const [k, v] of h.metadata) if (k !== 'general.alignment') w.set(k, v);
    w.set('split.no', gguf.u16(i));
    w.set('split.count', gguf.u16(parts.length));
    w.set('split.tensors.count', gguf.i32(h.tensors.length));
    for (const t of parts[i]) w.addTensor({ name: t.name, shape: t.dims, type: t.typeName as GgufWriterTensorType, data: new Uint8Array(await readGgufTensorBytes(h, t.name)) });
    await w.write(files[i]);
  }
  return files;
}

const descriptor = process.platform === 'linux' ? test : test.skip;

descriptor('a file renamed over the path after the check is not what llama.cpp loads: it loads the file that was checked', async () => {
  const file = path.join(dir, 'swapped.gguf');
  fs.copyFileSync(TINY_SPM, file);
  const r = await loadWithSwap('m', file, () => swapIn(TINY_BPE, file));
  expect(r.metadata.vocabSize).toBe(spmVocab); // the checked file (TINY_SPM), not the one swapped in (TINY_BPE)
  expect(r.metadata.path).toBe(file); // named as the user knows it, not /proc/self/fd/N
  expect((await engine.complete('m', { prompt: 'Hi', maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
  await engine.unload('m');
});

test('where the identity is checked instead (Windows, macOS): a swap is refused with model_changed and nothing stays loaded', async () => {
  const file = path.join(dir, 'identity.gguf');
  fs.copyFileSync(TINY_SPM, file);
  const err = await errorOf(loadWithSwap('m', file, () => swapIn(TINY_SPM, file), true));
  expect(err.code).toBe('model_changed');
  expect(err.message).toMatch(/identity\.gguf was replaced or changed while it was loading/);
  const s = await hostStats(engine);
  expect(s.loaded).toEqual([]);
  expect(s.models).toBe(0);
  // untouched, the same file loads
  await engine.load('m', file, SMALL);
  await engine.unload('m');
});

test('a file written in place between the check and the load is refused too', async () => {
  const file = path.join(dir, 'edited.gguf');
  fs.copyFileSync(TINY_SPM, file);
  const err = await errorOf(
    loadWithSwap('m', file, () => {
      // same file, new bytes at the end (as a download still being written would)
      fs.appendFileSync(file, Buffer.alloc(64));
    }),
  );
  expect(err.code).toBe('model_changed');
  expect((await hostStats(engine)).models).toBe(0);
});

test('a split model loads (llama.cpp finds its other parts) and generates; where the identity is checked, a file put in place of either part is refused, naming it', async () => {
  const files = await writeSplit(path.join(dir, 'split'));
  const r = await engine.load('s', files[0], SMALL);
  expect(r.metadata.vocabSize).toBe(spmVocab);
  expect(r.metadata.path).toBe(files[0]);
  expect((await engine.complete('s', { prompt: 'Hi', maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
  await engine.unload('s');
  // by name, as on macOS and Windows (the gate's identity hook): the same bytes put in place (so
  // llama.cpp's load itself succeeds) are refused, naming the part
  for (const f of files) {
    const err = await errorOf(loadWithSwap('s', files[0], () => swapIn(f, f), true));
    expect(err.code).toBe('model_changed');
    expect(err.message.startsWith(`${path.basename(f)} was replaced or changed while it was loading`)).toBe(true);
    expect((await hostStats(engine)).models).toBe(0);
  }
  // a part missing at the check is refused there, naming it (llama.cpp never opens one that appears later)
  const kept = `${files[1]}.kept`;
  fs.renameSync(files[1], kept);
  const missing = await errorOf(engine.load('s', files[0], SMALL));
  fs.renameSync(kept, files[1]);
  expect(missing.code).toBe('invalid_model');
  expect(missing.message).toContain(`its part ${files[1]} is missing`);
  // one that is no GGUF file, refused by main/gguf's reader before llama.cpp's
  fs.renameSync(files[1], kept);
  fs.writeFileSync(files[1], 'not a gguf file');
  const garbled = await errorOf(engine.load('s', files[0], SMALL));
  fs.renameSync(kept, files[1]);
  expect(garbled.code).toBe('invalid_model');
  expect(garbled.message).toContain(`its part ${files[1]} is no GGUF file llama.cpp reads`);
  // one that is another part (the first again): its split.no says so, as llama.cpp would refuse it
  fs.renameSync(files[1], kept);
  fs.copyFileSync(files[0], files[1]);
  const wrong = await errorOf(engine.load('s', files[0], SMALL));
  fs.renameSync(kept, files[1]);
  expect(wrong.code).toBe('invalid_model');
  expect(wrong.message).toContain(`its part ${files[1]} says it is part 1, not 2`);
  // one whose split.no is the right number of another type: llama.cpp's read of it asserts (the host would abort)
  fs.renameSync(files[1], kept);
  await writeRetyped(kept, files[1], {}, { 'split.no': gguf.u32(1) });
  const typed = await errorOf(engine.load('s', files[0], SMALL));
  fs.renameSync(kept, files[1]);
  expect(typed.code).toBe('invalid_model');
  expect(typed.message).toContain(`its part ${files[1]} holds split.no as uint32, not the uint16 llama.cpp reads`);
  // more parts than the engine holds open (llama.cpp would take 65,535, each opened and read here first)
  const many = await writeRetyped(TINY_SPM, path.join(dir, 'many-00001-of-02000.gguf'), {}, { 'split.count': gguf.u16(2000), 'split.no': gguf.u16(0) });
  const tooMany = await errorOf(engine.load('s', many, SMALL));
  expect(tooMany.code).toBe('invalid_model');
  expect(tooMany.message).toContain('it is split in 2000 parts; the engine loads at most 1024');
  expect((await hostStats(engine)).models).toBe(0);
});

descriptor("a split model's parts are the files that were checked: llama.cpp reads them through links to the host's open files, so parts renamed over them after the check are not what it reads", async () => {
  const linkDirs = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('hearth-split-')).length;
  const dirsBefore = linkDirs();
  const files = await writeSplit(path.join(dir, 'linked'));
  const bpe = await writeSplit(path.join(dir, 'bpe'), TINY_BPE);
  const r = await loadWithSwap('l', files[0], () => files.forEach((f, i) => swapIn(bpe[i], f)));
  expect(r.metadata.vocabSize).toBe(spmVocab); // the parts checked (TINY_SPM's), not TINY_BPE's swapped in
  expect(r.metadata.path).toBe(files[0]);
  expect((await engine.complete('l', { prompt: 'Hi', maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
  await engine.unload('l');
  expect(linkDirs()).toBe(dirsBefore); // the links are gone with the load
  // a part written in place meanwhile is refused, naming it
  const fresh = await writeSplit(path.join(dir, 'edited'));
  const err = await errorOf(loadWithSwap('l', fresh[0], () => fs.appendFileSync(fresh[1], Buffer.alloc(64))));
  expect(err.code).toBe('model_changed');
  expect(err.message.startsWith(`${path.basename(fresh[1])} was replaced or changed while it was loading`)).toBe(true);
  expect((await hostStats(engine)).models).toBe(0);
  expect(linkDirs()).toBe(dirsBefore);
});

const fifo = process.platform === 'win32' ? test.skip : test;

fifo("a split model's part that is no regular file (a FIFO, whose open would never return) is refused before llama.cpp opens it", async () => {
  const files = await writeSplit(path.join(dir, 'piped'));
  fs.rmSync(files[1]);
  execFileSync('mkfifo', [files[1]]);
  const err = await errorOf(engine.load('p', files[0], SMALL));
  expect(err.code).toBe('invalid_model');
  expect(err.message).toContain(`its part ${files[1]} is not a regular file`);
  expect((await hostStats(engine)).models).toBe(0);
});

descriptor("the draft model and the projector are the files that were checked too: a file renamed over their paths after the check is not what llama.cpp reads", async () => {
  let crashes = 0;
  engine.onCrash = () => void crashes++;
  // a draft whose hyperparameters llama.cpp asserts on (more than LLAMA_MAX_LAYERS layers: the host would
  // abort), and a file that is no projector, each put in place of a checked file
  const deep = await writeRetyped(TINY_SPM, path.join(dir, 'deep-draft.gguf'), {}, { 'llama.block_count': gguf.u32(513) });
  const draft = path.join(dir, 'draft.gguf');
  const projector = path.join(dir, 'mmproj.gguf');
  fs.copyFileSync(TINY_SPM, draft);
  fs.copyFileSync(TINY_PROJECTOR, projector);
  const greedy = { prompt: 'Hi', maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } };
  const r = await loadWithSwap('d', TINY_SPM, () => swapIn(deep, draft), false, { ...SMALL, gpuLayers: 0, draftModel: draft, draftMax: 4 }); // on the CPU: self-drafting accepts every token there
  expect(r.metadata.vocabSize).toBe(spmVocab);
  const drafted = await engine.complete('d', greedy);
  expect(drafted.timings.draftTokens).toBeGreaterThan(0); // the checked draft drafts (for itself: all accepted)
  expect(drafted.timings.acceptedTokens).toBe(drafted.timings.draftTokens);
  await engine.unload('d');
  const v = await loadWithSwap('v', TINY_BPE, () => swapIn(TINY_BPE, projector), false, { ...SMALL, mmproj: projector });
  expect(v.metadata.vision).toBe(true); // the projector checked, not the model swapped in
  await engine.unload('v');
  expect(crashes).toBe(0);
  engine.onCrash = undefined;
});

test("a draft model written in place between the check and the load is refused, naming it; the addon's messages name the companions as the user does", async () => {
  const draft = path.join(dir, 'edited-draft.gguf');
  fs.copyFileSync(TINY_SPM, draft);
  const err = await errorOf(loadWithSwap('e', TINY_SPM, () => fs.appendFileSync(draft, Buffer.alloc(64)), false, { ...SMALL, draftModel: draft }));
  expect(err.code).toBe('model_changed');
  expect(err.message).toMatch(/^edited-draft\.gguf was replaced or changed while it was loading/);
  expect((await hostStats(engine)).models).toBe(0);
  // a file that is no projector: llama.cpp's refusal names it by its path, not the descriptor it was opened by
  const notProjector = path.join(dir, 'not-a-projector.gguf');
  fs.copyFileSync(TINY_BPE, notProjector);
  const refused = await errorOf(engine.load('n', TINY_BPE, { ...SMALL, mmproj: notProjector }));
  expect(refused.code).toBe('load_failed');
  expect(refused.message).toContain(`projector (mmproj) ${notProjector} for this model`);
  expect(refused.message).not.toContain('/proc/self/fd');
  // a draft of another vocabulary, refused when the context starts (after the files are closed): named too
  const other = path.join(dir, 'other-vocab-draft.gguf');
  fs.copyFileSync(TINY_BPE, other);
  const vocab = await errorOf(engine.load('o', TINY_SPM, { ...SMALL, draftModel: other }));
  expect(vocab.message).toContain(`the draft model ${other} cannot draft for`);
  expect((await hostStats(engine)).models).toBe(0);
});

test('a projector that is missing or unreadable fails the load saying so; an estimate counts none, as llama.cpp reckons one it cannot read', async () => {
  const missing = path.join(dir, 'no-such-mmproj.gguf');
  const half = path.join(dir, 'half-mmproj.gguf');
  fs.writeFileSync(half, fs.readFileSync(TINY_PROJECTOR).subarray(0, 100));
  const without = await engine.estimate(TINY_BPE, SMALL);
  for (const [file, why] of [
    [missing, /^the projector .*no-such-mmproj\.gguf was not found \(named for tiny-bpe\.gguf\)$/],
    [half, /^the projector .*half-mmproj\.gguf cannot be read: /],
  ] as const) {
    const e = await errorOf(engine.load('p', TINY_BPE, { ...SMALL, mmproj: file }));
    expect(e.code).toBe('load_failed');
    expect(e.message).toMatch(why);
    const est = await engine.estimate(TINY_BPE, { ...SMALL, mmproj: file });
    expect(est.host.projector).toBe(0);
    expect({ ...est.host, free: 0 }).toEqual({ ...without.host, free: 0 });
  }
  // a readable one counts
  expect((await engine.estimate(TINY_BPE, { ...SMALL, mmproj: TINY_PROJECTOR })).host.projector).toBeGreaterThan(0);
});

test('estimates and metadata reads get the checked file as well', async () => {
  const file = path.join(dir, 'estimate.gguf');
  fs.copyFileSync(TINY_SPM, file);
  const gate = fs.mkdtempSync(path.join(dir, 'gate-'));
  await engine.request('loadGate', { dir: gate });
  const info = engine.info(file);
  await untilChecked(gate);
  swapIn(TINY_BPE, file);
  fs.writeFileSync(path.join(gate, 'go'), '');
  const m = await info;
  if (process.platform === 'linux' || process.platform === 'darwin') expect(m.vocabSize).toBe(spmVocab);
  const est = await engine.estimate(file, { gpuLayers: 0, contextSize: 256 });
  expect(est.contextSize).toBe(256);
});

descriptor('no file stays open: after companions and adapters refused, after a load withdrawn while its files wait at the check, and after a load', async () => {
  await hostStats(engine); // a host is running
  const open = () => fs.readdirSync(`/proc/${engine.pid}/fd`).length;
  const before = open();
  const half = path.join(dir, 'half-draft.gguf');
  fs.writeFileSync(half, fs.readFileSync(TINY_SPM).subarray(0, 100));
  expect((await errorOf(engine.load('x', TINY_SPM, { ...SMALL, draftModel: half }))).code).toBe('invalid_model');
  expect((await errorOf(engine.load('x', TINY_BPE, { ...SMALL, draftModel: TINY_BPE, mmproj: path.join(dir, 'none.gguf') }))).code).toBe('load_failed');
  // an adapter refused after another was opened; a projector missing after both adapters were
  const lora = await writeTestLora({ out: path.join(dir, 'fd-lora.gguf') });
  const cvec = await writeTestControlVector({ out: path.join(dir, 'fd-cvec.gguf') });
  expect((await errorOf(engine.load('x', TINY_SPM, { ...SMALL, loraAdapters: [{ path: lora, scale: 1 }, { path: half, scale: 1 }] }))).code).toBe('invalid_argument');
  const adapters = { loraAdapters: [{ path: lora, scale: 1 }], controlVectors: [{ path: cvec, scale: 1 }] };
  expect((await errorOf(engine.load('x', TINY_SPM, { ...SMALL, ...adapters, mmproj: path.join(dir, 'none.gguf') }))).code).toBe('load_failed');
  const gate = fs.mkdtempSync(path.join(dir, 'gate-'));
  await engine.request('loadGate', { dir: gate });
  const loading = engine.load('w', TINY_SPM, { ...SMALL, ...adapters, mmproj: TINY_PROJECTOR, draftModel: TINY_SPM });
  loading.catch(() => undefined);
  await untilChecked(gate);
  await engine.unload('w'); // cancels the load; the gate lets it go at once
  expect((await errorOf(loading)).code).toBe('aborted');
  expect(open()).toBe(before);
  await engine.load('y', TINY_SPM, { ...SMALL, ...adapters, draftModel: TINY_SPM });
  await engine.unload('y');
  expect(open()).toBe(before);
  // a split model's parts, after a load and after a part refused
  const parts = await writeSplit(path.join(dir, 'fd-split'));
  await engine.load('y', parts[0], SMALL);
  await engine.unload('y');
  fs.writeFileSync(parts[1], 'not a gguf file');
  expect((await errorOf(engine.load('y', parts[0], SMALL))).code).toBe('invalid_model');
  expect(open()).toBe(before);
  expect((await hostStats(engine)).models).toBe(0);
});

test("an estimate's draft model is the file that was checked; where the identity is checked, a companion put in place is refused", async () => {
  let crashes = 0;
  engine.onCrash = () => void crashes++;
  const deep = await writeRetyped(TINY_SPM, path.join(dir, 'deep-estimate-draft.gguf'), {}, { 'llama.block_count': gguf.u32(513) });
  const draft = path.join(dir, 'estimate-draft.gguf');
  fs.copyFileSync(TINY_SPM, draft);
  const params = { ...SMALL, gpuLayers: 0, draftModel: draft };
  const plain = await engine.estimate(TINY_SPM, params);
  const gate = fs.mkdtempSync(path.join(dir, 'gate-'));
  await engine.request('loadGate', { dir: gate, identity: process.platform !== 'linux' });
  const estimating = engine.estimate(TINY_SPM, params);
  estimating.catch(() => undefined);
  await untilChecked(gate);
  swapIn(deep, draft);
  fs.writeFileSync(path.join(gate, 'go'), '');
  if (process.platform === 'linux') {
    // the checked draft (TINY_SPM) is the one measured, as before the swap
    expect((await estimating).host).toEqual({ ...plain.host, free: expect.any(Number) });
  } else {
    expect((await errorOf(estimating)).code).toBe('model_changed');
  }
  expect(crashes).toBe(0);
  // by name, as on macOS and Windows (the gate's identity hook): a draft put in place is refused
  fs.copyFileSync(TINY_SPM, draft);
  const err = await errorOf(loadWithSwap('i', TINY_SPM, () => swapIn(TINY_SPM, draft), true, params));
  expect(err.code).toBe('model_changed');
  expect(err.message).toMatch(/^estimate-draft\.gguf was replaced or changed while it was loading/);
  expect((await hostStats(engine)).models).toBe(0);
  engine.onCrash = undefined;
});

test("LoRA adapters and control vectors are the files that were checked, and a request names an adapter as the user does; where the identity is checked, one put in place is refused", async () => {
  const lora = await writeTestLora({ out: path.join(dir, 'lora.gguf') });
  const otherLora = await writeTestLora({ out: path.join(dir, 'other-lora.gguf'), seed: 99 });
  const cvec = await writeTestControlVector({ out: path.join(dir, 'cvec.gguf') });
  const otherCvec = await writeTestControlVector({ out: path.join(dir, 'other-cvec.gguf'), seed: 99 });
  const greedy = { prompt: 'Once upon a time', maxTokens: 12, ignoreEos: true, sampling: { temperature: 0 } };
  const replyWith = async (params: LoadParamsInput) => {
    await engine.load('a', TINY_SPM, params);
    const r = (await engine.complete('a', greedy)).tokens;
    await engine.unload('a');
    return r;
  };
  const withLora = (p: string) => ({ ...SMALL, loraAdapters: [{ path: p, scale: 1 }] });
  const withCvec = (p: string) => ({ ...SMALL, controlVectors: [{ path: p, scale: 1 }] });
  const [checkedLora, swappedLora] = [await replyWith(withLora(lora)), await replyWith(withLora(otherLora))];
  const [checkedCvec, swappedCvec] = [await replyWith(withCvec(cvec)), await replyWith(withCvec(otherCvec))];
  expect(checkedLora).not.toEqual(swappedLora); // the swap would show
  expect(checkedCvec).not.toEqual(swappedCvec);
  const plain = await replyWith(SMALL);

  // the other file put in place of each after the check: the load reads the checked one
  const target = path.join(dir, 'target-lora.gguf');
  const vector = path.join(dir, 'target-cvec.gguf');
  fs.copyFileSync(lora, target);
  fs.copyFileSync(cvec, vector);
  await loadWithSwap('a', TINY_SPM, () => swapIn(otherLora, target), false, withLora(target));
  expect((await engine.complete('a', greedy)).tokens).toEqual(checkedLora);
  // a request names the adapter by its path, as loaded (not the descriptor llama.cpp read it by)
  expect((await engine.complete('a', { ...greedy, loraAdapters: [{ path: target, scale: 0 }] })).tokens).toEqual(plain);
  await engine.unload('a');
  await loadWithSwap('a', TINY_SPM, () => swapIn(otherCvec, vector), false, withCvec(vector));
  expect((await engine.complete('a', greedy)).tokens).toEqual(checkedCvec);
  await engine.unload('a');

  // by name, as on macOS and Windows (the gate's identity hook): refused, naming the file
  for (const [params, file] of [[withLora(target), target], [withCvec(vector), vector]] as const) {
    const err = await errorOf(loadWithSwap('a', TINY_SPM, () => swapIn(file === target ? lora : cvec, file), true, params));
    expect(err.code).toBe('model_changed');
    expect(err.message.startsWith(`${path.basename(file)} was replaced or changed while it was loading`)).toBe(true);
    expect((await hostStats(engine)).models).toBe(0);
  }
  // an adapter llama.cpp refuses is named as the user does, not by its descriptor
  const alora = await writeTestLora({ out: path.join(dir, 'alora.gguf'), aloraInvocationTokens: [1, 2, 3] });
  const refused = await errorOf(engine.load('a', TINY_SPM, withLora(alora)));
  expect(refused.message).toContain(`the LoRA adapter ${alora} is an activated LoRA`);
  expect(refused.message).not.toContain('/proc/self/fd');
});

test("the folders of links a host left when it died mid-load are removed as a host starts: only those whose process is gone", async () => {
  const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // ended: its pid names no process now
  const names = [`hearth-split-${dead}-aaaaaa`, `hearth-split-${process.pid}-bbbbbb`, `hearth-split-1-cccccc`, 'hearth-split-x-dddddd', 'other'];
  for (const n of names) fs.mkdirSync(path.join(tmp, n));
  fs.symlinkSync('/proc/self/fd/99', path.join(tmp, names[0], 'm-00001-of-00002.gguf'));
  await removeStaleLinkDirs(tmp);
  expect(fs.readdirSync(tmp).sort()).toEqual(names.slice(1).sort());
});

const linux = process.platform === 'linux' ? test : test.skip;
linux("a folder of links whose pid another process holds now (started at another time) is removed too; a live host's stays", async () => {
  const tmp = fs.mkdtempSync(path.join(dir, 'tmp-'));
  const other = spawn('sleep', ['30']);
  try {
    await new Promise((r) => other.once('spawn', r));
    const start = await processStart(other.pid!);
    expect(start).toMatch(/^\d+$/);
    const mine = await processStart('self');
    const names = [`hearth-split-${other.pid}-${start}-aaaaaa`, `hearth-split-${other.pid}-${BigInt(start!) + 1n}-bbbbbb`, `hearth-split-${other.pid}-cccccc`,
      `hearth-split-${process.pid}-${mine}-dddddd`, `hearth-split-${process.pid}-${BigInt(mine!) + 1n}-eeeeee`];
    for (const n of names) fs.mkdirSync(path.join(tmp, n));
    await removeStaleLinkDirs(tmp);
    // its own start: still its; another start: a dead host's whose pid was reused (this process's too); no
    // start (an earlier Hearth's): kept while the pid lives
    expect(fs.readdirSync(tmp).sort()).toEqual([names[0], names[2], names[3]].sort());
  } finally {
    other.kill();
  }
});

test("a process's start is read after the command's last parenthesis, whatever the command holds", async () => {
  const proc = fs.mkdtempSync(path.join(dir, 'proc-'));
  fs.mkdirSync(path.join(proc, '7'));
  const after = ['S', ...Array.from({ length: 18 }, (_, i) => String(i + 4)), '987654', '0', '0'].join(' ');
  fs.writeFileSync(path.join(proc, '7', 'stat'), `7 (a) b) (c 1 2 3) ${after}\n`);
  expect(await processStart(7, proc)).toBe('987654');
  fs.writeFileSync(path.join(proc, '7', 'stat'), '7 (cut) S 1');
  expect(await processStart(7, proc)).toBeNull();
  expect(await processStart(8, proc)).toBeNull();
});

descriptor("an estimate's activity, which the watchdog's verdict names, names the model as the user does, not the descriptor llama.cpp reads it by", async () => {
  const seen = await inAddon<string[]>(
    `const fd = require('fs').openSync(input.model, 'r');
     const names = new Set();
     const poll = setInterval(() => { for (const a of addon.activities()) if (a.kind === 'fit') names.add(a.model); }, 1);
     for (let i = 0; i < 20 && names.size === 0; i++) await addon.estimateMemory('/proc/self/fd/' + fd, { contextSize: 256, gpuLayers: 0, displayPath: input.model });
     clearInterval(poll);
     return [...names];`,
    { model: TINY_BPE },
  );
  expect(seen).toEqual([TINY_BPE]);
});

describe('the descriptor path and the messages that name it (pure functions)', () => {
  test('a descriptor on Linux only: macOS\'s /dev/fd/N shares the header read\'s file offset, so macOS and Windows open by name', () => {
    expect(descriptorPath(7, 'linux')).toBe('/proc/self/fd/7');
    expect(descriptorPath(7, 'darwin')).toBeNull();
    expect(descriptorPath(7, 'win32')).toBeNull();
  });

  test('the descriptor path is replaced exactly: /proc/self/fd/3 is not the start of /proc/self/fd/30', () => {
    const file = '/models/my model.gguf';
    expect(renameInMessage('failed to load /proc/self/fd/3: bad tensor', '/proc/self/fd/3', file)).toBe(`failed to load ${file}: bad tensor`);
    expect(renameInMessage('see /proc/self/fd/3 and /proc/self/fd/3', '/proc/self/fd/3', file)).toBe(`see ${file} and ${file}`);
    expect(renameInMessage('/proc/self/fd/30 failed; /proc/self/fd/3', '/proc/self/fd/3', file)).toBe(`/proc/self/fd/30 failed; ${file}`);
    expect(renameInMessage('/proc/self/fd/30 failed', '/proc/self/fd/3', file)).toBe('/proc/self/fd/30 failed');
    // a file name with $ patterns is put in literally
    expect(renameInMessage('at /proc/self/fd/4.', '/proc/self/fd/4', "/m/$&$1.gguf")).toBe('at /m/$&$1.gguf.');
  });
});

test("a model llama.cpp refuses is refused with llama.cpp's reason (here an architecture it does not know), in the load and the estimate", async () => {
  // tiny-spm with its general.architecture renamed in place (same length, so the file stays well formed)
  const bytes = fs.readFileSync(TINY_SPM);
  const key = bytes.indexOf('general.architecture');
  const at = bytes.indexOf('llama', key);
  expect(key > 0 && at > key).toBe(true);
  bytes.write('llamb', at);
  const file = path.join(dir, 'unknown-arch.gguf');
  fs.writeFileSync(file, bytes);
  const load = await errorOf(engine.load('unknown', file, SMALL));
  expect(load.code).toBe('load_failed');
  expect(load.message).toMatch(/could not load .*unknown-arch\.gguf: unknown model architecture: 'llamb' \(see the engine log\)$/);
  const est = await errorOf(engine.estimate(file, SMALL));
  expect(est.message).toMatch(/could not estimate memory for .*unknown-arch\.gguf: unknown model architecture: 'llamb' \(see the engine log\)$/);
});

test("llama.cpp's reason is shown as words only: a file's control characters escaped, a long name cut", async () => {
  // an architecture named with a terminal's erase-line and a carriage return, in place of "llama"
  const bytes = fs.readFileSync(TINY_SPM);
  bytes.write('\x1b[2K\r', bytes.indexOf('llama', bytes.indexOf('general.architecture')));
  const ctl = path.join(dir, 'control-arch.gguf');
  fs.writeFileSync(ctl, bytes);
  const a = await errorOf(engine.load('ctl', ctl, SMALL));
  expect(a.message).toContain("unknown model architecture: '\\x1b[2K\\x0d'");
  expect(a.message).not.toMatch(/[\x00-\x1f\x7f]/);
  // 100,000 characters of name, a line break and a right-to-left override early among them
  const long = path.join(dir, 'long-arch.gguf');
  await new GgufWriter().set('general.architecture', gguf.str('x'.repeat(100) + '\n\u202e' + 'y'.repeat(100_000))).write(long);
  const b = await errorOf(engine.load('long', long, SMALL));
  expect(b.code).toBe('load_failed');
  const reason = b.message.slice(b.message.indexOf(': ') + 2, b.message.lastIndexOf(' (see the engine log)'));
  expect(reason).toMatch(/^unknown model architecture: 'x{100}\\x0a\\u202ey+…$/);
  expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(300 + Buffer.byteLength('…'));
  expect(b.message).not.toMatch(/[\x00-\x1f\x7f\u202e]/);
});
