/**
 * npm run bench:threads -- [--json] [--model PATH | --size bench|1b [--type f16|q8_0|…]] [--threads N] [--reps 5] [--restarts 3] [--history 2000]
 *
 * Every thread keeps its cache (main/chat/sessions.ts), measured as the user feels it: the app
 * (composeApp, the real store and engine host) over a data folder of its own, two threads with
 * `--history` tokens of conversation each (stored, not generated), and time to first token taken
 * by the wall clock from chat.send to the reply's first piece (a restore from disk counts).
 *
 *   switch ÷ hot: the messages alternate A, A, B, B, ...: the first of each pair comes after a switch
 *     from the other thread, the second with the thread's cache hot; the ratio is taken pair by pair
 *     (goal ≤ 1.2; with one sequence for all threads a switch re-reads the whole conversation).
 *   restart ÷ re-read: the app is closed (its live threads saved) and opened again over the same
 *     folder; A's turn restores its state from disk, B's saved state is deleted first so its turn
 *     re-reads the conversation at the same depth (goal ≤ 0.2).
 */
import fs from 'fs';
import path from 'path';
import { composeApp, type App } from '../main/compose';
import { EngineClient } from '../main/engine/client';
import type { EventOf, MessageDTO } from '../main/ipc/contract';
import { silentLogger } from '../main/logging';
import { ensureDataDir } from '../main/paths';
import { ensureModel, log, median, medianInterval, root, scratch } from './common';
import { flag, intArg, MODEL_OPTIONS, threadsArg, useOptions } from './options';

const CONTEXT = 8192;
useOptions('bench:threads', { ...MODEL_OPTIONS, json: 'flag', threads: 'value', reps: 'value', restarts: 'value', history: 'value' });
const JSON_OUT = flag('json');
const threads = threadsArg(2);
const reps = intArg('reps', 5, 1, 1000);
const restarts = intArg('restarts', 3, 1, 100);
// two threads' histories and their replies share the context
const historyTokens = intArg('history', 2000, 1, CONTEXT / 2 - 256);

/** Conversation text: words from a fixed list, deterministic. */
function words(n: number, seed: number): string {
  const list = 'the of and to a in is it you that for this with on be are as can or not your if have by at from but an use will more what which about when there so all one also some they their would like we how time into should other any then than these do each only make first just may need'.split(' ');
  let x = seed;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out.push(list[x % list.length]);
  }
  return out.join(' ');
}

interface Turn {
  /** wall clock, chat.send to the first piece (or the end of a reply without one) */
  wallMs: number;
  /** the engine's own time to first token (no restore in it) */
  engineMs: number;
  cachedTokens: number;
  promptTokens: number;
}

function openApp(dir: string): { app: App; engine: EngineClient } {
  const engine = new EngineClient({ heartbeatTimeoutMs: 10 * 60_000 });
  const app = composeApp({ paths: ensureDataDir(dir), engine, appVersion: 'bench', logger: silentLogger });
  app.store.settings.set('threadCache', { liveThreads: 2, diskBudgetMiB: 4096, maxAgeDays: 30 });
  app.store.settings.update({ chatDefaults: { ...app.store.settings.get('chatDefaults'), maxTokens: 4, temperature: 0, seed: 1 } });
  return { app, engine };
}

async function turn(app: App, threadId: string, content: string): Promise<Turn> {
  const t0 = performance.now();
  let first = 0;
  let done: (m: MessageDTO) => void;
  const finished = new Promise<MessageDTO>((r) => (done = r));
  const off = app.services.subscribe((event, payload) => {
    if (event === 'chat.piece' && (payload as EventOf<'chat.piece'>).threadId === threadId && !first) first = performance.now();
    if (event === 'chat.done' && (payload as EventOf<'chat.done'>).threadId === threadId) done((payload as EventOf<'chat.done'>).message);
  });
  await app.services.handle('chat.send', { threadId, content });
  const m = await finished;
  const end = performance.now();
  off();
  await app.chat.idle(); // the turn is released after its reply ends
  if (m.status !== 'done' || !m.metrics) throw new Error(`a reply ended ${m.status}: ${m.error}`);
  return { wallMs: (first || end) - t0, engineMs: m.metrics.ttftMs, cachedTokens: m.metrics.cachedTokens, promptTokens: m.metrics.promptTokens };
}

async function main(): Promise<void> {
  const model = await ensureModel(threads);
  const dir = path.join(root, 'test-output', `bench-threads-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  const releaseDir = scratch(dir);
  const paths = ensureDataDir(dir);
  const modelPath = path.join(paths.models, 'bench.gguf');
  try {
    fs.linkSync(model, modelPath);
  } catch {
    fs.copyFileSync(model, modelPath);
  }
  let { app, engine } = openApp(dir);
  try {
    app.store.modelSettings.set(modelPath, { contextSize: CONTEXT, threads, gpuLayers: 0 });
    log(`loading ${model}`);
    await app.services.handle('models.load', { path: modelPath });
    // two threads of about `historyTokens` tokens each (about 1.3 tokens per word here), stored as turns
    const ids: string[] = [];
    for (const [k, name] of ['A', 'B'].entries()) {
      const t = app.store.threads.create({ title: `bench ${name}` });
      const perTurn = Math.round(historyTokens / 1.3 / 10);
      for (let i = 0; i < 5; i++) {
        app.store.messages.add({ threadId: t.id, role: 'user', content: words(perTurn, 1000 * k + 2 * i) });
        app.store.messages.add({ threadId: t.id, role: 'assistant', content: words(perTurn, 1000 * k + 2 * i + 1) });
      }
      ids.push(t.id);
    }
    const [A, B] = ids;
    log('first reads (cold)');
    const cold = [await turn(app, A, 'start'), await turn(app, B, 'start')];
    log(`  ${cold.map((c) => `${c.promptTokens} tokens in ${c.wallMs.toFixed(0)} ms`).join(', ')}`);

    const switched: Turn[] = [];
    const hot: Turn[] = [];
    for (let r = 0; r < reps; r++) {
      for (const id of [A, B]) {
        switched.push(await turn(app, id, `switch message ${r}`));
        hot.push(await turn(app, id, `hot message ${r}`));
      }
      log(`  rep ${r}: switch ${switched.at(-2)!.wallMs.toFixed(1)}/${switched.at(-1)!.wallMs.toFixed(1)} ms, hot ${hot.at(-2)!.wallMs.toFixed(1)}/${hot.at(-1)!.wallMs.toFixed(1)} ms`);
    }
    const switchRatios = switched.map((s, i) => s.wallMs / hot[i].wallMs);

    const restored: Turn[] = [];
    const reread: Turn[] = [];
    const restoreRatios: number[] = [];
    for (let r = 0; r < restarts; r++) {
      await app.close(); // saves the live threads
      await engine.close();
      fs.rmSync(path.join(paths.sessions, `${B}.kv`), { force: true });
      ({ app, engine } = openApp(dir));
      await app.services.handle('models.load', { path: modelPath });
      const a = await turn(app, A, `after restart ${r}`);
      const b = await turn(app, B, `after restart ${r}`);
      restored.push(a);
      reread.push(b);
      restoreRatios.push(a.wallMs / b.wallMs);
      log(`  restart ${r}: restored ${a.wallMs.toFixed(0)} ms (${a.cachedTokens} cached), re-read ${b.wallMs.toFixed(0)} ms (${b.cachedTokens} cached of ${b.promptTokens})`);
    }
    const stat = (xs: number[]) => ({ median: +median(xs).toFixed(3), interval: medianInterval(xs).map((x) => +x.toFixed(3)) });
    const ms = (ts: Turn[]) => +median(ts.map((t) => t.wallMs)).toFixed(1);
    const engineMs = (ts: Turn[]) => +median(ts.map((t) => t.engineMs)).toFixed(1);
    const info = await engine.contextInfo('chat');
    const result = {
      model: path.basename(model),
      contextSize: info.contextSize,
      parallel: info.parallel,
      threads,
      historyTokens: cold.map((c) => c.promptTokens),
      coldMs: cold.map((c) => +c.wallMs.toFixed(1)),
      switchOverHot: { ...stat(switchRatios), goal: 1.2, switchMs: ms(switched), hotMs: ms(hot), engineSwitchMs: engineMs(switched), engineHotMs: engineMs(hot), switchCached: median(switched.map((s) => s.cachedTokens)), pairs: switchRatios.length },
      restartOverReread: {
        ...stat(restoreRatios),
        goal: 0.2,
        restoredMs: ms(restored),
        rereadMs: ms(reread),
        engineRestoredMs: engineMs(restored),
        engineRereadMs: engineMs(reread),
        restoredCached: median(restored.map((s) => s.cachedTokens)),
        rereadCached: median(reread.map((s) => s.cachedTokens)),
        restarts: restoreRatios.length,
      },
      sessionBytes: fs.existsSync(path.join(paths.sessions, `${A}.kv`)) ? fs.statSync(path.join(paths.sessions, `${A}.kv`)).size : 0,
    };
    if (JSON_OUT) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      log(`switch ÷ hot: ${result.switchOverHot.median} [${result.switchOverHot.interval.join(', ')}] (goal ≤ 1.2): ${result.switchOverHot.switchMs} ms against ${result.switchOverHot.hotMs} ms`);
      log(`restart ÷ re-read: ${result.restartOverReread.median} [${result.restartOverReread.interval.join(', ')}] (goal ≤ 0.2): ${result.restartOverReread.restoredMs} ms against ${result.restartOverReread.rereadMs} ms`);
    }
  } finally {
    await app.close().catch(() => undefined);
    await engine.close().catch(() => undefined);
    releaseDir({ remove: true });
  }
}

main().catch((e) => {
  log(`bench:threads failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
