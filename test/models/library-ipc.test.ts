/**
 * The Library page's channels through the IPC entry point (Services.handle), as composeApp builds the
 * app: the real store, the real engine host, tiny generated models on a real disk. library.delete
 * (every part of a split model, a loaded model unloaded first, references and paths outside the models
 * folder refused), library.import (a file checked first, then copied, moved or referenced) and
 * library.facts. No doubles.
 */
import fs from 'fs';
import path from 'path';
import type { EventName, EventOf } from '../../main/ipc/contract';
import { useChatApps, type ChatApp } from '../helpers/chat';
import { errorOf } from '../helpers/engine';
import { pairProjectors, modelStem } from '../../main/models/projector';
import { gguf } from '../../main/gguf/types';
import { GgufWriter } from '../../main/gguf/write';
import { docModelMismatch, poolingOf } from '../../main/params';
import { DocModels } from '../../main/docs/models';
import { silentLogger } from '../../main/logging';
import { ApiModels } from '../../main/server/models';
import { ApiServerSettings } from '../../main/ipc/api';
import { POOLING_READS } from '../../main/models/poolings';
import { importModel } from '../../main/models/import';
import { MAX_SPLIT_PARTS } from '../../main/gguf/split-name';
import { copyModel, TINY_BERT, TINY_BPE, TINY_EMBED, TINY_PROJECTOR, TINY_RERANK, TINY_SPM, writeHalfModel, writeSplitModel } from '../helpers/models';
import { writeTestProjector } from '../../scripts/make-test-projector';
import { writeTestControlVector, writeTestLora } from '../../scripts/make-test-adapter';
import { TEST_MODEL_HPARAMS } from '../../scripts/make-test-model';

jest.setTimeout(120_000);

const { open, folder } = useChatApps();
const outside = () => folder('hearth-lib-outside-');

function record(a: ChatApp): { name: EventName; payload: unknown }[] {
  const seen: { name: EventName; payload: unknown }[] = [];
  a.app.services.subscribe((name, payload) => seen.push({ name, payload }));
  return seen;
}


const lastChanged = (events: { name: EventName; payload: unknown }[]) =>
  (events.filter((e) => e.name === 'models.changed').pop()?.payload as EventOf<'models.changed'> | undefined)?.models.map((m) => m.path);

/** A small vision projector (general.architecture clip), named `name` in its header. */
async function writeProjector(file: string, name: string): Promise<void> {
  const w = new GgufWriter();
  w.set('general.architecture', gguf.str('clip'));
  w.set('general.name', gguf.str(name));
  w.addTensor({ name: 'v.patch_embd.weight', shape: [4, 4], type: 'F32', data: new Float32Array(16) });
  await w.write(file);
  const old = new Date(Date.now() - 3600_000);
  fs.utimesSync(file, old, old);
}

describe('vision projectors', () => {
  test('pairing by file name, then by the headers\' general.name, within a folder only (posix and win32 paths)', () => {
    expect(modelStem('/m/mmproj-Qwen2.5-VL-7B-Instruct-f16.gguf')).toBe('qwen2-5-vl-7b-instruct');
    expect(modelStem('/m/Qwen2.5-VL-7B-Instruct-Q4_K_M-00001-of-00002.gguf')).toBe('qwen2-5-vl-7b-instruct');
    expect(modelStem('/m/gemma-3-4b-it-mmproj.gguf')).toBe('gemma-3-4b-it');
    for (const p of [path.posix, path.win32]) {
      const at = (...s: string[]) => p.join(p === path.win32 ? 'C:\\models' : '/models', ...s);
      const pairs = pairProjectors(
        [
          { path: at('Qwen2.5-VL-7B-Instruct-Q4_K_M.gguf'), name: 'Qwen2.5 VL' },
          { path: at('gemma-3-4b-it-Q8_0.gguf'), name: 'Gemma 3' },
          { path: at('llava', 'model-q4.gguf'), name: 'LLaVA 1.6' },
          { path: at('plain-Q4_0.gguf'), name: 'Plain' },
        ],
        [
          { path: at('mmproj-Qwen2.5-VL-7B-Instruct-f16.gguf'), name: null },
          { path: at('gemma-3-4b-it-mmproj-bf16.gguf'), name: null },
          { path: at('llava', 'vision.gguf'), name: 'llava 1.6' },
          // another folder's projector with a matching name pairs with nothing here
          { path: at('elsewhere', 'mmproj-plain-f16.gguf'), name: 'Plain' },
        ],
        p,
      );
      expect(Object.fromEntries(pairs)).toEqual({
        [at('Qwen2.5-VL-7B-Instruct-Q4_K_M.gguf')]: at('mmproj-Qwen2.5-VL-7B-Instruct-f16.gguf'),
        [at('gemma-3-4b-it-Q8_0.gguf')]: at('gemma-3-4b-it-mmproj-bf16.gguf'),
        [at('llava', 'model-q4.gguf')]: at('llava', 'vision.gguf'),
      });
    }
  });

  test('library.facts names each model\'s projector from its folder (by file name, by header name); a model without one has none', async () => {
    const a = open();
    const models = a.paths.models;
    fs.mkdirSync(path.join(models, 'llava'), { recursive: true });
    copyModel(TINY_SPM, path.join(models, 'vision-Q8_0.gguf'));
    await writeProjector(path.join(models, 'mmproj-vision-f16.gguf'), 'some projector');
    copyModel(TINY_BPE, path.join(models, 'plain-Q4_0.gguf'));
    // paired by the headers' general.name (TINY_SPM's is hearth-test-tiny-llama-spm)
    copyModel(TINY_SPM, path.join(models, 'llava', 'model.gguf'));
    await writeProjector(path.join(models, 'llava', 'vision-encoder.gguf'), 'hearth-test-tiny-llama-spm');
    await a.app.library.folder.listing();
    const facts = await a.call('library.facts');
    const of = (p: string) => facts.find((f: { path: string }) => f.path === path.join(models, p));
    expect(of('vision-Q8_0.gguf').projector).toBe(path.join(models, 'mmproj-vision-f16.gguf'));
    expect(of('llava/model.gguf').projector).toBe(path.join(models, 'llava', 'vision-encoder.gguf'));
    expect(of('plain-Q4_0.gguf').projector).toBeNull();
    expect(of('mmproj-vision-f16.gguf')).toMatchObject({ projector: null, facts: { projector: true, architecture: 'clip' } });
  });
});

describe('each model\'s pooling', () => {
  test('models.list says from each header how llama.cpp pools the model: embedding models, a reranker, chat models; the engine reads the same', async () => {
    const a = open();
    const models = a.paths.models;
    copyModel(TINY_EMBED, path.join(models, 'embed.gguf'));
    copyModel(TINY_BERT, path.join(models, 'bert.gguf'));
    copyModel(TINY_RERANK, path.join(models, 'rerank.gguf'));
    copyModel(TINY_BPE, path.join(models, 'chat-bpe.gguf'));
    // another architecture's key (<arch>.pooling_type), and an explicit -1 (llama.cpp: unspecified, so none)
    for (const [name, arch, key] of [['cls.gguf', 'bert', gguf.u32(2)], ['unspecified.gguf', 'llama', gguf.i32(-1)]] as const) {
      const w = new GgufWriter();
      w.set('general.architecture', gguf.str(arch));
      w.set(`${arch}.pooling_type`, key);
      w.set('tokenizer.ggml.tokens', gguf.arr('string', ['a', 'b', 'c']));
      w.addTensor({ name: 'token_embd.weight', shape: [4, 3], type: 'F32', data: new Float32Array(12) });
      await w.write(path.join(models, name));
      const old = new Date(Date.now() - 3600_000);
      fs.utimesSync(path.join(models, name), old, old);
    }
    // a download cut short: its header cannot be read
    writeHalfModel(path.join(models, 'half.gguf'));
    // a reference outside the models folder reads the same way
    const elsewhere = path.join(outside(), 'ref-rerank.gguf');
    copyModel(TINY_RERANK, elsewhere);
    const added = await a.app.library.addReference(elsewhere, { source: 'file' });
    expect(added.pooling).toBe('rank');
    await a.app.library.folder.listing();

    const list: { path: string; pooling: string | null }[] = await a.call('models.list');
    const pooling = Object.fromEntries(list.map((m) => [path.basename(m.path), m.pooling]));
    expect(pooling).toEqual({
      'tiny.gguf': 'none', 'chat-bpe.gguf': 'none', 'embed.gguf': 'mean', 'bert.gguf': 'mean', 'rerank.gguf': 'rank',
      'cls.gguf': 'cls', 'unspecified.gguf': 'none', 'half.gguf': null, 'ref-rerank.gguf': 'rank',
    });
    // the engine's reading of the real models (after llama.cpp loads their metadata) agrees, and so does the rule on it
    for (const name of ['tiny.gguf', 'chat-bpe.gguf', 'embed.gguf', 'bert.gguf', 'rerank.gguf']) {
      const info = await a.engine.info(path.join(models, name));
      expect([name, poolingOf(info.pooling)]).toEqual([name, pooling[name]]);
    }
    const fits = (role: 'embed' | 'rerank') => list.filter((m) => m.pooling !== null && docModelMismatch(role, m.pooling as never) === null).map((m) => path.basename(m.path)).sort();
    expect(fits('embed')).toEqual(['bert.gguf', 'cls.gguf', 'embed.gguf']);
    expect(fits('rerank')).toEqual(['ref-rerank.gguf', 'rerank.gguf']);

    // main/docs/models.ts applies the same rule to what the engine reads: what Settings → Documents would not offer is refused
    const docModels = new DocModels({ engine: a.engine, loadSettings: () => ({}), guardrail: () => ({ mode: 'off', marginMiB: 0 }), logger: silentLogger });
    await expect(docModels.check('embed', path.join(models, 'tiny.gguf'))).rejects.toThrow(/is not an embedding model: its GGUF has no pooling/);
    await expect(docModels.check('embed', path.join(models, 'rerank.gguf'))).rejects.toThrow(/is not an embedding model: it is a reranker/);
    await expect(docModels.check('rerank', path.join(models, 'embed.gguf'))).rejects.toThrow(/is not a reranker: its GGUF has mean pooling/);
    await expect(docModels.check('embed', path.join(models, 'embed.gguf'))).resolves.toMatchObject({ dims: expect.any(Number) });
    await expect(docModels.check('rerank', path.join(models, 'rerank.gguf'))).resolves.toBeDefined();
  });
});

describe('projectors and adapters in the models folder', () => {
  test('models.list says what each file is; the API server lists only the models; loading a projector or an adapter is refused saying what it is', async () => {
    const a = open();
    const models = a.paths.models;
    const adapters = path.join(models, 'adapters');
    fs.mkdirSync(adapters);
    copyModel(TINY_PROJECTOR, path.join(models, 'mmproj-tiny.gguf'));
    await writeTestLora({ out: path.join(adapters, 'tiny-lora.gguf') });
    await writeTestControlVector({ out: path.join(adapters, 'tiny-cvec.gguf') });
    for (const f of ['tiny-lora.gguf', 'tiny-cvec.gguf']) {
      const old = new Date(Date.now() - 3600_000);
      fs.utimesSync(path.join(adapters, f), old, old);
    }
    writeHalfModel(path.join(models, 'half.gguf'));
    await a.app.library.folder.listing();
    const list: { path: string; role: string | null }[] = await a.call('models.list');
    expect(Object.fromEntries(list.map((m) => [path.basename(m.path), m.role]))).toEqual({
      'tiny.gguf': 'model', 'mmproj-tiny.gguf': 'projector', 'tiny-lora.gguf': 'lora', 'tiny-cvec.gguf': 'controlVector', 'half.gguf': null,
    });
    // the API server serves models only (a file whose header cannot be read is tried: the engine says why)
    const api = new ApiModels({
      engine: a.engine, entries: () => a.app.library.entries(), chatModel: () => null, loadSettings: () => ({}), guardrail: () => ({ mode: 'off', marginMiB: 0 }),
      settings: () => ApiServerSettings.parse({}), logger: silentLogger,
    });
    expect((await api.list()).map((m) => m.name).sort()).toEqual(['half', 'tiny']);
    await api.close();
    for (const [file, what] of [
      [path.join(adapters, 'tiny-lora.gguf'), 'is a LoRA adapter, not a model: add it to a model\'s load settings (Adapters)'],
      [path.join(adapters, 'tiny-cvec.gguf'), 'is a control vector, not a model: add it to a model\'s load settings (Adapters)'],
      [path.join(models, 'mmproj-tiny.gguf'), 'is a vision projector, not a model'],
    ]) {
      const e = await errorOf(a.call('models.load', { path: file }));
      expect(e.code).toBe('invalid_model');
      expect(e.message).toContain(`${file} ${what}`);
      // nor added by reference from elsewhere
      const copy = path.join(outside(), path.basename(file));
      fs.copyFileSync(file, copy);
      expect((await errorOf(a.app.library.addReference(copy, { source: 'file' }))).message).toContain(`${copy} ${what}`);
    }
    expect((await a.call('models.state')).loaded).toBeNull();
  });
});

describe('each model\'s pooling, read again after a passing failure', () => {
  test('a header read that fails for a passing reason (EBUSY) is read again by the next models.list; one that is not a GGUF is kept; at most POOLING_READS headers are read at once', async () => {
    const a = open();
    const models = a.paths.models;
    // the test runs as root (chmod 000 would not stop it): the failure comes from the file system's boundary,
    // where a busy file, a network drive timing out or too many open files would show
    const busy = path.join(models, 'embed-0.gguf');
    const realOpen = fs.promises.open;
    let failed = false;
    const opened: string[] = [];
    let reading = 0;
    let most = 0;
    /** whether a frame of `name` (a source file) is on the stack (past jest's own frames) */
    const callerIs = (name: string) => {
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 50;
      const stack = new Error().stack ?? '';
      Error.stackTraceLimit = limit;
      return stack.includes(name);
    };
    const spy = jest.spyOn(fs.promises, 'open').mockImplementation((async (file: fs.PathLike, ...rest: unknown[]) => {
      // the header reads (main/gguf/read.ts's opens, told by the stack: the listing's magic check, through
      // openModelFile, opens with the same flags)
      if (!String(file).startsWith(models + path.sep) || !callerIs(path.join('gguf', 'read.ts'))) return realOpen(file, ...(rest as []));
      opened.push(path.basename(String(file)));
      if (String(file) === busy && !failed) {
        failed = true;
        throw Object.assign(new Error(`EBUSY: resource busy or locked, open '${busy}'`), { code: 'EBUSY', errno: -16, syscall: 'open', path: busy });
      }
      const fh = await realOpen(file, ...(rest as []));
      most = Math.max(most, ++reading);
      const close = fh.close.bind(fh);
      fh.close = async () => { reading--; return close(); };
      return fh;
    }) as typeof realOpen);
    try {
      for (let i = 0; i < 8; i++) copyModel(TINY_EMBED, path.join(models, `embed-${i}.gguf`));
      writeHalfModel(path.join(models, 'half.gguf'));
      await a.app.library.folder.listing();
      const poolings = async () => Object.fromEntries(((await a.call('models.list')) as { path: string; pooling: string | null }[]).map((m) => [path.basename(m.path), m.pooling]));
      // the first read of embed-0.gguf failed (this listing's, or one models.changed's push made first)
      expect(await poolings()).toMatchObject({ 'embed-1.gguf': 'mean', 'embed-7.gguf': 'mean', 'half.gguf': null, 'tiny.gguf': 'none' });
      expect(failed).toBe(true);
      expect(await poolings()).toMatchObject({ 'embed-0.gguf': 'mean', 'embed-1.gguf': 'mean', 'half.gguf': null });
      // read once more after its failure; the cut file (a GgufError: not a readable GGUF) and the others once, kept while unchanged
      const times = (name: string) => opened.filter((n) => n === name).length;
      expect([times('embed-0.gguf'), times('embed-1.gguf'), times('half.gguf')]).toEqual([2, 1, 1]);
      expect(most).toBeGreaterThan(0);
      expect(most).toBeLessThanOrEqual(POOLING_READS);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('library.delete', () => {
  test('deletes every part of a split model (listed as one model); models.list and models.changed no longer have it', async () => {
    const a = open();
    const parts = await writeSplitModel(TINY_SPM, a.paths.models, 'big', 3);
    const list = await a.call('models.list');
    // the split model is one model: its first part, named without the suffix, its parts' sizes summed
    const size = parts.reduce((n, p) => n + fs.statSync(p).size, 0);
    expect(list).toEqual(expect.arrayContaining([expect.objectContaining({ path: parts[0], name: 'big', fileSize: size, origin: 'folder' })]));
    expect(list.map((m: { path: string }) => m.path)).not.toContain(parts[1]);
    const facts = (await a.call('library.facts')).find((f: { path: string }) => f.path === parts[0]);
    expect(facts.files).toEqual(parts);
    const whole = (await a.call('library.facts')).find((f: { path: string }) => f.path === a.modelPath);
    expect(facts.facts.parameters).toBe(whole.facts.parameters);
    expect(facts.facts).toMatchObject({ architecture: 'llama', projector: false });

    const events = record(a);
    const r = await a.call('library.delete', { path: parts[0] });
    expect(r).toEqual({ files: parts, bytes: size, unloaded: false });
    for (const p of parts) expect(fs.existsSync(p)).toBe(false);
    expect(fs.existsSync(a.modelPath)).toBe(true);
    expect((await a.call('models.list')).map((m: { path: string }) => m.path)).toEqual([a.modelPath]);
    expect(lastChanged(events)).toEqual([a.modelPath]);
  });

  test('the loaded model is unloaded first, then deleted; its load settings are kept', async () => {
    const a = open();
    await a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 1024 } });
    await a.call('models.load', { path: a.modelPath, force: true });
    expect((await a.call('models.state')).loaded.path).toBe(a.modelPath);
    const r = await a.call('library.delete', { path: a.modelPath });
    expect(r).toMatchObject({ files: [a.modelPath], unloaded: true });
    expect((await a.call('models.state')).loaded).toBeNull();
    expect(fs.existsSync(a.modelPath)).toBe(false);
    expect(await a.call('models.list')).toEqual([]);
    expect(a.app.store.modelSettings.get(a.modelPath)).toMatchObject({ contextSize: 1024 });
  });

  test('the projector setting: a path is saved with the others, a blank one unsets it (the folder pairs again)', async () => {
    const a = open();
    await a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 1024, mmproj: TINY_PROJECTOR } });
    expect((await a.call('models.settings.get', { path: a.modelPath })).settings).toEqual({ contextSize: 1024, mmproj: TINY_PROJECTOR });
    const view = await a.call('models.settings.update', { path: a.modelPath, settings: { mmproj: '' } });
    expect(view.settings).toEqual({ contextSize: 1024 });
    expect(a.app.store.modelSettings.get(a.modelPath)).toEqual({ contextSize: 1024 });
  });

  test('a projector path is checked when saved: a missing file, a folder, a file that is no GGUF and a model are refused naming the file and why; nothing is saved', async () => {
    const a = open();
    const dir = outside();
    const chosen = path.join(dir, 'mmproj-tiny-f16.gguf');
    fs.copyFileSync(TINY_PROJECTOR, chosen);
    await a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 1024, mmproj: chosen } });
    const saved = { contextSize: 1024, mmproj: chosen };
    expect(a.app.store.modelSettings.get(a.modelPath)).toEqual(saved);

    const notes = path.join(dir, 'notes.gguf');
    fs.writeFileSync(notes, 'not a model, not a projector');
    const refused = async (mmproj: string) => {
      const e = await errorOf(a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 2048, mmproj } }));
      expect(e).toEqual({ code: 'invalid_input', message: e.message });
      // nothing of the update is saved, the other settings neither
      expect(a.app.store.modelSettings.get(a.modelPath)).toEqual(saved);
      return e.message;
    };
    expect(await refused(path.join(dir, 'gone.gguf'))).toBe(`${path.join(dir, 'gone.gguf')} does not exist`);
    expect(await refused(path.join(notes, 'below.gguf'))).toBe(`${path.join(notes, 'below.gguf')} does not exist`);
    expect(await refused(dir)).toBe(`${dir} is not a file (it is a folder): choose the model's mmproj file`);
    expect(await refused(notes)).toBe(`${notes} cannot be read as a GGUF file (expected magic "GGUF", found 0x6e6f7420)`);
    expect(await refused(TINY_BPE)).toBe(`${TINY_BPE} is not a vision projector (its architecture is llama): choose the model's mmproj file`);
    expect(await refused(a.modelPath)).toMatch(/tiny\.gguf is not a vision projector \(its architecture is llama\)/);
    // a projector made for a text model of another width (the rule the folder's pairing uses)
    const wide = path.join(dir, 'mmproj-wide.gguf');
    await writeTestProjector({ out: wide, projectionDim: TEST_MODEL_HPARAMS.tiny.embeddingLength * 2, imageSize: 32, patchSize: 8, seed: 1 });
    expect(await refused(wide)).toBe(`${wide} is a projector for a model ${TEST_MODEL_HPARAMS.tiny.embeddingLength * 2} wide, and ${path.basename(a.modelPath)} is ${TEST_MODEL_HPARAMS.tiny.embeddingLength} wide: choose the mmproj file made for this model`);
    // an older converter's projector (no general.type: its projection_dim is the CLIP's own, not the model's) is not judged by it
    const legacy = path.join(dir, 'mmproj-legacy.gguf');
    await writeTestProjector({ out: legacy, projectionDim: 768, imageSize: 32, patchSize: 8, seed: 1, legacy: true });
    expect((await a.call('models.settings.update', { path: a.modelPath, settings: { mmproj: legacy } })).settings).toEqual({ contextSize: 1024, mmproj: legacy });
    await a.call('models.settings.update', { path: a.modelPath, settings: { mmproj: chosen } });

    // checked when a path is saved, not when other settings are: a chosen file since removed does not block them (the load says it)
    fs.rmSync(chosen);
    expect((await a.call('models.settings.update', { path: a.modelPath, settings: { contextSize: 2048 } })).settings).toEqual({ contextSize: 2048, mmproj: chosen });
    // and blank unsets it
    expect((await a.call('models.settings.update', { path: a.modelPath, settings: { mmproj: '' } })).settings).toEqual({ contextSize: 2048 });
  });

  test('refuses a reference (the file stays), a path outside the models folder, and a path not in the library', async () => {
    const a = open();
    const away = path.join(outside(), 'elsewhere.gguf');
    copyModel(TINY_BPE, away);
    await a.call('library.import', { path: away, mode: 'link' });
    const ref = await errorOf(a.call('library.delete', { path: away }));
    expect(ref.code).toBe('invalid_input');
    expect(ref.message).toMatch(/by reference/);
    expect(fs.existsSync(away)).toBe(true);

    const stray = path.join(outside(), 'stray.gguf');
    copyModel(TINY_SPM, stray);
    expect((await errorOf(a.call('library.delete', { path: stray }))).code).toBe('model_unknown');
    expect((await errorOf(a.call('library.delete', { path: path.join(a.paths.models, '..', 'hearth.db') }))).code).toBe('model_unknown');
    expect((await errorOf(a.call('library.delete', { path: a.paths.models }))).code).toBe('model_unknown');
    expect(fs.existsSync(stray)).toBe(true);
    expect(fs.existsSync(a.modelPath)).toBe(true);
  });
});

describe('library.import', () => {
  test('a file that is not a GGUF is refused with the reason and nothing is copied', async () => {
    const a = open({ model: null });
    const bad = path.join(outside(), 'notes.gguf');
    fs.writeFileSync(bad, 'these are notes, not a model\n');
    const e = await errorOf(a.call('library.import', { path: bad, mode: 'copy' }));
    expect(e.code).toBe('invalid_model');
    expect(e.message.length).toBeGreaterThan(0);
    expect(fs.readdirSync(a.paths.models)).toEqual([]);
    expect(fs.existsSync(bad)).toBe(true);
    // a relative path never reaches main's handler
    expect((await errorOf(a.call('library.import', { path: 'notes.gguf', mode: 'copy' }))).code).toBe('invalid_input');
  });

  test('a good file is copied into the models folder and listed at once; move takes the original away', async () => {
    const a = open({ model: null });
    const events = record(a);
    const src = path.join(outside(), 'imported.gguf');
    copyModel(TINY_SPM, src);
    const r = await a.call('library.import', { path: src, mode: 'copy' });
    const target = path.join(a.paths.models, 'imported.gguf');
    expect(r).toEqual({ mode: 'copy', path: target, files: [target], size: fs.statSync(src).size });
    expect(fs.existsSync(src)).toBe(true);
    expect((await a.call('models.list')).map((m: { path: string }) => m.path)).toEqual([target]);
    expect(lastChanged(events)).toEqual([target]);
    // its progress went to the page, ending at the whole file
    const progress = events.filter((e) => e.name === 'library.importProgress').map((e) => e.payload as EventOf<'library.importProgress'>);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual({ path: src, bytes: r.size, total: r.size });

    const dir = outside();
    const parts = await writeSplitModel(TINY_BPE, dir, 'moved', 2);
    const m = await a.call('library.import', { path: parts[0], mode: 'move' });
    expect(m.files).toEqual(parts.map((p) => path.join(a.paths.models, path.basename(p))));
    for (const p of parts) expect(fs.existsSync(p)).toBe(false);
    expect((await a.call('models.list')).map((x: { name: string }) => x.name).sort()).toEqual(['imported', 'moved']);
  });

  test('a name counting more parts than the engine loads (MAX_SPLIT_PARTS) is no split part: an unsplit model so named is imported and listed as itself', async () => {
    const a = open({ model: null });
    const src = path.join(outside(), `odd-00001-of-${String(MAX_SPLIT_PARTS + 1).padStart(5, '0')}.gguf`);
    copyModel(TINY_SPM, src);
    const r = await a.call('library.import', { path: src, mode: 'copy' });
    const target = path.join(a.paths.models, path.basename(src));
    expect(r.files).toEqual([target]);
    expect(await a.call('models.list')).toEqual([expect.objectContaining({ path: target, name: path.basename(src, '.gguf'), fileSize: fs.statSync(src).size })]);
    // at the cap it is one: a part's missing others are counted, the first few named
    const capped = path.join(outside(), `big-00001-of-${String(MAX_SPLIT_PARTS).padStart(5, '0')}.gguf`);
    copyModel(TINY_SPM, capped);
    const e = await errorOf(importModel(capped, 'copy', { library: a.app.library, modelsDir: a.paths.models }));
    const missing = [2, 3, 4, 5, 6].map((i) => `big-${String(i).padStart(5, '0')}-of-01024.gguf`).join(', ');
    expect(e.message).toBe(`${path.basename(capped)} is split in ${MAX_SPLIT_PARTS} parts; missing from ${path.dirname(capped)}: ${missing} and ${MAX_SPLIT_PARTS - 6} more. Put every part beside it and import again`);
  });
});
