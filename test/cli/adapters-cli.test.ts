/**
 * `hearth run --lora FILE[:SCALE]` and `--control-vector FILE[:STRENGTH]`: the load settings of
 * main/params/adapters.ts from the command line (each file once: a repeat is a usage error). A real process, the real engine host, the tiny test
 * model with a generated LoRA and control vector (scripts/make-test-adapter.ts).
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { writeTestControlVector, writeTestLora } from '../../scripts/make-test-adapter';
import { tempDir } from '../helpers/engine';
import { copyModel, REPO_ROOT, TINY_PROJECTOR, TINY_SPM } from '../helpers/models';

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');
const hearth = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120000 });
const greedy = (...extra: string[]) => hearth(['run', TINY_SPM, '-p', 'Once upon a time', '-n', '12', '--temp', '0', ...extra]);

let lora: string;
let wide: string;
let cvec: string;

beforeAll(async () => {
  const dir = tempDir('hearth-cli-adapters-');
  lora = await writeTestLora({ out: path.join(dir, 'tiny-lora.gguf') });
  wide = await writeTestLora({ out: path.join(dir, 'wide-lora.gguf'), embeddingLength: 32 });
  cvec = await writeTestControlVector({ out: path.join(dir, 'tiny-cvec.gguf') });
});

test('--lora and --control-vector change a greedy completion; scale 0 is the model alone', () => {
  const alone = greedy();
  expect(alone.status).toBe(0);
  const zero = greedy('--lora', `${lora}:0`);
  expect(zero.status).toBe(0);
  expect(zero.stdout).toBe(alone.stdout);
  const one = greedy('--lora', lora); // scale 1 when none is given
  expect(one.status).toBe(0);
  expect(one.stdout).not.toBe(alone.stdout);
  expect(greedy('--lora', `${lora}:1`).stdout).toBe(one.stdout);
  const steered = greedy('--control-vector', `${cvec}:1`);
  expect(steered.status).toBe(0);
  expect(steered.stdout).not.toBe(alone.stdout);
});

test('an adapter for another model, or a scale out of bounds, is one line on stderr', () => {
  const r = greedy('--lora', wide);
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^hearth: .*wide-lora\.gguf is for a model 32 wide; this model is 64 wide/);
  const big = greedy('--lora', `${lora}:11`);
  expect(big.status).toBe(1);
  expect(big.stderr).toMatch(/^hearth: --lora .*at most 10/);
});

test('a file given twice is a usage error naming --lora, after the paths are resolved; nothing loads', () => {
  const twice = greedy('--lora', `${lora}:0.5,${lora}:1`);
  expect(twice.status).toBe(1);
  expect(twice.stdout).toBe('');
  expect(twice.stderr.trim().split('\n')).toHaveLength(1);
  expect(twice.stderr).toContain(`hearth: --lora: ${lora} is already listed at 0: give one scale per adapter`);
  // the same file by another spelling (relative to the working folder) is the same file
  const relative = spawnSync(process.execPath, [BIN, 'run', TINY_SPM, '-p', 'x', '-n', '1', '--lora', `${lora},./${path.basename(lora)}:0`], { encoding: 'utf8', timeout: 120000, cwd: path.dirname(lora) });
  expect(relative.status).toBe(1);
  expect(relative.stderr).toContain(`hearth: --lora: ${lora} is already listed at 0`);
  const vectors = greedy('--control-vector', `${cvec},${cvec}:2`);
  expect(vectors.status).toBe(1);
  expect(vectors.stderr).toContain(`hearth: --control-vector: ${cvec} is already listed at 0`);
});

test('an adapter or a projector given as the model, or a --mmproj or --draft that is not one, is refused saying what it is; `hearth models` lists them apart from the models', async () => {
  for (const [file, what] of [
    [lora, 'is a LoRA adapter, not a model'],
    [cvec, 'is a control vector, not a model'],
    [TINY_PROJECTOR, 'is a vision projector, not a model'],
  ]) {
    for (const command of ['run', 'info', 'fit']) {
      const r = hearth(command === 'run' ? ['run', file, '-p', 'x', '-n', '1'] : [command, file]);
      expect([command, r.status]).toEqual([command, 1]);
      expect(r.stderr).toContain(`${file} ${what}`);
    }
  }
  // a file --mmproj or --draft names must be there and be what the flag takes (an estimate left a projector it could not read out, without a word)
  const missing = path.join(tempDir('hearth-cli-nothing-'), 'nope.gguf');
  for (const [flags, message] of [
    [['--mmproj', missing], `--mmproj: ${missing} does not exist`],
    [['--mmproj', TINY_SPM], `--mmproj: ${TINY_SPM} is a model, not a vision projector`],
    [['--draft', missing], `--draft: ${missing} does not exist`],
    [['--draft', lora], `--draft: ${lora} is a LoRA adapter, not a model`],
  ] as const) {
    const r = hearth(['fit', TINY_SPM, ...flags]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`hearth: ${message}`);
  }
  // and those --lora and --control-vector name (a missing one failed in the engine with ENOENT)
  for (const [flags, message] of [
    [['--lora', missing], `--lora: ${missing} does not exist`],
    [['--lora', TINY_SPM], `--lora: ${TINY_SPM} is a model, not a LoRA adapter`],
    [['--control-vector', `${missing}:0.5`], `--control-vector: ${missing} does not exist`],
    [['--control-vector', `${cvec},${lora}`], `--control-vector: ${lora} is a LoRA adapter, not a control vector`],
  ] as const) {
    const r = hearth(['run', TINY_SPM, '-p', 'hi', ...flags]);
    expect([flags, r.status]).toEqual([flags, 1]);
    expect(r.stderr.trim()).toBe(`hearth: ${message}`);
  }
  const data = tempDir('hearth-cli-models-');
  const models = path.join(data, 'models');
  fs.mkdirSync(path.join(models, 'adapters'), { recursive: true });
  copyModel(TINY_SPM, path.join(models, 'tiny.gguf'));
  copyModel(lora, path.join(models, 'adapters', 'tiny-lora.gguf'));
  copyModel(TINY_PROJECTOR, path.join(models, 'mmproj-tiny.gguf'));
  const listed = spawnSync(process.execPath, [BIN, 'models', '--data-dir', data, '--json'], { encoding: 'utf8', timeout: 120000 });
  expect(listed.status).toBe(0);
  const out = JSON.parse(listed.stdout) as { models: { name: string }[]; companions: { name: string; role: string }[] };
  expect(out.models.map((m) => m.name)).toEqual(['tiny']);
  expect(out.companions.map((m) => [m.name, m.role]).sort()).toEqual([['mmproj-tiny', 'projector'], ['tiny-lora', 'lora']]);
  const text = spawnSync(process.execPath, [BIN, 'models', '--data-dir', data], { encoding: 'utf8', timeout: 120000 });
  expect(text.stdout).toMatch(/projectors and adapters \(they load with a model\):\n(.*\n)*tiny-lora .*\[LoRA adapter\]/);
});
