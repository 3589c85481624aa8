/**
 * What a llama.cpp-family server says of its template (llama-server's GET /props, its
 * `chat_template_caps`): whether the template keeps earlier turns' reasoning when asked to
 * (`supports_preserve_reasoning`: llama.cpp renders the template with it forced on, so it says what the
 * template can do, not the server's --reasoning-preserve; Hearth asks for it per request). A model
 * whose server says so is sent every reply's reasoning, as a local model whose template keeps it
 * (main/chat/steps.ts). The answers (PropsAnswer): `keeps`; `drops` — the template does not, or the
 * server is not llama-server (no /props: a 404, a body that is not llama-server's, one past
 * PROPS_MAX_BYTES); `no-answer` — a 5xx (a one-model server still loading answers 503), a refused key,
 * a time-out the server reports or a rate limit (401, 403, 408, 429), a redirect (not followed: the key
 * would go with it), no connection; `timed-out` — nothing within the time given.
 *
 * A model the server has not loaded: asked first with `autoload=false`, a router-mode server (llama-
 * server's router: a 400 "model is not loaded"; another Hearth: a 503 `not_loaded`) says so at once;
 * then asked again with `autoload=true`, given as long as a request waits for its answer to begin
 * (PROVIDER_TIMEOUT_MS): the server loads the model to answer, which the request about to be sent
 * would wait for anyway, and the request finds it loaded. Without that a router loading the model
 * timed the question out, and the model's first requests were sent the turn's reasoning alone, then
 * every reply's once it was loaded: a prompt that differed from its cache, read again from there.
 */
import { z } from 'zod';
import { discard, readCapped } from '../tools/builtins/http';
import { PROVIDER_TIMEOUT_MS } from '../params';
import type { ProviderAccess } from './client';

/** The most bytes of /props read (it holds the template, a few to some tens of KB). */
export const PROPS_MAX_BYTES = 1 << 20;

const Props = z.object({ chat_template_caps: z.object({ supports_preserve_reasoning: z.boolean() }).passthrough() }).passthrough();

/** The server's root: the base URL without its trailing /v1 (where llama-server serves /props). */
export function serverRoot(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
}

/** What a server said of its template (see above). */
export type PropsAnswer = 'keeps' | 'drops' | 'no-answer' | 'timed-out';

/** The statuses that say nothing of the server's kind: it may be llama-server, asked at the wrong time or with the wrong key. */
const NO_ANSWER_STATUS = new Set([401, 403, 408, 429]);

/** The most bytes of an error's body read, to tell a model not loaded from other errors. */
const ERROR_MAX_BYTES = 1 << 16;

/** An error body in llama-server's (and Hearth's OpenAI) shape, as far as it tells a model not loaded. */
const ErrorBody = z.object({ error: z.object({ code: z.union([z.string(), z.number()]).optional(), message: z.string().optional() }).passthrough() }).passthrough();

/** Whether an error answer is a router's "that model is not loaded" (asked with autoload=false): llama-server's 400, Hearth's 503 `not_loaded`. */
async function saysNotLoaded(res: Response): Promise<boolean> {
  if (res.status !== 400 && res.status !== 503) return false;
  const body = await readCapped(res, ERROR_MAX_BYTES);
  if (body.truncated) return false;
  let parsed;
  try {
    parsed = ErrorBody.safeParse(JSON.parse(new TextDecoder().decode(body.bytes)));
  } catch {
    return false;
  }
  if (!parsed.success) return false;
  const { code, message } = parsed.data.error;
  return res.status === 400 ? message === 'model is not loaded' : code === 'not_loaded';
}

/**
 * Whether the server's template for `model` keeps earlier turns' reasoning (GET /props?model=, the
 * model named as a router-mode server takes it; a one-model server ignores it). `timeoutMs` bounds the
 * question; a model not loaded is asked again with `loadTimeoutMs` to load it (above). Never throws; a
 * stop by `signal` is `no-answer`.
 */
export async function serverKeepsReasoning(p: ProviderAccess, model: string, signal: AbortSignal, timeoutMs: number, loadTimeoutMs = PROVIDER_TIMEOUT_MS): Promise<PropsAnswer> {
  const said = await askProps(p, model, signal, timeoutMs, false);
  if (said !== 'not-loaded') return said;
  const loaded = await askProps(p, model, signal, loadTimeoutMs, true);
  // a server that says so again when asked to load it: no answer for now
  return loaded === 'not-loaded' ? 'no-answer' : loaded;
}

/** One GET /props?model=…&autoload=…: what it says, or `not-loaded` (saysNotLoaded). */
async function askProps(p: ProviderAccess, model: string, signal: AbortSignal, timeoutMs: number, autoload: boolean): Promise<PropsAnswer | 'not-loaded'> {
  const limit = AbortSignal.timeout(timeoutMs);
  try {
    // the time limit covers the body too: a server that stalls mid-answer has not answered
    const s = AbortSignal.any([signal, limit]);
    const url = new URL(`${serverRoot(p.config.baseUrl)}/props`);
    url.searchParams.set('model', model);
    url.searchParams.set('autoload', String(autoload));
    const headers: Record<string, string> = { ...p.config.headers, accept: 'application/json' };
    if (p.apiKey) headers.authorization = `Bearer ${p.apiKey}`;
    const res = await fetch(url, { headers, signal: s, redirect: 'error' });
    if (!res.ok) {
      if (await saysNotLoaded(res)) return 'not-loaded';
      await discard(res);
      return res.status >= 500 || NO_ANSWER_STATUS.has(res.status) ? 'no-answer' : 'drops';
    }
    const body = await readCapped(res, PROPS_MAX_BYTES);
    if (body.truncated) return 'drops';
    const parsed = Props.safeParse(JSON.parse(new TextDecoder().decode(body.bytes)));
    return parsed.success && parsed.data.chat_template_caps.supports_preserve_reasoning ? 'keeps' : 'drops';
  } catch (e) {
    // a body that is not JSON is an answer
    if (e instanceof SyntaxError) return 'drops';
    return limit.aborted && !signal.aborted ? 'timed-out' : 'no-answer';
  }
}
