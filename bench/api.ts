/**
 * npm run bench:api -- [--model PATH | --size fast|bench|1b [--type …]] [--threads N] [--reps 6] [--tokens 128 (16–2048)] [--json]
 *
 * Hearth's API server (composeApp's ApiService over a temporary data folder, as the app runs it) on
 * one model, threads and context size, against (a) the engine directly (EngineClient.chat on the
 * API's own loaded model and slot, with the very request the API makes of it) and (b) llama.cpp's
 * llama-server built from the same source: streaming generation of `--tokens` tokens (ignore_eos, so
 * every run generates as many), timed from the first to the last content chunk; and (c) the time to
 * first token of a follow-up request on a ~2,000-token conversation whose prefix each server holds
 * in its cache, Hearth against llama-server. Each repetition runs the three in turn (the order
 * reversed every other one) and the ratios are taken per repetition; the JSON has their medians and
 * 95% intervals (bench/common.ts), the targets and whether each is met.
 *
 * Without --model the bench writes its own model (as bench:engine does: bench/common.ts ensureModel).
 */
import { spawn, spawnSync, type ChildProcess } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
import path from 'path';
import { composeApp } from '../main/compose';
import { EngineClient } from '../main/engine/client';
import type { ChatMessage } from '../main/engine/protocol';
import { silentLogger } from '../main/logging';
import { ensureDataDir } from '../main/paths';
import { apiModelId } from '../main/server/models';
import { ChatCompletionBody, chatRequestOf } from '../main/server/openai-chat';
import { ensureModel, ensureTool, log, median, medianInterval, scratch } from './common';
import { flag, intArg, MODEL_OPTIONS, threadsArg, useOptions } from './options';

/** the context of both servers: the app's default chat context, one slot */
const CONTEXT = 4096;
useOptions('bench:api', { ...MODEL_OPTIONS, json: 'flag', threads: 'value', reps: 'value', tokens: 'value' });
const json = flag('json');
const threads = threadsArg();
const reps = intArg('reps', 6, 1, 1000); // even: each side first as often
// at least two streamed chunks to time a rate between; at most half the context (the follow-up's conversation is ~2,000 tokens)
const tokens = intArg('tokens', 128, 16, CONTEXT / 2);
const PARALLEL = 1;
const TARGETS = { api_vs_engine: 0.97, api_vs_llama_server: 1.0, followup_ttft_vs_llama_server: 1.0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One streamed request's times (performance.now()): sent, first and last content chunk, and the chunks with content. */
interface Streamed {
  sentMs: number;
  firstMs: number;
  lastMs: number;
  chunks: number;
  /** prompt tokens the server took from its cache (its `timings.cache_n` or usage's cached_tokens) */
  cached: number | null;
}

/** A stream's rate between its first and last content chunk (text is sent as it comes, coalesced): none from one chunk. */
const tps = (s: Streamed) => {
  if (s.chunks < 2) throw new Error(`${tokens} tokens came in ${s.chunks} chunk: no rate between chunks to time (raise --tokens)`);
  return (tokens - 1) / ((s.lastMs - s.firstMs) / 1000);
};

/** POSTs an OpenAI chat completion with stream: true and times its content chunks (content or reasoning). */
async function streamChat(baseUrl: string, body: Record<string, unknown>): Promise<Streamed> {
  const sentMs = performance.now();
  const res = await fetch(`${baseUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }) });
  if (!res.ok || !res.body) throw new Error(`${baseUrl}: HTTP ${res.status} ${await res.text()}`);
  let firstMs = 0;
  let lastMs = 0;
  let chunks = 0;
  let cached: number | null = null;
  let buf = '';
  const decoder = new TextDecoder();
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    const at = performance.now();
    buf += decoder.decode(part, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
      const chunk = JSON.parse(data) as {
        choices?: { delta?: { content?: string | null; reasoning_content?: string | null } }[];
        error?: unknown;
        timings?: { cache_n?: number };
        usage?: { prompt_tokens_details?: { cached_tokens?: number } };
      };
      if (chunk.error) throw new Error(`${baseUrl}: ${JSON.stringify(chunk.error)}`);
      cached = chunk.timings?.cache_n ?? chunk.usage?.prompt_tokens_details?.cached_tokens ?? cached;
      const d = chunk.choices?.[0]?.delta;
      if (d && (d.content || d.reasoning_content)) {
        if (!chunks) firstMs = at;
        lastMs = at;
        chunks++;
      }
    }
  }
  if (!chunks) throw new Error(`${baseUrl}: the stream had no content`);
  return { sentMs, firstMs, lastMs, chunks, cached };
}

/** A free loopback port (the OS picks one; llama-server then binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** llama-server on a free loopback port with the model, threads, context, slots and flash attention Hearth runs with; resolves once /health answers 200. */
async function startLlamaServer(bin: string, model: string, fa: string): Promise<{ url: string; proc: ChildProcess; stop(): Promise<void> }> {
  const port = await freePort();
  const args = ['-m', model, '-t', String(threads), '-tb', String(threads), '-c', String(CONTEXT * PARALLEL), '--parallel', String(PARALLEL)];
  args.push('-b', '2048', '-ub', '512', '-fa', fa, '-ngl', '0', '--host', '127.0.0.1', '--port', String(port));
  // a conversation's last assistant message is a whole turn, as Hearth's API renders it: llama-server
  // otherwise leaves it open for the reply to continue (its prefill), so the follow-up, where that message
  // is closed, would share a shorter prefix with its cache and decode more new tokens than Hearth (the
  // flag is in the pinned llama.cpp; an older LLAMA_CPP_DIR's llama-server refuses it, and its stderr is shown)
  args.push('--no-prefill-assistant');
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GGML_VK_VISIBLE_DEVICES: '' } });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null) proc.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`llama-server exited (${proc.exitCode}): ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) return { url, proc, stop };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`llama-server did not become healthy in 120 s: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
    }
    await sleep(200);
  }
}

/** llama.cpp's commit of a build (`llama-server --version`: "version: … (build N, commit abc1234)"). */
function llamaCommit(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { ...process.env, GGML_VK_VISIBLE_DEVICES: '' } });
  return /commit ([0-9a-f]+)\)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
}

async function main(): Promise<void> {
  const model = await ensureModel(threads);
  const serverBin = ensureTool('llama-server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-api-'));
  const releaseDir = scratch(dir);
  const paths = ensureDataDir(dir);
  const engine = new EngineClient({ heartbeatTimeoutMs: 10 * 60_000 });
  const app = composeApp({ paths, engine, appVersion: '0.0.0-bench', logger: silentLogger });
  let server: Awaited<ReturnType<typeof startLlamaServer>> | null = null;
  try {
    // the model in the library: hard-linked into <data>/models, or added by reference across file systems
    let libPath = path.join(paths.models, path.basename(model));
    try {
      fs.linkSync(model, libPath);
    } catch {
      libPath = (await app.library.addReference(model, { source: 'file' })).path;
    }
    const name = path.basename(libPath).replace(/\.gguf$/i, '');
    // batch threads: the engine's default, the CPU threads (llama-server gets -tb the same)
    app.store.modelSettings.set(libPath, { threads, contextSize: CONTEXT, batchSize: 2048, ubatchSize: 512, flashAttention: 'auto', gpuLayers: 0 });
    app.store.settings.set('guardrail', 'off');
    const status = await app.api.update({ enabled: true, port: 0, parallel: PARALLEL });
    if (status.phase !== 'running') throw new Error(`Hearth's API server did not start: ${status.error}`);
    const hearthUrl = status.url!.replace(/\/$/, '');

    // the generation request, the same to all three (greedy, ignore_eos: every run generates `tokens`)
    const genBody = { model: name, messages: [{ role: 'user', content: 'Tell me a long story about a river.' }], max_tokens: tokens, ignore_eos: true, temperature: 0, seed: 1 };
    await streamChat(hearthUrl, { ...genBody, max_tokens: 4 }); // loads the model just in time
    const modelId = apiModelId(libPath);
    const info = await engine.contextInfo(modelId);
    const fa = /^(on|true|enabled|1)$/i.test(String(info.flashAttention)) ? 'on' : 'off';
    const engineRequest = { ...chatRequestOf(ChatCompletionBody.parse(genBody)), seq: 0 };
    const direct = async (): Promise<Streamed> => {
      const sentMs = performance.now();
      let firstMs = 0;
      let lastMs = 0;
      let chunks = 0;
      await engine.chat(modelId, engineRequest, {
        onPiece: (content, reasoning) => {
          if (!content && !reasoning) return;
          const at = performance.now();
          if (!chunks) firstMs = at;
          lastMs = at;
          chunks++;
        },
      });
      return { sentMs, firstMs, lastMs, chunks, cached: null };
    };

    server = await startLlamaServer(serverBin, model, fa);
    const commit = llamaCommit(serverBin);
    const llamaUrl = server.url;
    await streamChat(llamaUrl, { ...genBody, max_tokens: 4 }); // warm-up

    // (a) and (b): generation, the three in turn
    const runs = { api: () => streamChat(hearthUrl, genBody), engine: direct, llama_server: () => streamChat(llamaUrl, genBody) };
    const order = ['api', 'engine', 'llama_server'] as const;
    const gen: Record<(typeof order)[number], number[]> = { api: [], engine: [], llama_server: [] };
    for (const k of order) await runs[k](); // warm-up
    for (let i = 0; i < reps; i++) {
      for (const k of i % 2 === 0 ? order : [...order].reverse()) {
        await sleep(300); // the other process's idle threads settle
        gen[k].push(tps(await runs[k]()));
      }
      log(`rep ${i + 1}/${reps}: api ${gen.api[i].toFixed(2)}, engine ${gen.engine[i].toFixed(2)}, llama-server ${gen.llama_server[i].toFixed(2)} tok/s`);
    }
    const apiVsEngine = gen.api.map((x, i) => x / gen.engine[i]);
    const apiVsServer = gen.api.map((x, i) => x / gen.llama_server[i]);

    // (c) the follow-up: a ~2,000-token conversation, then the same with one more short user turn
    const para = 'The river ran past the old mill, where the miller kept his books of accounts and his letters. ';
    const history: ChatMessage[] = [{ role: 'system', content: 'You are a helpful assistant.' }];
    for (let i = 0; history.length < 200; i++) {
      history.push({ role: 'user', content: `Question ${i}: ${para.repeat(3)}` });
      history.push({ role: 'assistant', content: `Answer ${i}: ${para.repeat(3)}` });
      if ((await engine.applyTemplate(modelId, { messages: history })).tokens >= 2000) break;
    }
    const convTokens = (await engine.applyTemplate(modelId, { messages: history })).tokens;
    const first = { model: name, messages: history, max_tokens: 4, ignore_eos: true, temperature: 0, seed: 1 };
    const second = { ...first, messages: [...history, { role: 'user', content: 'And then?' }] };
    const ttftOf = async (url: string) => {
      await streamChat(url, first); // the conversation is in the cache
      await sleep(300);
      const s = await streamChat(url, second);
      return { ms: s.firstMs - s.sentMs, cached: s.cached };
    };
    const ttft: { hearth: number[]; llama_server: number[] } = { hearth: [], llama_server: [] };
    const cachedTokens: { hearth: (number | null)[]; llama_server: (number | null)[] } = { hearth: [], llama_server: [] };
    for (let i = 0; i < reps; i++) {
      const pair = i % 2 === 0 ? (['hearth', 'llama_server'] as const) : (['llama_server', 'hearth'] as const);
      for (const k of pair) {
        const t = await ttftOf(k === 'hearth' ? hearthUrl : llamaUrl);
        ttft[k].push(t.ms);
        cachedTokens[k].push(t.cached);
      }
      log(`follow-up ${i + 1}/${reps}: hearth ${ttft.hearth[i].toFixed(1)} ms, llama-server ${ttft.llama_server[i].toFixed(1)} ms`);
    }
    const ttftRatios = ttft.hearth.map((x, i) => x / ttft.llama_server[i]);

    const meta = await engine.info(libPath);
    const ratio = (xs: number[], target: number, higherIsBetter: boolean) => ({
      ratio: median(xs),
      interval: medianInterval(xs),
      target,
      pass: higherIsBetter ? median(xs) >= target : median(xs) <= target,
      pair_ratios: xs,
    });
    const result = {
      model: path.basename(model),
      model_parameters: meta.parameters,
      model_type: meta.fileTypeName ?? meta.fileType,
      threads,
      context_size: CONTEXT,
      parallel: PARALLEL,
      flash_attention: fa,
      reps,
      generated_tokens: tokens,
      llama_commit: commit,
      generation_tps: { api: median(gen.api), engine: median(gen.engine), llama_server: median(gen.llama_server) },
      api_vs_engine: ratio(apiVsEngine, TARGETS.api_vs_engine, true),
      api_vs_llama_server: ratio(apiVsServer, TARGETS.api_vs_llama_server, true),
      followup: {
        conversation_tokens: convTokens,
        ttft_ms: { hearth: median(ttft.hearth), llama_server: median(ttft.llama_server) },
        cached_tokens: cachedTokens,
        ...ratio(ttftRatios, TARGETS.followup_ttft_vs_llama_server, false),
      },
      pass: median(apiVsEngine) >= TARGETS.api_vs_engine && median(apiVsServer) >= TARGETS.api_vs_llama_server && median(ttftRatios) <= TARGETS.followup_ttft_vs_llama_server,
    };
    process.stdout.write(JSON.stringify(result, null, json ? undefined : 2) + '\n');
  } finally {
    await server?.stop();
    await app.close();
    await engine.close();
    releaseDir({ remove: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench:api: ${e.message}\n`);
  process.exit(1);
});
