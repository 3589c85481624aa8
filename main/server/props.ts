/**
 * llama-server's GET /props on the API server. With `?model=` (resolve's rules), what Hearth knows of
 * that model while it is loaded, in llama-server's shape: the context a request may fill
 * (`default_generation_settings.n_ctx`: the slots share the cache), the slots, the model's name and
 * file, whether it takes images, and two of the template's caps, asked through the request path
 * (main/engine/template-probes.ts): `supports_preserve_reasoning` (another Hearth, or any client that
 * reads it, then sends earlier turns' reasoning back: main/providers/server-props.ts) and
 * `supports_tools`. Fields Hearth has no answer for are left out.
 *
 * A GET loads nothing unless it says `autoload=true` (or 1), unlike llama-server's router, which
 * loads by default: a model not loaded is a 503 (`not_loaded`, retry after a request to it has loaded
 * it) at once, where waiting on a load would time out a client that allows a few seconds. Hearth's own
 * client reads it as not loaded and asks again with autoload=true, allowing the load as long as a
 * request would (main/providers/server-props.ts). Without `?model=` it answers as llama-server's router does for itself: a placeholder
 * that names no model (llama.cpp's web UI asks that first), `models_autoload` false as said above. Asking
 * is no use of a model: its time-to-live runs on (ApiModels.holdLoaded).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ContextInfo } from '../engine/methods';
import { EngineError } from '../engine/protocol';
import { templateKeepsReasoning, templateRendersTools } from '../engine/template-probes';
import { ApiError } from './errors';
import { note, parseBody } from './http';
import type { RouteDeps } from './server';

/** The query: the model, and whether one not loaded is loaded to answer (llama-server's words: true or 1 is yes, anything else no). */
const PropsQuery = z.object({ model: z.string().max(4096).optional(), autoload: z.string().max(16).optional() }).passthrough();

/** The template's caps of a load, by its metadata (a new object at each load): asked once per load, as the chat asks its model's. */
type Caps = { supports_preserve_reasoning: boolean; supports_tools: boolean };
const capsOfLoad = new WeakMap<object, Caps>();

/** How long a client told a model is not loaded is asked to wait, in seconds. */
const NOT_LOADED_RETRY_S = 10;

export function registerProps(app: FastifyInstance, deps: RouteDeps): void {
  const { models, engine } = deps;
  const build_info = `Hearth ${deps.version}`;
  app.get('/props', async (req) => {
    const q = parseBody(PropsQuery, req.query ?? {});
    // llama-server's router, asked for itself
    if (!q.model) return { role: 'router', models_autoload: false, model_alias: 'hearth', model_path: 'none', default_generation_settings: { params: {}, n_ctx: 0 }, build_info };
    const entry = await models.resolve(q.model);
    note(req, { model: entry.name });
    const autoload = q.autoload === 'true' || q.autoload === '1';
    const lease = autoload ? await models.hold(entry.name, req.apiSignal) : await models.holdLoaded(entry.name);
    if (!lease) {
      throw new ApiError(503, 'not_loaded', `${entry.name} is not loaded: a request to it loads it (or ask with autoload=true to load it for this)`, 'model', NOT_LOADED_RETRY_S);
    }
    const gone = () => new ApiError(503, 'not_loaded', `${entry.name} was unloaded while it was asked about`, 'model', NOT_LOADED_RETRY_S);
    try {
      // all three settled before the lease goes; an engine failure (the model gone, its host restarted)
      // is no answer about the template: a 503, never a no
      const known = capsOfLoad.get(lease.metadata);
      const asked = await Promise.allSettled([
        engine.contextInfo(lease.modelId),
        known ? known.supports_preserve_reasoning : templateKeepsReasoning(engine, lease.modelId),
        known ? known.supports_tools : templateRendersTools(engine, lease.modelId),
      ] as const);
      const failed = asked.find((a) => a.status === 'rejected');
      if (failed) {
        const why = (failed as PromiseRejectedResult).reason;
        throw why instanceof EngineError ? gone() : why;
      }
      if (!engine.isLive(lease.modelId)) throw gone();
      const [context, keepsReasoning, tools] = asked.map((a) => (a as PromiseFulfilledResult<unknown>).value) as [ContextInfo, boolean, boolean];
      const caps = { supports_preserve_reasoning: keepsReasoning, supports_tools: tools };
      capsOfLoad.set(lease.metadata, caps);
      return {
        default_generation_settings: { n_ctx: context.contextSize, params: {} },
        total_slots: context.parallel,
        model_alias: lease.name,
        model_path: lease.path,
        modalities: { vision: lease.metadata.vision, audio: false, video: false },
        chat_template_caps: caps,
        build_info,
        is_sleeping: false,
      };
    } finally {
      lease.release();
    }
  });
}
