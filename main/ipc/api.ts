/**
 * The local API server's settings and what the app says about it (api.* channels, the api.changed
 * event): defined once here, read by the store (the saved settings), the server (main/server/) and
 * the settings page. zod only: the renderer imports this file too.
 */
import { z } from 'zod';

/** The port the server listens on unless told otherwise (Jan's default: its users' tools already point there). */
export const API_DEFAULT_PORT = 1337;

/** A path prefix: empty, or `/a/b` (no trailing slash, no dot segments, URL-safe characters). */
export const ApiPrefix = z
  .string()
  .max(100)
  .regex(/^(\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*$/, 'a path prefix is empty or like /name (segments of letters, digits and ._~-, no trailing slash)')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'a path prefix has no . or .. segments');

/** A host name or address to bind or to accept in Host headers (no scheme, no port). */
export const ApiHostName = z
  .string()
  .trim()
  .min(1)
  .max(253)
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|[A-Za-z0-9.-]+)$/, 'a host name or an IP address, without scheme or port');

/** An origin a browser page may call the API from: `scheme://host[:port]`, or `*` for any. */
export const ApiOrigin = z
  .string()
  .trim()
  .max(300)
  .refine((o) => o === '*' || /^https?:\/\/[^/\s?#]+$/.test(o), 'an origin is like http://localhost:3000 (scheme, host and port; no path), or *');

/** An API key: what `Authorization: Bearer` (or `x-api-key`) must carry. */
export const ApiKey = z.string().min(16).max(256).regex(/^[\x21-\x7e]+$/, 'an API key is printable ASCII without spaces');

/** The server's settings (saved as the `apiServer` setting; `hearth serve --api` overrides host and port for its run). */
export const ApiServerSettings = z
  .object({
    /** started with the app (the settings page's toggle; off until the user turns it on) */
    enabled: z.boolean().default(false),
    host: ApiHostName.default('127.0.0.1'),
    /** 0 picks a free port (tests) */
    port: z.number().int().min(0).max(65535).default(API_DEFAULT_PORT),
    prefix: ApiPrefix.default(''),
    /** null: none (allowed on loopback only; a bind beyond loopback generates one) */
    apiKey: ApiKey.nullable().default(null),
    /** Host header names accepted beside the loopback names and the bound host */
    allowedHosts: z.array(ApiHostName).max(32).default([]),
    /** origins whose pages may call the API (CORS); none by default */
    corsOrigins: z.array(ApiOrigin).max(32).default([]),
    /** minutes an API-loaded model stays loaded without requests (0: until the server stops) */
    modelTtlMinutes: z.number().int().min(0).max(7 * 24 * 60).default(10),
    /** requests one model runs at once (its KV cache slots) */
    parallel: z.number().int().min(1).max(64).default(4),
    /** requests per model beyond its slots: waiting for its load or a slot, or holding it without one (a token count); one more gets 429 with Retry-After */
    queueLimit: z.number().int().min(0).max(4096).default(64),
    /** the largest request body, in MiB */
    bodyLimitMiB: z.number().int().min(1).max(256).default(32),
  })
  .strict();
export type ApiServerSettings = z.output<typeof ApiServerSettings>;
export type ApiServerSettingsInput = z.input<typeof ApiServerSettings>;

/**
 * Why settings need an API key (null: they do not): a bind beyond this machine (`loopback`: whether the
 * host is this machine's, as main and the page each tell), or the CORS origin `*`, with which any web
 * page the user opens could call the API and read its answers.
 */
export function keyNeeded(s: Pick<ApiServerSettings, 'host' | 'corsOrigins'>, loopback: boolean): string | null {
  if (!loopback) return `binding ${s.host} (beyond this machine)`;
  if (s.corsOrigins.includes('*')) return 'the CORS origin * (any web page)';
  return null;
}

/** The API dialects one port speaks. */
export const API_DIALECTS = ['openai', 'anthropic', 'ollama', 'hearth'] as const;
export type ApiDialect = (typeof API_DIALECTS)[number];

/** One answered request, as the settings page lists it (the last ones, newest first). */
export const ApiRequestLogDTO = z.object({
  /** ms since the epoch, when it arrived */
  at: z.number(),
  method: z.string(),
  /** the route's path without its query (never a key: keys travel in headers) */
  path: z.string(),
  status: z.number(),
  /** from arrival to the last byte, ms */
  ms: z.number(),
  /** the model named, when one was */
  model: z.string().nullable(),
  /** tokens generated, for a generation */
  tokens: z.number().nullable(),
  /** the error's message for a status of 400 or more */
  error: z.string().nullable(),
});
export type ApiRequestLogDTO = z.infer<typeof ApiRequestLogDTO>;

export const API_PHASES = ['stopped', 'starting', 'running', 'failed'] as const;

export const ApiStatusDTO = z.object({
  phase: z.enum(API_PHASES),
  /** the base URL clients use (with the prefix; OpenAI clients add /v1), null unless running */
  url: z.string().nullable(),
  /** why it failed to start (a port in use, a bad host) */
  error: z.string().nullable(),
  settings: ApiServerSettings,
  /** models the API loaded, with their idle deadline (ms since the epoch; null while a request runs or with no time-to-live) */
  models: z.array(z.object({ name: z.string(), path: z.string(), busy: z.number(), queued: z.number(), unloadAt: z.number().nullable() })),
  requests: z.array(ApiRequestLogDTO),
});
export type ApiStatusDTO = z.infer<typeof ApiStatusDTO>;
