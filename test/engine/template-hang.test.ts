/**
 * Native work that hangs does not hang the engine (issue 12, what was left: item 1). llama.cpp's
 * Jinja engine has no step or time limit, so a chat template with nested `range(99999)` loops keeps
 * a load at progress 1, or a reply's prompt render, forever on a native thread, while the host's JS
 * thread still answers the heartbeat. The host's task watchdog (main/engine/watchdog.ts) reads the
 * native activities (native/src/activity.h) and gives up past a bound: the requests concerned get a
 * clear error (or success, for a stop or an unload), the host is restarted, and the model is not
 * loaded again by itself. Real addon, real host, generated models with hostile templates; the bounds
 * are shortened through the test hook (HEARTH_TEST_TASK_BOUNDS), the production ones are TASK_BOUNDS.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import type { NativeActivity } from '../../main/engine/addon';
import { firstProgressMs, judge, SLOW_DISK_BYTES_PER_S, TASK_BOUNDS, taskBounds, TaskWatchdog, TEST_BOUNDS_ENV } from '../../main/engine/watchdog';
import { MAX_CHAT_CHARS } from '../../main/params';
import { writeTestModel } from '../../scripts/make-test-model';
import { chatApp, nextDone } from '../helpers/chat';
import { alive, errorOf, hostStats, makeEngine, tempDir } from '../helpers/engine';
import { inAddon } from '../helpers/addon';
import { HANG_TRIGGER, HOSTILE_RENDER, HOSTILE_TEMPLATE, TINY_BPE, TINY_EMBED, TINY_SPM } from '../helpers/models';

const SMALL = { contextSize: 256, threads: 1 };
/** the shortened bounds: short enough for a quick suite, long enough for an ordinary template on a loaded machine */
const TEMPLATE_MS = 3000;
const STOP_MS = 1500;
/** what a bound may be overrun by on a loaded 2-core machine: the poll, the kill, the restart */
const SLACK_MS = 10_000;

function engineWith(bounds: { templateMs?: number; stallMs?: number; stopMs?: number }): EngineClient {
  return makeEngine({ [TEST_BOUNDS_ENV]: JSON.stringify(bounds) }, undefined, { maxRestarts: 100 });
}

/** Resolves once the host is inside a chat template render (its activity says so). */
async function rendering(engine: EngineClient): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const s = await hostStats(engine);
    if (s.activities.some((a) => a.templateMs !== null)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the host never started rendering the template');
}

async function exited(pid: number): Promise<boolean> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

describe('the verdict', () => {
  const act = (a: Partial<NativeActivity>): NativeActivity => ({ kind: 'work', model: '/m/x.gguf', runningMs: 0, idleMs: 0, templateMs: null, templateGiven: false, ...a });
  const bounds = { templateMs: 1000, stallMs: 5000, stopMs: 1000 };

  it('a template past its deadline, else work without progress past the stall bound; a render inside its deadline is left alone', () => {
    expect(judge([act({ idleMs: 4000 }), act({ templateMs: 900, idleMs: 900 })], bounds)).toBeUndefined();
    expect(judge([act({ idleMs: 5001, kind: 'load' })], bounds)).toMatchObject({ code: 'engine_hung', files: ['/m/x.gguf'] });
    expect(judge([act({ idleMs: 6000 }), act({ model: '/m/t.gguf', templateMs: 1001, idleMs: 1001 })], bounds)).toMatchObject({
      code: 'template_timeout',
      files: ['/m/t.gguf'],
      message: expect.stringMatching(/chat template of "t\.gguf".*Pick another model/),
    });
    // a render judged only by its deadline, even past the stall bound
    expect(judge([act({ templateMs: 900, idleMs: 9000 })], bounds)).toBeUndefined();
  });

  it('a load before its first progress may take as long as reading its file at SLOW_DISK_BYTES_PER_S (MAP_POPULATE), never less than the stall bound', () => {
    const big = 60e9; // a 60 GB model: 3000 s at 20 MB/s
    const sizeOf = (f: string) => (f === '/m/x.gguf' ? big : undefined);
    const allowed = (big / SLOW_DISK_BYTES_PER_S) * 1000;
    expect(firstProgressMs(big, bounds)).toBe(allowed);
    expect(firstProgressMs(1e6, bounds)).toBe(bounds.stallMs);
    expect(firstProgressMs(undefined, bounds)).toBe(bounds.stallMs);
    // no progress yet (idle since its start): judged by the file's size
    const fresh = (ms: number) => act({ kind: 'load', runningMs: ms, idleMs: ms });
    expect(judge([fresh(allowed - 1)], bounds, sizeOf)).toBeUndefined();
    expect(judge([fresh(allowed + 1)], bounds, sizeOf)).toMatchObject({ code: 'engine_hung', files: ['/m/x.gguf'], message: expect.stringContaining('3000 s') });
    // a size not known, a small file: the stall bound
    expect(judge([fresh(bounds.stallMs + 1)], bounds)).toMatchObject({ code: 'engine_hung' });
    expect(judge([fresh(bounds.stallMs + 1)], bounds, () => 1e6)).toMatchObject({ code: 'engine_hung' });
    // once it has progressed, the stall bound again, whatever the size
    expect(judge([act({ kind: 'load', runningMs: 20_000, idleMs: bounds.stallMs + 1 })], bounds, sizeOf)).toMatchObject({ code: 'engine_hung' });
    // other work is never judged by a file's size
    expect(judge([act({ kind: 'context', runningMs: bounds.stallMs + 1, idleMs: bounds.stallMs + 1 })], bounds, sizeOf)).toMatchObject({ code: 'engine_hung' });
  });

  it('a stop bound waits while llama.cpp fits (activity "fit": other work waits for it), and gives its verdict once no fit runs', async () => {
    let activities: NativeActivity[] = [act({ kind: 'fit' })];
    const verdicts: string[] = [];
    const dog = new TaskWatchdog(() => activities, { templateMs: 1000, stallMs: 5000, stopMs: 50 }, (v) => verdicts.push(v.code));
    dog.bound(new Promise(() => {}), () => ({ code: 'engine_hung', message: 'stuck', files: [] }));
    await new Promise((r) => setTimeout(r, 200)); // four bounds long, while a fit runs
    expect(verdicts).toEqual([]);
    activities = [];
    await new Promise((r) => setTimeout(r, 200));
    expect(verdicts).toEqual(['engine_hung']);
  });

  it('the bounds are TASK_BOUNDS unless the test hooks are on', () => {
    const env = { [TEST_BOUNDS_ENV]: '{"templateMs":1500}' };
    expect(taskBounds(env)).toEqual(TASK_BOUNDS);
    expect(taskBounds({ ...env, HEARTH_TEST_HOOKS: '1' })).toEqual({ ...TASK_BOUNDS, templateMs: 1500 });
    expect(() => taskBounds({ HEARTH_TEST_HOOKS: '1', [TEST_BOUNDS_ENV]: '{"templateMs":"soon"}' })).toThrow(/templateMs/);
  });
});

test('work that makes progress is left alone: a generation and an embedding running past a short stall bound, step by step', async () => {
  const STALL_MS = 2000;
  const engine = engineWith({ stallMs: STALL_MS });
  try {
    await engine.load('m', TINY_SPM, SMALL);
    await engine.load('e', TINY_EMBED, { ...SMALL, embeddings: true });
    const pid = engine.pid!;
    const ac = new AbortController();
    const t0 = Date.now();
    const generating = engine.complete('m', { prompt: 'Once upon a time', maxTokens: 1 << 20, ignoreEos: true, overflow: 'shift' }, { signal: ac.signal });
    // several embedding batches meanwhile, each a decode on its own context
    const texts = Array.from({ length: 64 }, (_, i) => `text ${i} ${'word '.repeat(40)}`);
    while (Date.now() - t0 < 2.5 * STALL_MS) await engine.embed('e', texts);
    ac.abort();
    const r = await generating;
    expect(r.stopReason).toBe('aborted');
    expect(r.tokens.length).toBeGreaterThan(10);
    expect(engine.pid).toBe(pid); // never judged hung
    expect((await hostStats(engine)).loaded.sort()).toEqual(['e', 'm']);
  } finally {
    await engine.close();
  }
});

test("a load's checks before llama.cpp reads the file leave it the time reading its file takes: no verdict while a large vocabulary loads", async () => {
  // the addon's own activities, polled through a load of the 128k-token model (llama.cpp builds its
  // vocabulary before its first progress) and judged as the host judges them with a short stall bound:
  // the header checks (weight_types.h) stamped progress, which ended the first progress's allowance
  // (the file read at SLOW_DISK_BYTES_PER_S) before llama.cpp had read anything
  const bounds = { ...TASK_BOUNDS, stallMs: 150 };
  const seen = await inAddon<{ activities: NativeActivity[]; progressed: boolean }>(
    `const activities = [];
     let progressed = false;
     const poll = setInterval(() => { if (!progressed) activities.push(...addon.activities().filter((a) => a.kind === 'load')); }, 5);
     const m = await addon.loadModel(input.model, { gpuLayers: 0 }, () => { progressed = true; }).promise;
     clearInterval(poll);
     await m.dispose();
     return { activities, progressed };`,
    { model: TINY_BPE },
  );
  expect(seen.progressed).toBe(true);
  expect(seen.activities.length).toBeGreaterThan(10); // the load was watched before its first progress
  const size = fs.statSync(TINY_BPE).size;
  expect(firstProgressMs(size, bounds)).toBeGreaterThan(2 * bounds.stallMs); // the allowance is the file's, not the stall bound
  const stalled = seen.activities.filter((a) => judge([a], bounds, () => size) !== undefined).map((a) => `idle ${a.idleMs} ms of ${a.runningMs}`);
  expect(stalled).toEqual([]);
});

test('a long ordinary conversation: its prompt is rendered and tokenized, and only the render counts against the template bound; a longer one is refused clearly', async () => {
  // a short template bound: tokenizing this prompt takes longer than that (before the fix the timer
  // also ran while the whole prompt was tokenized, so this was template_timeout and the file refused)
  const engine = engineWith({ templateMs: 300 });
  try {
    await engine.load('m', TINY_SPM, SMALL);
    const pid = engine.pid!;
    const line = 'The quick brown fox jumps over the lazy dog, again and again. ';
    const each = Math.floor(MAX_CHAT_CHARS / 4);
    const content = line.repeat(Math.ceil(each / line.length)).slice(0, each);
    const messages = (['user', 'assistant', 'user', 'assistant'] as const).map((role) => ({ role, content }));
    const r = await engine.applyTemplate('m', { messages });
    expect(r.prompt.length).toBeGreaterThan(MAX_CHAT_CHARS);
    expect(r.tokens).toBeGreaterThan(MAX_CHAT_CHARS / 10);
    expect(engine.pid).toBe(pid); // never judged hung: the host did not restart
    expect(engine.isLoaded('m')).toBe(true);
    // one character more than a request may carry: refused before the engine renders anything
    const over = await errorOf(engine.chat('m', { messages: [...messages, { role: 'user', content: 'x' }], maxTokens: 1 }));
    expect(over.code).toBe('invalid_argument');
    expect(over.message).toMatch(new RegExp(`conversation has ${MAX_CHAT_CHARS + 1} characters; one request may carry at most ${MAX_CHAT_CHARS}`));
    expect((await engine.complete('m', { prompt: 'Hi', maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
    expect(engine.pid).toBe(pid);
  } finally {
    await engine.close();
  }
});

describe('a template that never ends', () => {
  let dir: string;
  beforeAll(() => {
    dir = tempDir();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('at load: the load fails within the bound with template_timeout naming the model, the host restarts, a normal model then loads and generates; the file is refused at once afterwards', async () => {
    const engine = engineWith({ templateMs: TEMPLATE_MS });
    try {
      await engine.start();
      const pid = engine.pid!;
      const lost: [string, string][] = [];
      engine.onModelLost((id, e) => lost.push([id, e.code]));
      const progress: number[] = [];
      const t0 = Date.now();
      const err = await errorOf(engine.load('bad', HOSTILE_TEMPLATE, SMALL, (p) => progress.push(p)));
      const took = Date.now() - t0;
      expect(err.code).toBe('template_timeout');
      expect(err.message).toMatch(/chat template of "tiny-hostile-template\.gguf" ran for more than 3 s/);
      expect(err.message).toMatch(/Pick another model/);
      expect(progress[progress.length - 1]).toBe(1); // the weights loaded; the template check is what hung
      expect(took).toBeLessThan(TEMPLATE_MS + SLACK_MS);
      expect(await exited(pid)).toBe(true);
      expect(lost).toEqual([['bad', 'template_timeout']]);
      expect(engine.isLoaded('bad')).toBe(false);

      await engine.load('good', TINY_SPM, SMALL);
      expect(engine.pid).not.toBe(pid);
      const r = await engine.complete('good', { prompt: 'Hello', maxTokens: 3, ignoreEos: true });
      expect(r.tokens).toHaveLength(3);

      // the same file again: refused at once, nothing reaches the host, the host keeps running
      const before = (await hostStats(engine)).loadsStarted;
      const again = await errorOf(engine.load('bad', HOSTILE_TEMPLATE, SMALL));
      expect(again.code).toBe('template_timeout');
      expect((await hostStats(engine)).loadsStarted).toBe(before);
      // a changed file is another file: a copy of it is tried again (and fails the same way)
      const copy = path.join(dir, 'copy.gguf');
      fs.copyFileSync(HOSTILE_TEMPLATE, copy);
      expect((await errorOf(engine.load('bad', copy, SMALL))).code).toBe('template_timeout');
    } finally {
      await engine.close();
    }
  });

  test("the Chat template setting that never ends (its preview, a load with it) fails naming the setting; the file itself is not refused", async () => {
    const engine = engineWith({ templateMs: TEMPLATE_MS });
    try {
      const hang = (await engine.info(HOSTILE_TEMPLATE)).chatTemplate!;
      const hi = { messages: [{ role: 'user' as const, content: 'Hi' }] };
      for (const attempt of [() => engine.previewTemplate(TINY_SPM, hang, hi), () => engine.load('spm', TINY_SPM, { ...SMALL, chatTemplate: hang })]) {
        const err = await errorOf(attempt());
        expect(err.code).toBe('template_timeout');
        expect(err.message).toMatch(/the Chat template setting of "tiny-spm\.gguf" ran for more than 3 s .*Change the setting/);
        // the file's own template is another: its preview and a load without the setting go on
        expect((await engine.previewTemplate(TINY_SPM, undefined, hi)).prompt).toContain('Hi');
        await engine.load('spm', TINY_SPM, SMALL);
        expect((await engine.chat('spm', { ...hi, maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
        await engine.unload('spm');
      }
      // the preview of a file whose own template hung is refused at once, as its load is
      expect((await errorOf(engine.load('bad', HOSTILE_TEMPLATE, SMALL))).code).toBe('template_timeout');
      const before = (await hostStats(engine)).loadsStarted;
      const refused = await errorOf(engine.previewTemplate(HOSTILE_TEMPLATE, undefined, hi));
      expect(refused.code).toBe('template_timeout');
      expect(refused.message).toMatch(/Pick another model/);
      expect((await hostStats(engine)).loadsStarted).toBe(before);
    } finally {
      await engine.close();
    }
  });

  test("a load that crashes the engine (the file's template's macro recurses without end) is refused after the second crash; other settings and models load", async () => {
    const engine = engineWith({ templateMs: TEMPLATE_MS });
    try {
      const file = path.join(dir, 'recursing.gguf');
      await writeTestModel({ out: file, size: 'tiny', vocab: 'llama-spm', seed: 1, chatTemplate: '{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}' });
      for (let i = 0; i < 2; i++) {
        const e = await errorOf(engine.load('rec', file, SMALL));
        expect(e.code).toBe('engine_crashed');
      }
      const before = (await hostStats(engine)).loadsStarted;
      const refused = await errorOf(engine.load('rec', file, SMALL));
      expect(refused.code).toBe('engine_crashed');
      expect(refused.message).toMatch(/^the engine crashed twice loading "recursing\.gguf" with these settings \(.*\), so Hearth will not load it so again: change its load settings/);
      expect((await hostStats(engine)).loadsStarted).toBe(before);
      // other settings are another load: with a chat template of its own setting it loads and chats
      await engine.load('rec', file, { ...SMALL, chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}' });
      expect((await engine.chat('rec', { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
      await engine.load('good', TINY_SPM, SMALL);
      expect((await engine.complete('good', { prompt: 'Hi', maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
    } finally {
      await engine.close();
    }
  });

  test('at render: a chat fails within the bound with template_timeout, the model is dropped, not reloaded; the metadata read never runs the template', async () => {
    const engine = engineWith({ templateMs: TEMPLATE_MS });
    try {
      await engine.load('r', HOSTILE_RENDER, SMALL);
      // the template renders ordinary chats
      const ok = await engine.chat('r', { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 2, ignoreEos: true });
      expect(ok.tokens).toHaveLength(2);
      const pid = engine.pid!;
      const err = await errorOf(engine.chat('r', { messages: [{ role: 'user', content: HANG_TRIGGER }], maxTokens: 2 }));
      expect(err.code).toBe('template_timeout');
      expect(err.message).toMatch(/"tiny-hostile-render\.gguf"/);
      expect(await exited(pid)).toBe(true);
      expect((await errorOf(engine.chat('r', { messages: [{ role: 'user', content: 'Hi' }], maxTokens: 2 }))).code).toBe('not_loaded');
      // metadata only (no weights): the template is not run, whatever it does
      expect((await engine.info(HOSTILE_TEMPLATE)).chatTemplate).toMatch(/range\(99999\)/);
    } finally {
      await engine.close();
    }
  });

  test('a stop during a hung render returns within the stop bound as aborted; the host restarts without the model', async () => {
    const engine = engineWith({ templateMs: 600_000, stopMs: STOP_MS });
    try {
      await engine.load('r', HOSTILE_RENDER, SMALL);
      const pid = engine.pid!;
      const ac = new AbortController();
      const chat = engine.chat('r', { messages: [{ role: 'user', content: HANG_TRIGGER }], maxTokens: 2 }, { signal: ac.signal });
      await rendering(engine);
      const t0 = Date.now();
      ac.abort();
      const err = await errorOf(chat);
      expect(err.code).toBe('aborted');
      expect(Date.now() - t0).toBeLessThan(STOP_MS + SLACK_MS);
      expect(await exited(pid)).toBe(true);
      expect(engine.isLoaded('r')).toBe(false);
      await engine.load('good', TINY_SPM, SMALL);
      expect((await engine.complete('good', { prompt: 'Hi', maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
    } finally {
      await engine.close();
    }
  });

  test('an unload during the hung load returns within the stop bound; the load ends as aborted', async () => {
    const engine = engineWith({ templateMs: 600_000, stopMs: STOP_MS });
    try {
      await engine.start();
      const pid = engine.pid!;
      const load = engine.load('u', HOSTILE_TEMPLATE, SMALL);
      load.catch(() => undefined); // read below, once the unload returned
      await rendering(engine);
      const t0 = Date.now();
      await engine.unload('u');
      expect(Date.now() - t0).toBeLessThan(STOP_MS + SLACK_MS);
      expect((await errorOf(load)).code).toBe('aborted');
      expect(await exited(pid)).toBe(true);
      await engine.load('good', TINY_SPM, SMALL);
      expect((await hostStats(engine)).loaded).toEqual(['good']);
    } finally {
      await engine.close();
    }
  });
});

describe('through the chat service', () => {
  test('Stop on a reply whose prompt render hangs: stop returns, the reply is saved as stopped, the model state says why it went', async () => {
    const { app, engine, modelPath: model, call, close } = chatApp({ model: HOSTILE_RENDER, modelAs: 'hostile.gguf', engine: engineWith({ templateMs: 600_000, stopMs: STOP_MS }) });
    try {
      await call('models.load', { path: model });
      const t = await call('threads.create', {});
      const done = nextDone(app, t.id);
      await call('chat.send', { threadId: t.id, content: HANG_TRIGGER });
      await rendering(engine);
      const t0 = Date.now();
      await call('chat.stop', { threadId: t.id });
      expect(Date.now() - t0).toBeLessThan(STOP_MS + SLACK_MS);
      const reply = await done;
      expect(reply.status).toBe('aborted');
      const state = await call('models.state');
      expect(state.loaded).toBeNull();
      expect(state.error).toMatch(/^engine_hung: "hostile\.gguf" did not stop within 1\.5 s/);
    } finally {
      await close();
    }
  });

  test('a reply whose prompt render hangs ends as an error naming the model; the reply to the next message fails at once with the same words', async () => {
    const { app, modelPath: model, call, close } = chatApp({ model: HOSTILE_RENDER, modelAs: 'hostile.gguf', engine: engineWith({ templateMs: TEMPLATE_MS }) });
    try {
      await call('models.load', { path: model });
      const t = await call('threads.create', { modelPath: model });
      const done = nextDone(app, t.id);
      await call('chat.send', { threadId: t.id, content: HANG_TRIGGER });
      const reply = await done;
      expect(reply.status).toBe('error');
      expect(reply.error).toMatch(/^template_timeout: the chat template of "hostile\.gguf"/);
      const state = await call('models.state');
      expect(state.loaded).toBeNull();
      expect(state.error).toMatch(/^template_timeout: /);
      await app.chat.idle();
      // the thread names its model, so a send would load it again: the file is refused before the engine sees it
      // (the message is kept; its reply ends at once as that error)
      const next = nextDone(app, t.id);
      await call('chat.send', { threadId: t.id, content: 'hello' });
      const again = await next;
      expect(again.status).toBe('error');
      expect(again.error).toMatch(/^template_timeout: .*Pick another model/);
    } finally {
      await close();
    }
  });
});
