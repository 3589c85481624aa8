/**
 * llama-server's GET /props for a model the API serves, as a llama-server in router mode answers it for
 * one of its models (`?model=`, resolve's rules; none: the one the API holds, else the chat's): the
 * model is loaded first, as a request would load it, unless `?autoload=false` (then a model not loaded
 * is a 400, as the router says "model is not loaded"). What Hearth knows, in llama-server's shape:
 * the context a request may fill (`default_generation_settings.n_ctx`: the cache is shared by the
 * slots), the slots, the model's name and file, whether it takes images, and two of the template's
 * caps, asked through the request path (main/engine/template-probes.ts): `supports_preserve_reasoning`
 * (another Hearth, or any client that reads it, then sends earlier turns' reasoning back:
 * main/providers/server-props.ts) and `supports_tools`. Fields Hearth has no answer for are left out.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { templateKeepsReasoning, templateRendersTools } from '../engine/template-probes';
import { ApiError } from './errors';
import { note, parseBody } from './http';
import type { RouteDeps } from './server';

/** The query: the model (none: resolve's rules), and whether a model not loaded is loaded to answer (llama-server's values). */
const PropsQuery = z.object({ model: z.string().max(4096).optional(), autoload: z.enum(['true', 'false', '1', '0']).optional() }).passthrough();

export function registerProps(app: FastifyInstance, deps: RouteDeps): void {
  const { models, engine } = deps;
  app.get('/props', async (req) => {
    const q = parseBody(PropsQuery, req.query ?? {});
    const entry = await models.resolve(q.model);
    note(req, { model: entry.name });
    if ((q.autoload === 'false' || q.autoload === '0') && !entry.loaded) {
      throw new ApiError(400, 'invalid_request_error', `${entry.name} is not loaded (autoload=false): leave autoload out to load it, or send a request to it first`, 'model');
    }
    const lease = await models.hold(entry.name, req.apiSignal);
    try {
      const [context, keepsReasoning, tools] = await Promise.all([
        engine.contextInfo(lease.modelId),
        templateKeepsReasoning(engine, lease.modelId),
        templateRendersTools(engine, lease.modelId),
      ]);
      return {
        default_generation_settings: { n_ctx: context.contextSize, params: {} },
        total_slots: context.parallel,
        model_alias: lease.name,
        model_path: lease.path,
        modalities: { vision: lease.metadata.vision, audio: false, video: false },
        chat_template_caps: { supports_preserve_reasoning: keepsReasoning, supports_tools: tools },
        build_info: `Hearth ${deps.version}`,
        is_sleeping: false,
      };
    } finally {
      lease.release();
    }
  });
}
