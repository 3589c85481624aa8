/**
 * What the engine host does for each method: one handler per method of the protocol (methods.ts), in
 * a table whose type requires every method, and `dispatch`, which validates a request's params
 * against its method's schema before its handler sees them. The models themselves are HostModels'
 * (host-models.ts); this file runs the work on them (generation, embeddings, tokens, sessions).
 */
import { loadedModules, NativeAddon } from './addon';
import { abortedError, EngineError } from './protocol';
import { EventOf, isMethod, issuesText, Method, METHODS, ParamsOf, ResultOf } from './methods';
import { HostModels, Loaded } from './host-models';
import { withAvailableRam, hostWithAvailableRam } from './system-memory';
import { stopVerdict, TaskWatchdog } from './watchdog';
import type { Logger } from '../logging';

/** One request as its handler sees it. */
export interface Call<M extends Method> {
  id: number;
  /** aborted when the client cancels the request */
  signal: AbortSignal;
  /** streams an event to the client before the response */
  emit(ev: EventOf<M>): void;
}

export type Handler<M extends Method> = (params: ParamsOf<M>, call: Call<M>) => Promise<ResultOf<M>>;
/** A handler for every method: leaving one out does not compile. */
export type Handlers = { [M in Method]: Handler<M> };

export interface HandlerDeps {
  addon: NativeAddon;
  models: HostModels;
  watchdog: TaskWatchdog;
  logger?: Logger;
}

const testHook = (method: Method) => {
  if (process.env.HEARTH_TEST_HOOKS !== '1') throw new EngineError('invalid_argument', `${method} is a test hook`);
};

export function createHandlers({ addon, models, watchdog, logger }: HandlerDeps): Handlers {
  // test hook (HEARTH_TEST_HOOKS=1): HEARTH_TEST_LOAD_GATE=<dir> gates the first model file this host
  // checks, as `loadGate` does, for a host no test can send requests to (browser mode's)
  const gateDir = process.env.HEARTH_TEST_HOOKS === '1' ? process.env.HEARTH_TEST_LOAD_GATE : undefined;
  if (gateDir) models.gate = { dir: gateDir, identity: false };
  let nextTaskId = 1;
  let generationsStarted = 0;

  /** Runs one task on a model's context; a cancel aborts it there (a generation then ends with what it wrote). */
  async function task<T>(l: Loaded, signal: AbortSignal, run: (taskId: number) => Promise<T>): Promise<T> {
    if (signal.aborted) throw abortedError();
    const taskId = nextTaskId++;
    const onAbort = () => l.ctx.abort(taskId);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await run(taskId);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  function generate(modelId: string, request: object, call: Call<'chat' | 'complete' | 'infill'>): Promise<ResultOf<'chat'>> {
    const l = models.get(modelId);
    return task(l, call.signal, async (taskId) => {
      generationsStarted++;
      // the addon already coalesces streamed text (at most one call per ~100 ms: kEmitInterval in
      // native/src/generation.cpp), so each call is one message
      const { probs: _streamed, ...result } = await l.ctx.generate(JSON.stringify({ ...request, id: taskId }), (ev) => {
        call.emit({ kind: 'piece', content: ev.content ?? '', reasoning: ev.reasoning ?? '', ...(ev.probs ? { probs: ev.probs } : {}) });
      });
      // the pieces carried every token's log-probabilities: the result's copy of them is not sent
      return result;
    });
  }

  return {
    version: async () => ({
      llamaCommit: addon.llamaCommit,
      backends: addon.backends(),
      systemInfo: addon.systemInfo(),
      defaultThreads: addon.defaultThreads(),
      pid: process.pid,
      modules: loadedModules(),
    }),
    devices: async () => withAvailableRam(addon.devices()),
    info: (p) => models.info(p.path),
    load: async (p, call) => {
      const l = await models.load(call.id, p.modelId, p.path, p.params, call.signal);
      return { modelId: l.modelId, metadata: models.metadata(l.model), context: l.ctx.info(), fit: l.fit ?? null };
    },
    unload: (p) => {
      const work = { file: models.fileOf(p.modelId), modelId: p.modelId };
      const done = models.unload(p.modelId);
      // a model whose native work does not end goes with the host
      watchdog.bound(done, () => stopVerdict(work, 'unload', watchdog.bounds));
      return done;
    },
    loaded: async () => models.list().map((l) => ({ modelId: l.modelId, path: l.path, params: l.params, context: l.ctx.info() })),
    chat: (p, call) => generate(p.modelId, p.request, call),
    complete: (p, call) => generate(p.modelId, p.request, call),
    infill: (p, call) => {
      const { prefix, suffix, extra, prompt, ...rest } = p.request;
      return generate(p.modelId, { ...rest, infill: { prefix, suffix, extra: extra ?? [], ...(prompt !== undefined ? { prompt } : {}) } }, call);
    },
    embed: (p, call) => {
      const l = models.get(p.modelId);
      return task(l, call.signal, async (id) => (await l.ctx.embed(p.texts, { id, parseSpecial: p.parseSpecial })).map((v) => Array.from(v)));
    },
    rerank: (p, call) => {
      const l = models.get(p.modelId);
      return task(l, call.signal, (id) => l.ctx.rerank(p.query, p.documents, { id, parseSpecial: p.parseSpecial }));
    },
    tokenize: async (p) => Array.from(models.get(p.modelId).model.tokenize(p.text, { addSpecial: p.addSpecial, parseSpecial: p.parseSpecial })),
    detokenize: async (p) => models.get(p.modelId).model.detokenize(p.tokens),
    applyTemplate: (p) => models.get(p.modelId).model.applyChatTemplate(JSON.stringify(p.request), p.template || undefined),
    previewTemplate: (p) => models.previewTemplate(p.path, p.template, JSON.stringify(p.request)),
    saveSession: (p) => models.get(p.modelId).ctx.saveSession(p.path, { seq: p.seq }),
    restoreSession: (p) => models.get(p.modelId).ctx.restoreSession(p.path, { seq: p.seq }),
    clearSequence: async (p) => {
      await models.get(p.modelId).ctx.clearSequence({ seq: p.seq });
      return null;
    },
    contextInfo: async (p) => models.get(p.modelId).ctx.info(),
    imageTokens: (p) => models.get(p.modelId).model.imageTokens(p.sizes),
    estimate: (p, call) => models.estimate(p.path, p.params, call.signal),
    fit: (p, call) => models.fit(p.path, p.params, { marginMiB: p.marginMiB, autoContext: p.autoContext }, call.signal),
    memory: async (p) => hostWithAvailableRam(models.get(p.modelId).ctx.memoryBreakdown()),
    stats: async () => ({
      ...models.counts,
      generationsStarted,
      ...models.ids(),
      rssBytes: process.memoryUsage.rss(),
      activities: addon.activities(),
      llamaGate: addon.llamaGate(),
      threadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    }),
    crash: async (p) => {
      testHook('crash');
      // what a native abort leaves: a reason on stderr, which the client keeps for its crash log
      process.stderr.write(`hearth test hook: crash (${p.how})\n`);
      logger?.error(`test hook: crashing (${p.how})`);
      if (p.how === 'abort') process.abort();
      process.exit(70);
    },
    block: async (p) => {
      testHook('block');
      const end = Date.now() + p.ms;
      while (Date.now() < end) {
        /* a hung JS thread */
      }
      return null;
    },
    loadGate: async (p) => {
      testHook('loadGate');
      models.gate = { dir: p.dir, identity: p.identity };
      return null;
    },
  };
}

/**
 * Runs one request: an unknown method or params that do not fit its schema are refused with
 * `invalid_argument` (the request is answered, the host goes on); otherwise its handler gets the
 * params as parsed (defaults applied).
 */
export function dispatch(handlers: Handlers, method: string, rawParams: unknown, call: Call<Method>): Promise<unknown> {
  if (!isMethod(method)) return Promise.reject(new EngineError('invalid_argument', `unknown method ${method.slice(0, 100)}`));
  return run(handlers, method, rawParams, call);
}

async function run<M extends Method>(handlers: Handlers, method: M, rawParams: unknown, call: Call<M>): Promise<ResultOf<M>> {
  const parsed = METHODS[method].params.safeParse(rawParams ?? {});
  if (!parsed.success) throw new EngineError('invalid_argument', `${method}: ${issuesText(parsed.error)}`);
  // the map's schema for M parsed it: its output is ParamsOf<M> (TypeScript does not follow a lookup in a union of schemas)
  return handlers[method](parsed.data as ParamsOf<M>, call);
}
