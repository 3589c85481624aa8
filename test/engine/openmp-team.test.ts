/**
 * A context's worker hands its OpenMP team back when it runs out of work (native/src/openmp_team.h):
 * with ggml's CPU backend on GCC's libgomp each worker leads a team of its own, and libgomp waits less
 * at every barrier once the live teams' threads outnumber the CPUs, so an idle model's team slowed a
 * chat generating beside it (bench:beside, docs/benchmarks.md). Read in the real host: its workers are
 * named hearth-work, and the team threads they start inherit the name (Linux, /proc/PID/task/N/comm).
 */
import fs from 'fs';
import path from 'path';
import { ADDON, makeEngine, untilValue } from '../helpers/engine';
import { TINY_EMBED, TINY_SPM } from '../helpers/models';

/** What this build's CMake found for OpenMP (build/CMakeCache.txt): whether its CPU backend links libgomp. */
function builtWithLibgomp(): boolean {
  const cache = path.join(path.dirname(path.dirname(ADDON)), 'CMakeCache.txt');
  return /^OpenMP_C_LIB_NAMES:STRING=.*\bgomp\b/m.test(fs.existsSync(cache) ? fs.readFileSync(cache, 'utf8') : '');
}

/** The host's threads named as context workers: the workers and the OpenMP threads they started. */
function workerThreads(pid: number): number {
  let n = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      if (fs.readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim() === 'hearth-work') n++;
    } catch {
      // the thread ended meanwhile
    }
  }
  return n;
}

/** Waits (5 s at most) until the host has `n` such threads; an error naming `what` else. */
const untilThreads = (pid: number, n: number, what: string) => untilValue(() => workerThreads(pid) === n, `${n} hearth-work threads: ${what}`, 5_000);

const onLibgomp = process.platform === 'linux' && builtWithLibgomp();
(onLibgomp ? test : test.skip)('two models: each worker leads a team while it works and hands it back when idle', async () => {
  const engine = makeEngine({ GGML_VK_VISIBLE_DEVICES: '' });
  try {
    const threads = 2; // a team of 2: its leader (the worker) and 1 thread it starts
    await engine.load('chat', TINY_SPM, { contextSize: 32768, threads, threadsBatch: threads, gpuLayers: 0 });
    await engine.load('embed', TINY_EMBED, { contextSize: 256, threads, threadsBatch: threads, gpuLayers: 0, embeddings: true });
    const pid = engine.pid!;
    const team = threads - 1;
    // the two workers (named by their creator), no team yet
    expect(workerThreads(pid)).toBe(2);

    // a seeded reply, the first the chat's team computes; once the chat is out of work a while, its team
    // is handed back: only the workers remain
    const seeded = { prompt: 'Once upon a time', maxTokens: 64, ignoreEos: true, sampling: { seed: 5, temperature: 0.9 } };
    const first = await engine.complete('chat', seeded);
    await untilThreads(pid, 2, "the chat's team handed back");
    // the same reply from a team started anew
    await engine.clearSequence('chat');
    expect((await engine.complete('chat', seeded)).text).toBe(first.text);
    await untilThreads(pid, 2, "the new team handed back");

    // a reply that runs until aborted: its team runs beside the workers
    await engine.clearSequence('chat');
    const stop = new AbortController();
    let chatWorking = true;
    const long = engine
      .complete('chat', { prompt: 'Go on', maxTokens: 30000, ignoreEos: true }, { signal: stop.signal })
      .then(
        () => (chatWorking = false),
        () => (chatWorking = false),
      );
    await untilThreads(pid, 2 + team, "the chat's team at work");
    // the embedding model works beside it (its team seen: sampled while it embeds and just after)
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, workerThreads(pid))), 2);
    try {
      for (let i = 0; i < 20 && most < 2 + 2 * team; i++) await engine.embed('embed', ['a text to embed', 'another one']);
    } finally {
      clearInterval(sample);
    }
    expect(most).toBe(2 + 2 * team);
    // and hands its team back while the chat's still runs
    await untilThreads(pid, 2 + team, "the embedder's team handed back");
    expect(chatWorking).toBe(true);
    stop.abort();
    await long;
    // both hand theirs back once idle
    await untilThreads(pid, 2, 'both handed back');
  } finally {
    await engine.close();
  }
}, 120_000);
