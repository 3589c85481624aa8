/**
 * npm run bench:engine -- [--model PATH | --size fast|bench|1b [--type f16|q8_0|q4_0|q4_k_m|…]] [--threads N] [--reps 16]
 *                         [--conversation-reps 6] [--fa auto|on|off] [--pp 512] [--json]
 * npm run bench:engine -- --draft PATH|auto|ngram-… [...]: speculative decoding instead (bench/speculative.ts)
 *
 * Measures the engine through the path the app uses (EngineClient → host process → addon) and, in
 * the same run, llama.cpp's own llama-bench built from the same source with the same model and
 * threads: prompt processing of 512 tokens (`--pp N`: N tokens, fed as micro-batches of 512 by both) and
 * generation of 128 tokens. Then the follow-up turn
 * (TTFT after a ~2,000-token conversation gains one short message, against evaluating that message
 * alone, and against llama-bench evaluating the same new tokens at the same depth, in
 * `--conversation-reps` pairs taken in turn like pp's and tg's) and reopening from
 * a saved session (against evaluating the whole conversation again). Flash attention is the app's
 * choice (--fa, default auto, as resolved by the engine host) and llama-bench gets the same. Prints
 * one JSON object.
 *
 * Without --model the bench writes its own model (scripts/make-test-model): `--size bench` (default,
 * 134M parameters, 768 wide), `--size fast` (87M parameters, 640 wide, 10 layers, the 32k
 * SentencePiece vocab, Q8_0 unless --type says otherwise: a small, fast model, on which the engine's
 * own costs per token and per request show most) or `--size 1b` (Llama 3.2 1B's layers), in F16 or
 * quantized to `--type` with llama.cpp's llama-quantize built from the same source.
 */
import { spawnSync } from 'child_process';
import os from 'os';
import path from 'path';
import { EngineClient } from '../main/engine/client';
import { ChatMessage } from '../main/engine/protocol';
import { ensureModel, ensureTool, inTurn, scratch, llamaBenchContext, log, median, medianInterval, orderMedians } from './common';
import { arg, choiceArg, flag, intArg, MODEL_OPTIONS, refuse, threadsArg, useOptions } from './options';
import { benchSpeculative, SPECULATIVE_OPTIONS } from './speculative';

/** the options of the run against llama-bench alone (--draft runs bench/speculative.ts, which takes SPECULATIVE_OPTIONS instead) */
const LLAMA_BENCH_OPTIONS = { 'conversation-reps': 'value', fa: 'value', pp: 'value' } as const;
useOptions('bench:engine', { ...MODEL_OPTIONS, ...SPECULATIVE_OPTIONS, ...LLAMA_BENCH_OPTIONS, json: 'flag', threads: 'value', reps: 'value' });
const json = flag('json');
const threads = threadsArg();
// --draft PATH|auto|ngram-…: speculative decoding against llama.cpp's (bench/speculative.ts), its own options
const draft = arg('draft');
const misplaced = Object.keys(draft === undefined ? SPECULATIVE_OPTIONS : LLAMA_BENCH_OPTIONS).find((name) => arg(name) !== undefined);
if (misplaced) refuse(draft === undefined ? `--${misplaced} is an option of --draft` : `--${misplaced} is not an option of --draft`);
// pairs of pp512 and of tg128 (a pair's ratio varies by several percent on a shared machine, so many
// short pairs), and pairs or repetitions of the slower conversation measures (an even count puts each
// side first as often)
const reps = intArg('reps', draft ? 3 : 16, 1, 1000);
const convReps = intArg('conversation-reps', 6, 1, 1000);
const faArg = choiceArg('fa', 'auto', ['auto', 'on', 'off'] as const);
const ppTokens = intArg('pp', 512, 1, 2048); // one batch

/** One llama-bench run: `-p`/`-n`/`-d` as given, same threads, batch sizes and flash attention as the engine, on the CPU as the engine here. */
function llamaBench(bin: string, model: string, fa: string, test: { p: number; n: number; d?: number; r?: number; context?: number }): { tps: number; commit: string } {
  const args = ['-p', String(test.p), '-n', String(test.n), '-d', String(test.d ?? 0), '-r', String(test.r ?? 1)];
  const r = spawnSync(bin, ['-m', model, '-t', String(threads), ...args, '-b', '2048', '-ub', '512', '-fa', fa, '-ngl', '0', '-o', 'json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    env: { ...process.env, GGML_VK_VISIBLE_DEVICES: '' },
  });
  if (r.status !== 0) throw new Error(`llama-bench failed: ${r.stderr}`);
  const rows = JSON.parse(r.stdout) as { avg_ts: number; build_commit: string }[];
  if (!rows.length) throw new Error(`llama-bench ran no test (${args.join(' ')})`);
  return { tps: rows[0].avg_ts, commit: rows[0].build_commit };
}

/** llama-bench's tests, and the context each runs in here: llama-bench's own, with one more slot where the test fills it (pp512: 768 against 512; llamaBenchContext). */
const PP_TG = { pp: { p: ppTokens, n: 0, context: llamaBenchContext(ppTokens) }, tg: { p: 0, n: 128, context: 256 } };
const CHAT_CONTEXT = 4096;

async function main(): Promise<void> {
  if (draft !== undefined) return benchSpeculative(draft, threads, reps, json);
  const model = await ensureModel(threads);
  // llama-bench runs with spawnSync, which holds this process's event loop (and the heartbeat's replies)
  // for as long as it runs: the watchdog's bound is set past any run
  const engine = new EngineClient({ heartbeatTimeoutMs: 60 * 60_000 });
  const M = 'bench';
  const sessionFile = path.join(os.tmpdir(), `hearth-bench-${process.pid}.session`);
  const releaseSession = scratch(sessionFile);
  try {
    const load = (contextSize: number) =>
      engine.load(M, model, { threads, threadsBatch: threads, contextSize, batchSize: 2048, ubatchSize: 512, flashAttention: faArg, gpuLayers: 0 });
    // pp512 and tg128 each run in a context sized the way llama-bench sizes its own (its prompt plus generated tokens,
    // which llama.cpp pads to 256; one slot more where they fill it, llamaBenchContext): with flash attention off, llama.cpp itself runs
    // slower in a larger context (its V cache is stored transposed, one row per context slot, and is read
    // with that stride), and that is not the engine's cost
    await load(PP_TG.pp.context);
    const fa = String((await engine.contextInfo(M)).flashAttention);
    const meta = await engine.info(model);
    const vocab = meta.vocabSize;

    // pp512 and tg128, each repetition paired with a llama-bench run of the same test, the two in turn
    // (ours first in even pairs, llama-bench first in odd ones), so the ratio is taken pair by pair and
    // holds when the machine's speed drifts
    const bin = ensureTool('llama-bench');
    const ppPrompt = Array.from({ length: ppTokens }, (_, i) => 100 + ((i * 7919) % (vocab - 200)));
    let commit = '';
    // Each run of ours, like each of llama-bench's, warms up first: llama-bench decodes the test's prompt
    // (pp) or one token (tg) untimed before its timed run, in the process it just started; ours runs right
    // after that process ended, its threads idle and caches cold for as long as llama-bench ran (without
    // the warm-up the first pp512 after a llama-bench run measured ~5% slower than the next, 2026-12-03)
    const ours = {
      pp: async () => {
        await engine.clearSequence(M);
        await engine.complete(M, { prompt: ppPrompt, maxTokens: 1, ignoreEos: true, sampling: { temperature: 0 } });
        await engine.clearSequence(M);
        const r = await engine.complete(M, { prompt: ppPrompt, maxTokens: 1, ignoreEos: true, sampling: { temperature: 0 } });
        return r.timings.promptTps;
      },
      // 128 tokens generated one by one with the app's sampler (greedy), after a one-token prompt
      tg: async () => {
        await engine.clearSequence(M);
        await engine.complete(M, { prompt: [1], maxTokens: 2, ignoreEos: true, sampling: { temperature: 0 } });
        await engine.clearSequence(M);
        const r = await engine.complete(M, { prompt: [1], maxTokens: 129, ignoreEos: true, sampling: { temperature: 0 } });
        return r.timings.genTps;
      },
    };
    const theirs = (test: 'pp' | 'tg') => {
      const b = llamaBench(bin, model, fa, PP_TG[test]);
      commit = b.commit;
      return b.tps;
    };
    const pairs = (test: 'pp' | 'tg') => inTurn(reps, ours[test], () => theirs(test));
    await engine.complete(M, { prompt: ppPrompt.slice(0, 16), maxTokens: 2, ignoreEos: true }); // warm-up
    theirs('tg'); // warm-up (page cache)
    const [pp, lbPp] = await pairs('pp');
    await load(PP_TG.tg.context);
    await ours.tg(); // warm-up
    const [tg, lbTg] = await pairs('tg');
    const ppRatios = pp.map((x, i) => x / lbPp[i]);
    const tgRatios = tg.map((x, i) => x / lbTg[i]);
    log(`hearth: pp ${pp.map((x) => x.toFixed(1)).join(', ')} tok/s; tg ${tg.map((x) => x.toFixed(2)).join(', ')} tok/s`);
    log(`llama-bench: pp ${lbPp.map((x) => x.toFixed(1)).join(', ')} tok/s; tg ${lbTg.map((x) => x.toFixed(2)).join(', ')} tok/s`);

    // the conversation measures run in the app's default chat context
    await load(CHAT_CONTEXT);

    // follow-up turn: a ~2,000-token conversation gains one short user message
    const para = 'The river ran past the old mill, where the miller kept his books of accounts and his letters. ';
    const history: ChatMessage[] = [{ role: 'system', content: 'You are a helpful assistant.' }];
    for (let i = 0; history.length < 200; i++) {
      history.push({ role: 'user', content: `Question ${i}: ${para.repeat(3)}` });
      history.push({ role: 'assistant', content: `Answer ${i}: ${para.repeat(3)}` });
      const t = await engine.applyTemplate(M, { messages: history });
      if (t.tokens >= 2000) break;
    }
    const convTokens = (await engine.applyTemplate(M, { messages: history })).tokens;
    const short: ChatMessage = { role: 'user', content: 'And then?' };
    const gen = { maxTokens: 1, ignoreEos: true, sampling: { temperature: 0 } };
    // the conversation so far in the cache, then its follow-up (a warm-up, which also tells how many of its
    // tokens are new), and the cache saved for the reopening measure below
    await engine.clearSequence(M);
    await engine.chat(M, { messages: history, ...gen });
    const follow = await engine.chat(M, { messages: [...history, short], ...gen });
    await engine.saveSession(M, sessionFile);
    const newTokens = follow.timings.promptTokens - follow.timings.cachedTokens;
    // the follow-up against llama.cpp's own cost of the same work (llama-bench evaluating the same new
    // tokens at the conversation's depth: prompt time only, no template, tokenizer or sampling), paired
    // and taken in turn like pp and tg: the cache regrown to the conversation, then one follow-up. Like
    // pp and tg, in a context of llama-bench's size for the test.
    // llama-bench copies the depth's cache state (tens of MB) just before its timed decode, untimed.
    const followContext = llamaBenchContext(follow.timings.promptTokens);
    await load(followContext);
    const oursFollow = async () => {
      await engine.clearSequence(M);
      await engine.chat(M, { messages: history, ...gen });
      const f = await engine.chat(M, { messages: [...history, short], ...gen });
      if (f.timings.cachedTokens !== follow.timings.cachedTokens) throw new Error(`a follow-up reused ${f.timings.cachedTokens} tokens, the first ${follow.timings.cachedTokens}`);
      return f.timings.ttftMs;
    };
    const theirsFollow = () => (newTokens / llamaBench(bin, model, fa, { p: newTokens, n: 0, d: follow.timings.cachedTokens }).tps) * 1000;
    const [followTtft, lbDepth] = await inTurn(convReps, oursFollow, theirsFollow);
    const followRatios = followTtft.map((x, i) => x / lbDepth[i]);
    log(`follow-up: hearth ${followTtft.map((x) => x.toFixed(1)).join(', ')} ms; llama-bench ${lbDepth.map((x) => x.toFixed(1)).join(', ')} ms`);
    // the rest in the app's chat context again
    await load(CHAT_CONTEXT);
    // the message alone in an empty context, against llama-bench's prompt time for it
    const aloneTtft: number[] = [];
    let aloneTokens = 0;
    for (let i = 0; i < convReps; i++) {
      await engine.clearSequence(M);
      const alone = await engine.chat(M, { messages: [short], ...gen });
      aloneTtft.push(alone.timings.ttftMs);
      aloneTokens = alone.timings.promptTokens;
    }
    const lbDepthMs = median(lbDepth);
    const lbAloneMs = (aloneTokens / llamaBench(bin, model, fa, { p: aloneTokens, n: 0, r: convReps }).tps) * 1000;

    // reopening a thread: restore the saved session vs evaluate the whole conversation again
    const restoreMs: number[] = [];
    const fullMs: number[] = [];
    for (let i = 0; i < convReps; i++) {
      await engine.clearSequence(M);
      const t0 = performance.now();
      await engine.restoreSession(M, sessionFile);
      const r = await engine.chat(M, { messages: [...history, short], ...gen });
      restoreMs.push(performance.now() - t0);
      if (r.timings.cachedTokens < convTokens - 1) throw new Error(`restored session reused only ${r.timings.cachedTokens} tokens`);
      await engine.clearSequence(M);
      const t1 = performance.now();
      await engine.chat(M, { messages: [...history, short], ...gen });
      fullMs.push(performance.now() - t1);
    }

    const result = {
      model: path.basename(model),
      model_parameters: meta.parameters,
      model_type: meta.fileTypeName ?? meta.fileType,
      threads,
      reps,
      conversation_reps: convReps,
      flash_attention: fa,
      pp_tokens: ppTokens,
      context_size: { pp: PP_TG.pp.context, tg: PP_TG.tg.context, followup_pairs: followContext, conversation: CHAT_CONTEXT },
      pp_tps: median(pp),
      tg_tps: median(tg),
      llama_bench: { pp_tps: median(lbPp), tg_tps: median(lbTg), commit },
      pp_ratio: median(ppRatios),
      tg_ratio: median(tgRatios),
      // 95% bootstrap intervals of the two medians
      pp_ratio_interval: medianInterval(ppRatios),
      tg_ratio_interval: medianInterval(tgRatios),
      pair_ratios: { pp: ppRatios, tg: tgRatios },
      // the pairs' median ratio with ours first (a_first) and with llama-bench first (b_first)
      order_medians: { pp: orderMedians(ppRatios), tg: orderMedians(tgRatios), followup: orderMedians(followRatios) },
      followup: {
        conversation_tokens: convTokens,
        ttft_followup_ms: median(followTtft),
        ttft_message_alone_ms: median(aloneTtft),
        ratio: median(followTtft) / median(aloneTtft),
        target: 1.2,
        cached_tokens: follow.timings.cachedTokens,
        new_tokens: newTokens,
        message_alone_tokens: aloneTokens,
        llama_bench: {
          new_tokens_at_depth_ms: lbDepthMs,
          message_alone_ms: lbAloneMs,
          ratio: lbDepthMs / lbAloneMs,
        },
        // median and 95% interval of the pairs' ratios
        ratio_vs_llama_bench_at_depth: median(followRatios),
        ratio_vs_llama_bench_at_depth_interval: medianInterval(followRatios),
        pair_ratios: followRatios,
      },
      session_reopen: {
        restore_and_first_token_ms: median(restoreMs),
        full_reevaluation_ms: median(fullMs),
        ratio: median(restoreMs) / median(fullMs),
        target: 0.2,
      },
      targets: { pp_ratio: 0.99, tg_ratio: 0.99, followup_vs_llama_bench_at_depth: 1.05 },
    };
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } finally {
    releaseSession({ remove: true });
    await engine.close();
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench:engine: ${e.message}\n`);
  process.exit(1);
});
