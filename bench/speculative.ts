/**
 * npm run bench:engine -- --draft PATH [--model PATH | --size fast|bench|1b [--type …]] [--threads N] [--reps 3]
 *                         [--draft-max 8] [--n 128] [--json]
 * npm run bench:engine -- --draft auto [--size 1b] [--type f16] [...]
 *
 * Speculative decoding: generation tok/s of the same greedy completion with and without the draft
 * through the path the app uses (EngineClient → host → addon), and the same pair through llama.cpp's
 * llama-speculative-simple built from the same tree, against llama.cpp's own generation speed without
 * a draft (llama-bench, tg at the prompt's depth). Each side's speed-up is its own with ÷ without.
 *
 * `--draft auto` writes the pair itself: a --size model (default 1b) in F16 as the target, and as the draft
 * its first AUTO_DRAFT_LAYERS layers with its embeddings (the same weights) quantized to Q4_0
 * (llama-quantize): a smaller model of the same family. Plain random weights give nearly flat logits, whose
 * greedy choice another model rarely shares; so the auto pair's layers write little into the residual
 * stream (AUTO_RESIDUAL_SCALE) and their output is their tied embeddings: both predict their input token
 * again by a wide margin, so they agree by construction (the text is one token repeated) and the draft is
 * many times lighter than its target: what is measured is the speculative machinery's cost and gain at
 * full acceptance. The first run writes ~2.4 GB under test-output/models and builds llama-quantize,
 * llama-speculative-simple and llama-bench if missing. Prints one JSON object.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../main/engine/client';
import { TEST_MODEL_HPARAMS, TEST_MODEL_SIZES, type TestModelSize } from '../scripts/make-test-model';
import { LOAD_SETTINGS } from '../main/params/load';
import { ensureModel, ensureTool, generatedModel, log, median, root, sizeArg } from './common';
import { arg, intArg, refuse } from './options';

/** The options the speculative bench takes beside a model's, threads, --reps and --json (bench:engine reads them). */
export const SPECULATIVE_OPTIONS = { draft: 'value', n: 'value', 'draft-max': 'value' } as const;
/** Both decodings run in this context, the prompt's ~44 tokens and the generated ones in it. */
const CONTEXT = 2048;
const MAX_GENERATED = 1024;

/**
 * The auto pair's scale of its layers' output projections: the 32 updates (attention and FFN) of Llama 3.2
 * 1B's 16 layers then add up to a fraction of the token's embedding, well inside its √2048 margin.
 */
const AUTO_RESIDUAL_SCALE = 1e-3;
const AUTO_SIZE: TestModelSize = '1b';
const AUTO_DRAFT_LAYERS = 2;

/** The target and its draft: --model and --draft PATH, or (--draft auto) the pair written here. */
async function pairFor(given: string, threads: number): Promise<{ target: string; draft: string }> {
  if (given !== 'auto') {
    if (!fs.existsSync(given)) refuse(`--draft ${given}: no such file (a GGUF path, or auto)`);
    return { target: await ensureModel(threads), draft: path.resolve(given) };
  }
  if (arg('model') !== undefined) refuse('--draft auto writes its own target: leave out --model, or give --draft PATH');
  const size = sizeArg(AUTO_SIZE);
  const hp = TEST_MODEL_HPARAMS[size];
  if (!hp.tieEmbeddings || hp.blockCount <= AUTO_DRAFT_LAYERS) {
    const fit = TEST_MODEL_SIZES.filter((s) => TEST_MODEL_HPARAMS[s].tieEmbeddings && TEST_MODEL_HPARAMS[s].blockCount > AUTO_DRAFT_LAYERS).join(', ');
    throw new Error(`--draft auto needs a size whose output is its embeddings and that has more than ${AUTO_DRAFT_LAYERS} layers (${fit})`);
  }
  const family = { size, residualScale: AUTO_RESIDUAL_SCALE };
  return {
    target: await generatedModel(threads, { ...family, type: arg('type') ?? 'f16' }),
    draft: await generatedModel(threads, { ...family, type: 'q4_0', blockCount: AUTO_DRAFT_LAYERS }),
  };
}

const PROMPT =
  'The river ran past the old mill, where the miller kept his books of accounts and his letters. ' +
  'Every morning he walked along the bank, counted the sacks of flour and wrote the numbers down. ';

/** llama-speculative-simple on the pair: its decoding speed and acceptance, as it prints them. */
function llamaSpeculative(target: string, draft: string, threads: number, n: number, draftMax: number): { tps: number; drafted: number; accepted: number } {
  const bin = ensureTool('llama-speculative-simple');
  const r = spawnSync(
    bin,
    ['-m', target, '-md', draft, '--spec-type', 'draft-simple', '--spec-draft-n-max', String(draftMax), '--spec-draft-p-min', '0', '-p', PROMPT, '-n', String(n),
      '--temp', '0', '-t', String(threads), '-td', String(threads), '-c', String(CONTEXT), '-ngl', '0', '-ngld', '0', '-fa', 'off'],
    { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, GGML_VK_VISIBLE_DEVICES: '' } },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  const speed = /decoded\s+(\d+) tokens in\s+[\d.]+ seconds, speed:\s+([\d.]+) t\/s/.exec(out);
  const drafted = /n_drafted\s*=\s*(\d+)/.exec(out);
  const accepted = /n_accept\s*=\s*(\d+)/.exec(out);
  if (r.status !== 0 || !speed) throw new Error(`llama-speculative-simple failed (${r.status}): ${out.trim().split('\n').slice(-5).join(' ')}`);
  return { tps: Number(speed[2]), drafted: Number(drafted?.[1] ?? 0), accepted: Number(accepted?.[1] ?? 0) };
}

/** llama.cpp's generation speed without a draft: llama-bench's tg of n tokens at the prompt's depth. */
function llamaBenchTg(model: string, threads: number, n: number, depth: number): number {
  const r = spawnSync(ensureTool('llama-bench'), ['-m', model, '-t', String(threads), '-p', '0', '-n', String(n), '-d', String(depth), '-r', '1', '-fa', 'off', '-ngl', '0', '-o', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, GGML_VK_VISIBLE_DEVICES: '' },
  });
  if (r.status !== 0) throw new Error(`llama-bench failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { avg_ts: number }[])[0].avg_ts;
}

/** `--draft PATH|auto`: `reps` runs of each of the four, on `threads` threads. */
export async function benchSpeculative(draftArg: string, threads: number, reps: number, json: boolean): Promise<void> {
  const n = intArg('n', 128, 1, MAX_GENERATED);
  const draftMax = intArg('draft-max', 8, LOAD_SETTINGS.draftMax.meta.min ?? 1, LOAD_SETTINGS.draftMax.meta.max);
  const { target, draft } = await pairFor(draftArg, threads);
  const engine = new EngineClient({ heartbeatTimeoutMs: 60 * 60_000 });
  const common = { threads, threadsBatch: threads, contextSize: CONTEXT, flashAttention: 'off' as const, gpuLayers: 0 };
  const request = { prompt: PROMPT, maxTokens: n, ignoreEos: true, sampling: { temperature: 0 } };
  try {
    await engine.load('plain', target, common);
    await engine.load('draft', target, { ...common, draftModel: draft, speculative: 'draft', draftMax, draftPMin: 0 });
    const promptTokens = (await engine.tokenize('plain', PROMPT, { addSpecial: true })).length;
    const plain: number[] = [];
    const spec: number[] = [];
    const lbPlain: number[] = [];
    const lbSpec: number[] = [];
    let drafted = 0;
    let accepted = 0;
    let lbDrafted = 0;
    let lbAccepted = 0;
    let same = true;
    await engine.complete('plain', { ...request, maxTokens: 4 }); // warm-up
    for (let i = 0; i < reps; i++) {
      await engine.clearSequence('plain');
      await engine.clearSequence('draft');
      const a = await engine.complete('plain', request);
      const b = await engine.complete('draft', request);
      same = same && JSON.stringify(a.tokens) === JSON.stringify(b.tokens);
      plain.push(a.timings.genTps);
      spec.push(b.timings.genTps);
      drafted += b.timings.draftTokens ?? 0;
      accepted += b.timings.acceptedTokens ?? 0;
      const s = llamaSpeculative(target, draft, threads, n, draftMax);
      lbSpec.push(s.tps);
      lbDrafted += s.drafted;
      lbAccepted += s.accepted;
      lbPlain.push(llamaBenchTg(target, threads, n, promptTokens));
      log(`rep ${i + 1}: hearth ${a.timings.genTps.toFixed(1)} → ${b.timings.genTps.toFixed(1)} tok/s; llama.cpp ${lbPlain[i].toFixed(1)} → ${s.tps.toFixed(1)} tok/s`);
    }
    const hearthSpeedup = median(spec) / median(plain);
    const llamaSpeedup = median(lbSpec) / median(lbPlain);
    const result = {
      target: path.relative(root, target),
      draft: path.relative(root, draft),
      threads,
      reps,
      generated_tokens: n,
      prompt_tokens: promptTokens,
      draft_max: draftMax,
      hearth: {
        tg_tps: median(plain),
        tg_tps_with_draft: median(spec),
        speedup: hearthSpeedup,
        acceptance: drafted > 0 ? accepted / drafted : 0,
        drafted_tokens: drafted,
        accepted_tokens: accepted,
        greedy_output_identical: same,
      },
      llama_cpp: {
        tg_tps: median(lbPlain),
        tg_tps_with_draft: median(lbSpec),
        speedup: llamaSpeedup,
        acceptance: lbDrafted > 0 ? lbAccepted / lbDrafted : 0,
        tools: 'llama-bench (tg at the prompt depth), llama-speculative-simple',
      },
      speedup_ratio: hearthSpeedup / llamaSpeedup,
      target_speedup_ratio: 1,
    };
    process.stdout.write(JSON.stringify(result, null, json ? undefined : 2) + '\n');
  } finally {
    await engine.close();
  }
}
