/**
 * The engine's samplers as request body fields, under llama-server's names (snake_case of the
 * sampling family's keys: top_k, min_p, dry_multiplier, …), derived from main/params/sampling.ts so
 * a sampler added there is accepted here too. Shared by the OpenAI, Anthropic and Ollama dialects.
 */
import { z } from 'zod';
import { LOGIT_BIAS_MAX, SAMPLING_FIELDS, type Sampling, type SamplingKey } from '../params';

/** `topK` → `top_k`. */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Sampling keys taken by llama-server's name as they are (logit bias has its own shapes: LogitBias below). */
const SHARED_KEYS = (Object.keys(SAMPLING_FIELDS) as SamplingKey[]).filter((k) => k !== 'logitBias');

/** body field → engine sampling key */
export const SAMPLER_BODY_NAMES: Readonly<Record<string, SamplingKey>> = Object.fromEntries(SHARED_KEYS.map((k) => [snakeCase(k), k]));

const Bias = z.number().min(-LOGIT_BIAS_MAX).max(LOGIT_BIAS_MAX);
const TokenId = z.number().int().min(0);

/**
 * `logit_bias` in the two shapes clients send: OpenAI's `{"token id": bias}` and llama-server's
 * `[[token id, bias], …]` (a bias of false bans the token there), at most 1024 tokens. Every dialect
 * takes it as an extra field (Anthropic's and Ollama's APIs have none of their own).
 */
export const LogitBias = z
  .union([
    z.record(z.string().regex(/^\d+$/, 'a token id'), Bias),
    z.array(z.tuple([TokenId, z.union([Bias, z.literal(false)])])),
  ])
  .refine((b) => (Array.isArray(b) ? b.length : Object.keys(b).length) <= 1024, 'at most 1024 tokens')
  .nullable()
  .optional();

/** The engine's logit bias list for a body's `logit_bias`. */
export function logitBiasOf(b: z.infer<typeof LogitBias>): { token: number; bias: number }[] | undefined {
  if (!b) return undefined;
  if (Array.isArray(b)) return b.map(([token, bias]) => ({ token, bias: bias === false ? -LOGIT_BIAS_MAX : bias }));
  return Object.entries(b).map(([t, bias]) => ({ token: Number(t), bias }));
}

/** The zod shape of those body fields, each optional, with the engine's bounds. */
export const samplerBodyShape: Record<string, z.ZodTypeAny> = {
  ...Object.fromEntries(SHARED_KEYS.map((k) => [snakeCase(k), (SAMPLING_FIELDS[k].schema as z.ZodTypeAny).optional()])),
  logit_bias: LogitBias,
};

/** The sampling a body asks for by llama-server's names (absent fields: the engine's defaults). */
export function samplingOf(body: Record<string, unknown>): Sampling {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(SAMPLER_BODY_NAMES)) {
    if (body[name] !== undefined && body[name] !== null) out[key] = body[name];
  }
  const bias = logitBiasOf(body.logit_bias as z.infer<typeof LogitBias>);
  if (bias?.length) out.logitBias = bias;
  return out as Sampling;
}

/** A stop field: one string or a list (OpenAI and Ollama), as the engine's list (at most 16, like the chat setting). */
export const StopField = z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional();
export function stopList(stop: z.infer<typeof StopField>): string[] | undefined {
  if (stop === undefined || stop === null) return undefined;
  return (Array.isArray(stop) ? stop : [stop]).filter((s) => s.length > 0);
}
