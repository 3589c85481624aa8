/**
 * npm run bench:engine -- --draft PATH [--model PATH | --size fast|bench|1b [--type …]] [--threads N] [--reps 3]
 *                         [--draft-max 8] [--n 128] [--json]
 * npm run bench:engine -- --draft auto [--size 1b] [--type f16] [...]
 * npm run bench:engine -- --draft ngram-simple|ngram-map-k|ngram-map-k4v|ngram-mod [--size fast|bench|1b] [--type …] [...]
 *
 * Speculative decoding: generation tok/s of the same greedy completion with and without the draft
 * through the path the app uses (EngineClient → host → addon), and the same pair through llama.cpp's
 * llama-speculative-simple built from the same tree, with its drafter and without any (a lookup longer
 * than the text: NO_DRAFTS), so both of llama.cpp's runs pay its loop's own costs per token (llama-bench's
 * tg at the prompt's depth, which has none, is reported beside). Each side's speed-up is its own with ÷
 * without. Each rep loads Hearth's two models afresh, as each llama-speculative-simple run starts afresh.
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
 *
 * `--draft` with an n-gram kind (the load setting `speculative`'s draft-free kinds) drafts from the text
 * itself, on both sides (llama-speculative-simple --spec-type KIND, no draft model, both with llama.cpp's
 * default n-gram limits). It writes its own target: a --size model (default fast) scripted to write
 * LOOP_TEXT round and round (scripts/make-scripted-model.ts), in --type (the size's default), and the
 * prompt is one round of it: a text that repeats, where the lookups find every next token, so what is
 * measured is the n-gram machinery's cost and gain at full acceptance.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../main/engine/client';
import crypto from 'crypto';
import { TEST_MODEL_HPARAMS, TEST_MODEL_SIZES, type TestModelSize } from '../scripts/make-test-model';
import { writeScriptedModel } from '../scripts/make-scripted-model';
import { LOAD_SETTINGS, SPECULATIVE_KINDS } from '../main/params/load';
import { DEFAULT_BENCH_TYPE, ensureModel, ensureTool, generatedModel, log, median, quantized, root, sizeArg, writeOnce } from './common';
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

/** The prompt of a draft model's run. */
const PROMPT =
  'The river ran past the old mill, where the miller kept his books of accounts and his letters. ' +
  'Every morning he walked along the bank, counted the sacks of flour and wrote the numbers down. ';

/** What each model reads once after its load, before it is measured. */
const WARM_UP = 'Hello there';

/** The draft-free kinds --draft takes: the load setting's n-gram kinds. */
const NGRAM_KINDS = SPECULATIVE_KINDS.filter((k): k is Extract<(typeof SPECULATIVE_KINDS)[number], `ngram-${string}`> => k.startsWith('ngram-'));
type NgramKind = (typeof NGRAM_KINDS)[number];
const isNgram = (s: string): s is NgramKind => (NGRAM_KINDS as readonly string[]).includes(s);

/** What drafts: a draft model (its file), or an n-gram kind. */
type Drafter = { kind: 'draft'; draft: string } | { kind: NgramKind };

/** The n-gram bench's text: words whose tokens all differ, so a model can be scripted to write it round and round. */
const LOOP_TEXT =
  'The river ran past an old mill where my uncle kept his books of accounts and letters from sailors; ' +
  'every morning we walked along its bank, counted sacks full with flour before noon';

/** The target and what drafts for it: --model and --draft PATH, (--draft auto) the pair written here, or (an n-gram kind) a looping model. */
async function pairFor(given: string, threads: number, engine: EngineClient): Promise<{ target: string; drafter: Drafter; prompt: string }> {
  if (isNgram(given)) return { target: await loopingModel(threads, engine), drafter: { kind: given }, prompt: LOOP_TEXT };
  if (given !== 'auto') {
    if (!fs.existsSync(given)) refuse(`--draft ${given}: no such file (a GGUF path, auto, or one of ${NGRAM_KINDS.join(', ')})`);
    return { target: await ensureModel(threads), drafter: { kind: 'draft', draft: path.resolve(given) }, prompt: PROMPT };
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
    drafter: { kind: 'draft', draft: await generatedModel(threads, { ...family, type: 'q4_0', blockCount: AUTO_DRAFT_LAYERS }) },
    prompt: PROMPT,
  };
}

/** The n-gram bench's target: a --size model (default fast) scripted to write LOOP_TEXT round and round, in --type. */
async function loopingModel(threads: number, engine: EngineClient): Promise<string> {
  if (arg('model') !== undefined) refuse('--draft with an n-gram kind writes its own target, a model whose text repeats: leave out --model');
  const size = sizeArg('fast');
  const type = arg('type') ?? DEFAULT_BENCH_TYPE[size];
  const base = await generatedModel(threads, { size, type: 'f16' });
  await engine.load('tokenizer', base, { contextSize: 256, threads, gpuLayers: 0 });
  const tokens = await engine.tokenize('tokenizer', LOOP_TEXT, { addSpecial: false });
  await engine.unload('tokenizer');
  const script = [...tokens, tokens[0]];
  const hash = crypto.createHash('sha256').update(JSON.stringify(script)).digest('hex').slice(0, 8);
  const f16 = base.replace(/\.gguf$/, `-loop-${hash}.gguf`);
  await writeOnce(f16, `the ${size} model scripted to write its text round and round`, (tmp) => writeScriptedModel(base, tmp, script));
  return quantized(f16, type, threads);
}

/**
 * What llama-speculative-simple is given to decode without drafts, in the same loop as with them (its
 * speed without drafting, as it samples and prints each token): a lookup and a draft so long that their
 * sum passes the context, so nothing is ever drafted (it has no kind that drafts nothing: `none` is refused).
 */
const NO_DRAFTS = ['--spec-type', 'ngram-simple', '--spec-ngram-simple-size-n', '1024', '--spec-ngram-simple-size-m', '1024'];

/** llama-speculative-simple on the target with its drafter (null: none, NO_DRAFTS): its decoding speed and acceptance, as it prints them. */
function llamaSpeculative(target: string, drafter: Drafter | null, prompt: string, threads: number, n: number, draftMax: number): { tps: number; decoded: number; drafted: number; accepted: number } {
  const bin = ensureTool('llama-speculative-simple');
  const drafting = !drafter
    ? NO_DRAFTS
    : drafter.kind === 'draft'
      ? ['-md', drafter.draft, '--spec-type', 'draft-simple', '--spec-draft-n-max', String(draftMax), '--spec-draft-p-min', '0', '-td', String(threads), '-ngld', '0']
      : ['--spec-type', drafter.kind];
  const args = ['-m', target, ...drafting, '-p', prompt, '-n', String(n), '--temp', '0', '-t', String(threads), '-c', String(CONTEXT), '-ngl', '0', '-fa', 'off'];
  // its figures are log lines, which llama.cpp's log thread may not have written when the program ends
  // (seen once in ~50 runs: exit 0, the text, no figures): such a run is run again, twice at most
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, GGML_VK_VISIBLE_DEVICES: '' } });
    const out = `${r.stdout}\n${r.stderr}`;
    const speed = /decoded\s+(\d+) tokens in\s+[\d.]+ seconds, speed:\s+([\d.]+) t\/s/.exec(out);
    const drafted = /n_drafted\s*=\s*(\d+)/.exec(out);
    const accepted = /n_accept\s*=\s*(\d+)/.exec(out);
    if (r.status === 0 && !(speed && drafted && accepted) && attempt < 3) {
      log('llama-speculative-simple printed no figures; running it again');
      continue;
    }
    if (r.status !== 0 || !(speed && drafted && accepted)) throw new Error(`llama-speculative-simple failed (${r.status}): ${out.trim().split('\n').slice(-5).join(' ')}`);
    if (!drafter && Number(drafted[1]) > 0) throw new Error('llama-speculative-simple drafted where it was given a lookup longer than the text');
    return { tps: Number(speed[2]), decoded: Number(speed[1]), drafted: Number(drafted[1]), accepted: Number(accepted[1]) };
  }
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

/** `--draft PATH|auto|KIND`: `reps` runs of each of the four, on `threads` threads. */
export async function benchSpeculative(draftArg: string, threads: number, reps: number, json: boolean): Promise<void> {
  const n = intArg('n', 128, 1, MAX_GENERATED);
  if (isNgram(draftArg) && arg('draft-max') !== undefined) refuse(`--draft-max bounds a draft model's drafts; ${draftArg} drafts as far as its own lookups reach (llama.cpp's limits)`);
  const draftMax = intArg('draft-max', 8, LOAD_SETTINGS.draftMax.meta.min ?? 1, LOAD_SETTINGS.draftMax.meta.max);
  const engine = new EngineClient({ heartbeatTimeoutMs: 60 * 60_000 });
  try {
    const { target, drafter, prompt } = await pairFor(draftArg, threads, engine);
    const common = { threads, threadsBatch: threads, contextSize: CONTEXT, flashAttention: 'off' as const, gpuLayers: 0 };
    const request = { prompt, maxTokens: n, ignoreEos: true, sampling: { temperature: 0 } };
    const drafting = drafter.kind === 'draft' ? { draftModel: drafter.draft, speculative: 'draft' as const, draftMax, draftPMin: 0 } : { speculative: drafter.kind };
    // each rep loads both afresh, as each llama-speculative-simple run starts afresh: an n-gram kind's
    // tables (ngram-mod's) would otherwise start each rep holding the text of the ones before
    const loadBoth = async () => {
      for (const id of ['plain', 'draft']) if (engine.isLoaded(id)) await engine.unload(id);
      await engine.load('plain', target, common);
      await engine.load('draft', target, { ...common, ...drafting });
    };
    await loadBoth();
    const promptTokens = (await engine.tokenize('plain', prompt, { addSpecial: true })).length;
    const plain: number[] = [];
    const spec: number[] = [];
    const lbPlain: number[] = [];
    const lbSpec: number[] = [];
    const lbTg: number[] = [];
    let drafted = 0;
    let accepted = 0;
    let lbDrafted = 0;
    let lbAccepted = 0;
    let same = true;
    const generated: number[] = [];
    for (let i = 0; i < reps; i++) {
      // llama-speculative-simple goes past -n (by one token with a draft model, by up to a lookup's draft
      // with an n-gram kind, whose drafts it does not bound), and the longer a text, the more of it a
      // lookup finds: every run of a rep generates as many tokens as it decoded
      const s = llamaSpeculative(target, drafter, prompt, threads, n, draftMax);
      const tokens = Math.min(s.decoded, MAX_GENERATED);
      generated.push(tokens);
      if (i > 0) await loadBoth();
      // both warmed up after their load (another text: an n-gram drafter's tables learn what it reads)
      for (const id of ['plain', 'draft']) {
        const w = await engine.complete(id, { prompt: WARM_UP, maxTokens: 4, ignoreEos: true, sampling: { temperature: 0 } });
        // an n-gram drafter that drafted here would have learnt from this text more than its lookups' lengths
        if (drafter.kind !== 'draft' && (w.timings.draftTokens ?? 0) > 0) throw new Error(`the warm-up drafted ${w.timings.draftTokens} tokens: ${drafter.kind} learnt from it`);
        await engine.clearSequence(id);
      }
      const a = await engine.complete('plain', { ...request, maxTokens: tokens });
      const b = await engine.complete('draft', { ...request, maxTokens: tokens });
      same = same && JSON.stringify(a.tokens) === JSON.stringify(b.tokens);
      plain.push(a.timings.genTps);
      spec.push(b.timings.genTps);
      drafted += b.timings.draftTokens ?? 0;
      accepted += b.timings.acceptedTokens ?? 0;
      lbSpec.push(s.tps);
      lbDrafted += s.drafted;
      lbAccepted += s.accepted;
      // without drafts it stops right after -n (one token past it): asked for one less, it decodes as many
      const base = llamaSpeculative(target, null, prompt, threads, tokens - 1, draftMax);
      if (base.decoded !== tokens) throw new Error(`llama-speculative-simple without drafts decoded ${base.decoded} tokens, not ${tokens}`);
      lbPlain.push(base.tps);
      lbTg.push(llamaBenchTg(target, threads, tokens, promptTokens));
      log(`rep ${i + 1} (${tokens} tokens): hearth ${a.timings.genTps.toFixed(1)} → ${b.timings.genTps.toFixed(1)} tok/s; llama.cpp ${lbPlain[i].toFixed(1)} → ${s.tps.toFixed(1)} tok/s (llama-bench ${lbTg[i].toFixed(1)})`);
    }
    const hearthSpeedup = median(spec) / median(plain);
    const llamaSpeedup = median(lbSpec) / median(lbPlain);
    const result = {
      target: path.relative(root, target),
      draft: drafter.kind === 'draft' ? path.relative(root, drafter.draft) : drafter.kind,
      threads,
      reps,
      // asked for (-n), and generated by each side (the median over reps of what llama-speculative-simple decoded)
      requested_tokens: n,
      generated_tokens: median(generated),
      prompt_tokens: promptTokens,
      // the n-gram kinds draft as far as their own lookups reach (llama.cpp's limits), not draftMax
      draft_max: drafter.kind === 'draft' ? draftMax : null,
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
        drafted_tokens: lbDrafted,
        accepted_tokens: lbAccepted,
        // llama-bench's generation at the prompt's depth: no sampling or printing per token, so faster than
        // llama-speculative-simple's own loop without drafts, which is the speed-up's base
        llama_bench_tg_tps: median(lbTg),
        tools: `llama-speculative-simple${drafter.kind === 'draft' ? '' : ` --spec-type ${drafter.kind}`}, and without drafts (${NO_DRAFTS.join(' ')}); llama-bench (tg at the prompt depth)`,
      },
      speedup_ratio: hearthSpeedup / llamaSpeedup,
      target_speedup_ratio: 1,
    };
    process.stdout.write(JSON.stringify(result, null, json ? undefined : 2) + '\n');
  } finally {
    await engine.close();
  }
}
