/**
 * ApiModels on the real engine: a model named by a request loads just in time with its saved load
 * settings and the API's slots, stays while requests run, and unloads after its idle time-to-live
 * (the timer is a parameter here, so the test fires it); a request during the countdown cancels it.
 */
import type { LoadParamsInput } from '../../main/engine/protocol';
import { ApiServerSettings } from '../../main/ipc/api';
import { silentLogger } from '../../main/logging';
import { ApiModels, apiModelId, type Timers } from '../../main/server/models';
import fs from 'fs';
import path from 'path';
import type { Logger } from '../../main/logging';
import { closingAfter, collectingLogger, makeEngine, tempDir } from '../helpers/engine';
import { TINY_EMBED, TINY_SPM } from '../helpers/models';

class ManualTimers implements Timers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  private n = 0;
  set(fn: () => void, ms: number) {
    this.pending.set(++this.n, { fn, ms });
    return this.n;
  }
  clear(h: unknown) {
    this.pending.delete(h as number);
  }
  fireAll() {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const t of all) t.fn();
  }
}

/** ApiModels over one library model (`file`, named `name`) on `engine`, with the API settings `settings()` gives. */
function apiModels(
  engine: ReturnType<typeof makeEngine>,
  settings: () => ApiServerSettings,
  o: { file?: string; name?: string; contextSize?: number; loadSettings?: () => LoadParamsInput; timers?: Timers; logger?: Logger } = {},
) {
  const { file = TINY_SPM, name = 'tiny', contextSize = 1024, timers = new ManualTimers(), logger = silentLogger } = o;
  return new ApiModels({
    engine,
    entries: async () => [{ path: file, name, fileSize: 1, origin: 'folder', source: null, missing: false, pooling: 'none', role: 'model' }],
    chatModel: () => null,
    loadSettings: o.loadSettings ?? (() => ({ contextSize })),
    guardrail: () => ({ mode: 'off', marginMiB: 0 }),
    settings,
    logger,
    timers,
  });
}

test('just-in-time load with saved settings, then unload after the time-to-live', async () => {
  const engine = makeEngine();
  const timers = new ManualTimers();
  const settings = ApiServerSettings.parse({ parallel: 3, modelTtlMinutes: 7 });
  const models = apiModels(engine, () => settings, { timers });
  await closingAfter([models, engine], async () => {
    expect((await models.list())[0].loaded).toBe(false);
    const lease = await models.acquire('tiny', 'k');
    expect(engine.isLoaded(lease.modelId)).toBe(true);
    const info = await engine.contextInfo(lease.modelId);
    expect(info.parallel).toBe(3);
    expect(info.contextSize).toBe(1024);
    expect(timers.pending.size).toBe(0); // no countdown while a request runs
    lease.release();
    expect([...timers.pending.values()].map((t) => t.ms)).toEqual([7 * 60_000]);
    expect(models.status()[0].unloadAt).not.toBeNull();
    // a request during the countdown cancels it; its end starts a new one
    const again = await models.acquire('tiny.gguf', 'k');
    expect(timers.pending.size).toBe(0);
    again.release();
    expect(timers.pending.size).toBe(1);
    timers.fireAll();
    await new Promise((r) => setTimeout(r, 200));
    expect(engine.isLoaded(lease.modelId)).toBe(false);
    expect(models.status()).toEqual([]);
    expect((await models.list())[0].loaded).toBe(false);
    // and loads again when asked
    const third = await models.acquire('tiny', 'k');
    expect(engine.isLoaded(third.modelId)).toBe(true);
    third.release();
  });
}, 60_000);

test('a changed number of slots applies once the model is idle: it loads again with as many sequences, and a crash reload keeps the pool\'s', async () => {
  const engine = makeEngine();
  let settings = ApiServerSettings.parse({ parallel: 3, queueLimit: 1 });
  const models = apiModels(engine, () => settings);
  await closingAfter([models, engine], async () => {
    const first = await models.acquire('tiny', 'a');
    expect((await engine.contextInfo(first.modelId)).parallel).toBe(3);
    // while a request holds a slot the model keeps its three; a new queue limit applies at once
    settings = ApiServerSettings.parse({ parallel: 1, queueLimit: 0 });
    const second = await models.acquire('tiny', 'b');
    expect(second.slot.id).toBe(1);
    expect((await engine.contextInfo(first.modelId)).parallel).toBe(3);
    const third = await models.acquire('tiny', 'c');
    // refused at once, not queued (a queued one would wait for a slot: the race says which)
    const fourthWaits = models.acquire('tiny', 'd').then(
      () => 'granted',
      (e: { status?: number }) => e.status,
    );
    expect(await Promise.race([fourthWaits, new Promise((r) => setTimeout(() => r('queued'), 2000))])).toBe(429);
    for (const l of [first, second, third]) l.release();
    // idle: the next request loads it with one sequence, on slot 0
    const fourth = await models.acquire('tiny', 'e');
    expect(fourth.slot.id).toBe(0);
    expect((await engine.contextInfo(fourth.modelId)).parallel).toBe(1);
    const r = await engine.complete(fourth.modelId, { prompt: 'hello', maxTokens: 2, seq: fourth.slot.id });
    expect(r.tokens.length).toBeGreaterThan(0);
    fourth.release();
    // the engine dropping the model (a host restart) loads it again with the pool's one sequence,
    // whatever the settings say meanwhile
    settings = ApiServerSettings.parse({ parallel: 2 });
    const held = await models.acquire('tiny', 'f');
    settings = ApiServerSettings.parse({ parallel: 4 });
    await engine.unload(held.modelId);
    const fifth = await models.acquire('tiny', 'g');
    expect(fifth.slot.id).toBe(1);
    expect((await engine.contextInfo(fifth.modelId)).parallel).toBe(2);
    fifth.release();
    held.release();
  });
}, 60_000);

test("a model's changed load settings apply once it is idle: it loads again with them (the same settings in another key order, or another parallel, do not reload it)", async () => {
  const engine = makeEngine();
  const log = collectingLogger();
  let saved: LoadParamsInput = { contextSize: 1024, threads: 1 };
  const models = apiModels(engine, () => ApiServerSettings.parse({ parallel: 2 }), { loadSettings: () => saved, logger: log });
  await closingAfter([models, engine], async () => {
    const first = await models.acquire('tiny', 'a');
    expect(await engine.contextInfo(first.modelId)).toMatchObject({ contextSize: 1024, threads: 1 });
    // changed while a request runs: the running copy stays, and so does a second request's
    saved = { contextSize: 512, threads: 1 };
    const second = await models.acquire('tiny', 'b');
    expect((await engine.contextInfo(second.modelId)).contextSize).toBe(1024);
    second.release();
    first.release();
    // idle: the next request loads it with them, on a fresh pool
    const third = await models.acquire('tiny', 'c');
    expect((await engine.contextInfo(third.modelId)).contextSize).toBe(512);
    expect(third.slot.id).toBe(0);
    third.release();
    expect(log.lines.filter((l) => l.includes('reloading tiny with its changed load settings'))).toHaveLength(1);
    // the same settings, read back in another order, or with another number of sequences (the API's slots
    // are its own): no reload
    saved = { threads: 1, contextSize: 512, parallel: 7 };
    const fourth = await models.acquire('tiny', 'c');
    fourth.release();
    expect(log.lines.filter((l) => l.includes('reloading'))).toHaveLength(1);
    expect((await engine.contextInfo(fourth.modelId)).parallel).toBe(2);
  });
}, 60_000);

test('an embedding model is served with ubatch = batch: its saved micro-batch alone changes nothing, its batch reloads it', async () => {
  const engine = makeEngine();
  const log = collectingLogger();
  let saved: LoadParamsInput = { contextSize: 1024, batchSize: 512, ubatchSize: 128 };
  const models = apiModels(engine, () => ApiServerSettings.parse({ parallel: 2 }), { file: TINY_EMBED, name: 'embed', loadSettings: () => saved, logger: log });
  await closingAfter([models, engine], async () => {
    const first = await models.hold('embed');
    expect(await engine.contextInfo(first.modelId)).toMatchObject({ batchSize: 512, ubatchSize: 512, embeddings: true });
    first.release();
    saved = { contextSize: 1024, batchSize: 512 };
    (await models.hold('embed')).release();
    expect(log.lines.filter((l) => l.includes('reloading'))).toEqual([]);
    saved = { contextSize: 1024, batchSize: 256 };
    const third = await models.hold('embed');
    expect(await engine.contextInfo(third.modelId)).toMatchObject({ batchSize: 256, ubatchSize: 256 });
    third.release();
    expect(log.lines.filter((l) => l.includes('reloading'))).toHaveLength(1);
  });
}, 60_000);

test('a reload that fails leaves nothing loaded: the old model went first, and the next request starts over', async () => {
  const engine = makeEngine();
  const dir = tempDir('hearth-api-reload-');
  const file = path.join(dir, 'moving.gguf');
  fs.copyFileSync(TINY_SPM, file);
  let settings = ApiServerSettings.parse({ parallel: 2 });
  const models = apiModels(engine, () => settings, { file, name: 'moving', contextSize: 512 });
  try {
    const first = await models.acquire('moving', 'a');
    first.release();
    expect(engine.isLoaded(first.modelId)).toBe(true);
    // the slots change and the file goes away: the reload fails, and the old model is not left behind
    settings = ApiServerSettings.parse({ parallel: 1 });
    fs.rmSync(file);
    await expect(models.acquire('moving', 'b')).rejects.toThrow();
    expect(engine.isLoaded(first.modelId)).toBe(false);
    expect(models.status()).toEqual([]);
    // the file back: the next request loads it with the new number of slots
    fs.copyFileSync(TINY_SPM, file);
    const again = await models.acquire('moving', 'c');
    expect((await engine.contextInfo(again.modelId)).parallel).toBe(1);
    again.release();
  } finally {
    await models.close();
    await engine.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test('a request that goes away while its model loads leaves the load to its entry: the time-to-live unloads it, nothing is left behind', async () => {
  const engine = makeEngine();
  const timers = new ManualTimers();
  let settings = ApiServerSettings.parse({ parallel: 2, modelTtlMinutes: 5 });
  const models = apiModels(engine, () => settings, { timers });
  await closingAfter([models, engine], async () => {
    const first = await models.acquire('tiny', 'a');
    first.release();
    // the slots change, and the next request is withdrawn at once: the reload it started goes on
    settings = ApiServerSettings.parse({ parallel: 1, modelTtlMinutes: 5 });
    const gone = new AbortController();
    gone.abort();
    await expect(models.acquire('tiny', 'b', gone.signal)).rejects.toMatchObject({ status: 499 });
    const reloaded = async () => engine.isLoaded(first.modelId) && (await engine.contextInfo(first.modelId).catch(() => null))?.parallel === 1;
    for (let i = 0; i < 100 && !(await reloaded()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await reloaded()).toBe(true);
    // its entry still holds it, counting down
    expect(models.status().map((s) => s.name)).toEqual(['tiny']);
    timers.fireAll();
    for (let i = 0; i < 50 && engine.isLoaded(first.modelId); i++) await new Promise((r) => setTimeout(r, 100));
    expect(engine.isLoaded(first.modelId)).toBe(false);
    expect(models.status()).toEqual([]);
  });
}, 60_000);

/** Waits (up to 10 s) until `pred` holds. */
async function until(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !pred(); i++) await new Promise((r) => setTimeout(r, 100));
}

test('a load nobody waits for any more loads nothing once its entry is gone, and one that fails is logged and forgotten, never unhandled', async () => {
  const real = makeEngine();
  // the real engine, its `info` held open by the test: the load waits there as long as the test says
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const engine = new Proxy(real, {
    get(target, key) {
      if (key === 'info') return async (file: string) => (await held, target.info(file));
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  const timers = new ManualTimers();
  const log = collectingLogger();
  const settings = ApiServerSettings.parse({ modelTtlMinutes: 5 });
  const models = apiModels(engine, () => settings, { timers, logger: log });
  const dir = tempDir('hearth-api-gone-');
  const missing = apiModels(real, () => settings, { file: path.join(dir, 'missing.gguf'), name: 'missing', logger: log });
  try {
    const gone = () => {
      const ac = new AbortController();
      ac.abort();
      return ac.signal;
    };
    // the request goes away while the load waits; its time-to-live runs out meanwhile
    await expect(models.acquire('tiny', 'a', gone())).rejects.toMatchObject({ status: 499 });
    expect(models.status().map((s) => s.name)).toEqual(['tiny']);
    timers.fireAll();
    expect(models.status()).toEqual([]);
    release();
    await until(() => log.lines.some((l) => l.includes('api: loading tiny failed')));
    expect(log.lines.find((l) => l.includes('api: loading tiny failed'))).toMatch(/tiny was unloaded while it loaded/);
    expect(real.isLoaded(apiModelId(TINY_SPM))).toBe(false);
    // a file that is gone, asked for by a request that went away: the failure is logged, the entry forgotten
    await expect(missing.acquire('missing', 'b', gone())).rejects.toMatchObject({ status: 499 });
    await until(() => log.lines.some((l) => l.includes('api: loading missing failed')));
    expect(missing.status()).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await models.close();
    await missing.close();
    await real.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test('queueLimit counts every request on a model beyond its slots: those waiting for its load, and those holding it without a slot (token counts)', async () => {
  const engine = makeEngine();
  const models = apiModels(engine, () => ApiServerSettings.parse({ parallel: 1, queueLimit: 1 }));
  // refused at once, or not (granted, or still waiting after 2 s: the race says which)
  const refused = async (p: Promise<unknown>) => {
    let timer: NodeJS.Timeout | undefined;
    const waiting = new Promise((r) => (timer = setTimeout(() => r('waiting'), 2000)));
    const outcome = await Promise.race([p.then(() => 'granted', (e: { status?: number; retryAfterS?: number }) => [e.status, e.retryAfterS]), waiting]);
    clearTimeout(timer);
    return outcome;
  };
  await closingAfter([models, engine], async () => {
    // while the model loads: the first two wait for the load (one slot, one queue place), the third is refused at once
    const first = models.acquire('tiny', 'a');
    const second = models.hold('tiny');
    expect(await refused(models.acquire('tiny', 'c'))).toEqual([429, 1]);
    expect(await refused(models.hold('tiny'))).toEqual([429, 1]);
    const [a, b] = await Promise.all([first, second]);
    // loaded: a slot runs and a token count holds it; a third of any kind is refused (a question about it too)
    expect(await refused(models.hold('tiny'))).toEqual([429, 1]);
    expect(await refused(models.holdLoaded('tiny'))).toEqual([429, 1]);
    expect(await refused(models.acquire('tiny', 'd'))).toEqual([429, 1]);
    b.release();
    // the count's end makes room for one more, which waits for the slot
    const waiting = models.acquire('tiny', 'e');
    expect(await refused(models.hold('tiny'))).toEqual([429, 1]);
    a.release();
    const e = await waiting;
    expect(e.slot.id).toBe(0);
    const count = await models.hold('tiny');
    count.release();
    const question = await models.holdLoaded('tiny');
    expect(question).not.toBeNull();
    question!.release();
    e.release();
    expect(models.status()[0]).toMatchObject({ busy: 0, queued: 0 });
  });
}, 60_000);
