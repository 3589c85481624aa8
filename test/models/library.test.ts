/**
 * ModelLibrary's model switches through the real engine host and generated models: a reply waits
 * for the switches asked for before it (and the load they lead to), not for every switch asked
 * for while it waits; picking the loaded model again while another loads is a switch back to it.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { ModelLibrary } from '../../main/models/library';
import { makeEngine, tempDir } from '../helpers/engine';
import { TINY_BPE, TINY_SPM } from '../helpers/models';

let dir: string;
let engine: EngineClient;
let lib: ModelLibrary;
let spm: string;
let bpe: string;
/** the flood's models: other names of one file, each a model of its own that is never the loaded one */
const FLOOD = 12;
let flood: string[];

beforeAll(async () => {
  dir = tempDir();
  spm = path.join(dir, 'tiny-spm.gguf');
  bpe = path.join(dir, 'tiny-bpe.gguf');
  fs.copyFileSync(TINY_SPM, spm);
  fs.copyFileSync(TINY_BPE, bpe);
  flood = Array.from({ length: FLOOD }, (_, i) => {
    const f = path.join(dir, `flood-${i}.gguf`);
    fs.linkSync(spm, f);
    return f;
  });
  engine = makeEngine();
  lib = new ModelLibrary({
    engine,
    modelsDir: dir,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    loadSettings: () => ({ contextSize: 512, threads: 1 }),
    guardrail: () => ({ mode: 'off', marginMiB: 0 }),
    onState: () => undefined,
  });
});

afterAll(async () => {
  lib.close();
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a flood of model switches does not hold back a reply that waits for the switch asked for before it', async () => {
  await lib.load(spm);
  let prev = lib.load(bpe);
  let asked = 0;
  let answeredAt: number | undefined;
  const ready = lib.ready().then((p) => {
    answeredAt = asked;
    return p;
  });
  // each new switch is asked for before the one before it settled, so some switch is always pending
  while (asked < FLOOD && answeredAt === undefined) {
    const next = lib.load(flood[asked]);
    asked++;
    await prev; // a switch replaced by a later one resolves: any error fails the test
    prev = next;
  }
  await prev;
  expect([spm, bpe, ...flood]).toContain(await ready);
  // the wait covered the switch asked for before it and the load that one led to, not the flood
  expect(answeredAt).toBeLessThan(FLOOD);
});

test('picking the loaded model again while another model loads switches back to it', async () => {
  await lib.load(spm);
  const toBpe = lib.load(bpe);
  const back = lib.load(spm); // the user changed their mind at once
  const [first, second] = await Promise.allSettled([toBpe, back]);
  expect(second).toMatchObject({ status: 'fulfilled', value: { loaded: { path: spm } } });
  expect(first.status).toBe('fulfilled'); // replaced by the later pick: not an error
  expect(await lib.ready()).toBe(spm);
  expect((await lib.current()).loaded?.path).toBe(spm);
  expect(lib.loadedPath).toBe(spm);
});
