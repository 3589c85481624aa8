/**
 * The engine's samplers as request body fields, under llama-server's names (snake_case of the
 * sampling family's keys: top_k, min_p, dry_multiplier, …), derived from main/params/sampling.ts so
 * a sampler added there is accepted here too. Shared by the OpenAI, Anthropic and Ollama dialects.
 */
import { z } from 'zod';
import { SAMPLING_FIELDS, type Sampling, type SamplingKey } from '../params';

/** `topK` → `top_k`. */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Sampling keys every dialect takes by llama-server's name (logit bias differs per dialect: each maps its own). */
const SHARED_KEYS = (Object.keys(SAMPLING_FIELDS) as SamplingKey[]).filter((k) => k !== 'logitBias');

/** body field → engine sampling key */
export const SAMPLER_BODY_NAMES: Readonly<Record<string, SamplingKey>> = Object.fromEntries(SHARED_KEYS.map((k) => [snakeCase(k), k]));

/** The zod shape of those body fields, each optional, with the engine's bounds. */
export const samplerBodyShape: Record<string, z.ZodTypeAny> = Object.fromEntries(
  SHARED_KEYS.map((k) => [snakeCase(k), (SAMPLING_FIELDS[k].schema as z.ZodTypeAny).optional()]),
);

/** The sampling a body asks for by llama-server's names (absent fields: the engine's defaults). */
export function samplingOf(body: Record<string, unknown>): Sampling {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(SAMPLER_BODY_NAMES)) {
    if (body[name] !== undefined && body[name] !== null) out[key] = body[name];
  }
  return out as Sampling;
}

/** A stop field: one string or a list (OpenAI and Ollama), as the engine's list (at most 16, like the chat setting). */
export const StopField = z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional();
export function stopList(stop: z.infer<typeof StopField>): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  return (Array.isArray(stop) ? stop : [stop]).filter((s) => s.length > 0);
}
