/**
 * llama-server's LoRA adapters on the API server: a request's `lora: [{id, scale}]` (chat completions,
 * completions, infill), `GET /lora-adapters` and `POST /lora-adapters`. An adapter's id is its index
 * in the model's load settings' `loraAdapters` (main/params/adapters.ts), as llama-server numbers its
 * --lora list. A request's `lora` becomes the engine's `loraAdapters` request field naming every
 * adapter the model was loaded with: those listed at their scale, the others at 0 (llama-server's
 * meaning: an adapter left out is off for that request). Without `lora` the load's scales apply.
 * Global scales would change the model's load settings, which the app owns (its settings page, saved
 * per model, read at each load): `POST /lora-adapters` answers 501 saying so.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AdapterEntry, MAX_ADAPTERS } from '../params';
import { ApiError } from './errors';
import { parseBody } from './http';
import type { RouteDeps } from './server';

/** One adapter's scale for a request, by id (llama-server's shape; the scale bounded as a load's). */
const LoraScale = z.object({ id: z.number().int().min(0), scale: AdapterEntry.shape.scale });

/** A request body's `lora` field: the request's own adapter scales. */
export const LoraField = z.array(LoraScale).max(MAX_ADAPTERS);
export type LoraField = z.infer<typeof LoraField>;

/**
 * The engine's `loraAdapters` for a request's `lora` on the model `model` loaded with `loaded` (empty
 * when `lora` is absent: the load's scales apply). An id the model has no adapter for is a 400 naming it.
 */
export function loraAdaptersOf(lora: LoraField | undefined, loaded: readonly AdapterEntry[], model: string): { loraAdapters?: AdapterEntry[] } {
  if (lora === undefined) return {};
  const scales = loaded.map(() => 0);
  lora.forEach((l, i) => {
    if (l.id >= loaded.length) {
      const has = loaded.length ? `it was loaded with ${loaded.length} (ids 0 to ${loaded.length - 1}; GET /lora-adapters lists them)` : 'it was loaded with none (add them in its load settings, Adapters)';
      throw new ApiError(400, 'invalid_request_error', `lora.${i}.id: ${l.id} is not a LoRA adapter of ${model}: ${has}`, `lora.${i}.id`);
    }
    scales[l.id] = l.scale;
  });
  return loaded.length ? { loraAdapters: loaded.map((a, i) => ({ path: a.path, scale: scales[i] })) } : {};
}

/** GET /lora-adapters' query: the model (none: as a request naming none, resolve's rules). */
const LoraQuery = z.object({ model: z.string().max(4096).optional() }).passthrough();

export function registerLora(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/lora-adapters', async (req) => {
    const q = parseBody(LoraQuery, req.query ?? {});
    const adapters = await deps.models.loraAdapters(q.model);
    return adapters.map((a, id) => ({ id, path: a.path, scale: a.scale }));
  });
  app.post('/lora-adapters', async () => {
    throw new ApiError(
      501,
      'not_supported',
      'Hearth does not set global LoRA scales: a model\'s adapters and their scales are its load settings (Models → the model\'s settings → Adapters, or hearth run --lora FILE:SCALE). Set one request\'s scales with its "lora" field, [{"id": 0, "scale": 0.5}] (GET /lora-adapters lists the ids).',
      'lora',
    );
  });
}
