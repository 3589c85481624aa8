/**
 * A model loads with the vision projector its folder pairs with it (main/models/projector-pick.ts):
 * by file name, by header name, or as the folder's one model and one projector, and never with one
 * made for another width. Real files on disk (tiny generated models and projectors), and a real
 * load through ModelLibrary and the engine host: the loaded model reads images.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { ModelLibrary } from '../../main/models/library';
import { ProjectorPicker } from '../../main/models/projector-pick';
import { pairProjectors } from '../../main/models/projector';
import { writeTestProjector } from '../../scripts/make-test-projector';
import { makeEngine, tempDir } from '../helpers/engine';
import { testPng } from '../helpers/images';
import { TEST_MODEL_SEED, TINY_BPE, TINY_PROJECTOR, TINY_PROJECTOR_IMAGE_TOKENS, TINY_SPM } from '../helpers/models';

jest.setTimeout(120_000);

let root: string;
const sub = (name: string) => {
  const d = path.join(root, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
};

beforeAll(() => {
  root = tempDir('projector-pick');
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('pairing by width', () => {
  test('a projector made for another width never pairs, even by name; unknown widths do not stop a pair', () => {
    const pairs = pairProjectors(
      [
        { path: '/m/llava-7b-Q4_K_M.gguf', name: null, width: 4096 },
        { path: '/m/other-7b-Q4_K_M.gguf', name: null, width: 4096 },
        { path: '/n/small-Q8_0.gguf', name: null, width: 2048 },
      ],
      [
        { path: '/m/mmproj-llava-7b-f16.gguf', name: null, width: 4096 },
        { path: '/m/mmproj-other-7b-f16.gguf', name: null, width: 1024 },
        { path: '/n/mmproj-small-f16.gguf', name: null, width: null },
      ],
    );
    expect(Object.fromEntries(pairs)).toEqual({ '/m/llava-7b-Q4_K_M.gguf': '/m/mmproj-llava-7b-f16.gguf', '/n/small-Q8_0.gguf': '/n/mmproj-small-f16.gguf' });
  });

  test('by name, the same stem wins, else the longest one that starts the model\'s, in any folder order', () => {
    const models = [{ path: '/a/gemma-3-4b-it-qat-Q4_0.gguf', name: null, width: 64 }, { path: '/a/gemma-3-4b-it-Q8_0.gguf', name: null, width: 64 }];
    const general = { path: '/a/mmproj-gemma-3-4b-it.gguf', name: null, width: 64 };
    const qat = { path: '/a/mmproj-gemma-3-4b-it-qat.gguf', name: null, width: 64 };
    for (const projectors of [[general, qat], [qat, general]]) {
      const pairs = pairProjectors(models, projectors);
      expect(pairs.get('/a/gemma-3-4b-it-qat-Q4_0.gguf')).toBe(qat.path);
      expect(pairs.get('/a/gemma-3-4b-it-Q8_0.gguf')).toBe(general.path);
    }
  });

  test("a folder's one model and one projector pair when both headers give the same width", () => {
    expect(pairProjectors([{ path: '/a/model.gguf', name: 'A', width: 64 }], [{ path: '/a/vision.gguf', name: 'B', width: 64 }]).get('/a/model.gguf')).toBe('/a/vision.gguf');
    expect(pairProjectors([{ path: '/a/model.gguf', name: 'A', width: 64 }], [{ path: '/a/vision.gguf', name: 'B', width: 32 }]).size).toBe(0);
    expect(pairProjectors([{ path: '/a/model.gguf', name: 'A', width: 64 }], [{ path: '/a/vision.gguf', name: 'B', width: null }]).size).toBe(0);
    // two models in the folder: the projector's is no longer certain
    expect(
      pairProjectors([{ path: '/a/model.gguf', name: 'A', width: 64 }, { path: '/a/model2.gguf', name: 'C', width: 64 }], [{ path: '/a/vision.gguf', name: 'B', width: 64 }]).size,
    ).toBe(0);
  });
});

describe('ProjectorPicker (files on disk)', () => {
  test("reads the folder's headers: the matching width pairs, the wrong one does not, another folder's never", async () => {
    const picker = new ProjectorPicker();
    const alone = sub('alone');
    fs.copyFileSync(TINY_BPE, path.join(alone, 'tiny.gguf'));
    fs.copyFileSync(TINY_PROJECTOR, path.join(alone, 'encoder.gguf'));
    expect(await picker.projectorFor(path.join(alone, 'tiny.gguf'))).toBe(path.join(alone, 'encoder.gguf'));

    const wrong = sub('wrong');
    fs.copyFileSync(TINY_BPE, path.join(wrong, 'tiny-Q8_0.gguf'));
    await writeTestProjector({ out: path.join(wrong, 'mmproj-tiny-f16.gguf'), projectionDim: 32, seed: TEST_MODEL_SEED });
    expect(await picker.projectorFor(path.join(wrong, 'tiny-Q8_0.gguf'))).toBeNull();

    const named = sub('named');
    fs.copyFileSync(TINY_BPE, path.join(named, 'tiny-Q8_0.gguf'));
    fs.copyFileSync(TINY_SPM, path.join(named, 'other-Q8_0.gguf'));
    fs.copyFileSync(TINY_PROJECTOR, path.join(named, 'mmproj-tiny-f16.gguf'));
    expect(await picker.projectorFor(path.join(named, 'tiny-Q8_0.gguf'))).toBe(path.join(named, 'mmproj-tiny-f16.gguf'));
    // the other model of the folder has no projector of its name
    expect(await picker.projectorFor(path.join(named, 'other-Q8_0.gguf'))).toBeNull();
    expect(await picker.projectorFor(path.join(root, 'nowhere', 'x.gguf'))).toBeNull();
  });
});

describe('ModelLibrary loads the paired projector', () => {
  let engine: EngineClient;
  afterAll(async () => {
    await engine?.close();
  });

  test('the loaded model has its projector and reads an image; settings may choose another', async () => {
    const dir = sub('library');
    const model = path.join(dir, 'tiny-Q8_0.gguf');
    fs.copyFileSync(TINY_BPE, model);
    fs.copyFileSync(TINY_PROJECTOR, path.join(dir, 'mmproj-tiny-f16.gguf'));
    engine = makeEngine();
    let settings: Record<string, unknown> = { contextSize: 512, threads: 1 };
    const lib = new ModelLibrary({
      engine,
      modelsDir: dir,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      loadSettings: () => settings,
      guardrail: () => ({ mode: 'off', marginMiB: 0 }),
      onState: () => undefined,
    });
    try {
      // the settings as the load and the estimate (models.estimate) take them: the folder's projector
      // is in them, so the estimate counts its memory
      const params = await lib.withProjector(model, settings);
      expect(params.mmproj).toBe(path.join(dir, 'mmproj-tiny-f16.gguf'));
      expect((await engine.estimate(model, params)).host.projector).toBeGreaterThan(0);
      expect((await lib.withProjector(model, { ...settings, mmproj: TINY_PROJECTOR })).mmproj).toBe(TINY_PROJECTOR);
      const state = await lib.load(model);
      expect(state.loaded?.projector).toBe(path.join(dir, 'mmproj-tiny-f16.gguf'));
      const text = await engine.chat('chat', { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 1 });
      const image = await engine.chat('chat', { messages: [{ role: 'user', content: [{ type: 'image', data: testPng().toString('base64') }, { type: 'text', text: 'Hi' }] }], maxTokens: 1 });
      expect(image.timings.promptTokens).toBe(text.timings.promptTokens + TINY_PROJECTOR_IMAGE_TOKENS);
      // a projector chosen in the settings wins over the folder's
      const chosen = path.join(sub('chosen'), 'p.gguf');
      fs.copyFileSync(TINY_PROJECTOR, chosen);
      settings = { ...settings, mmproj: chosen };
      expect((await lib.load(model)).loaded?.projector).toBe(chosen);
    } finally {
      lib.close();
    }
  });
});
