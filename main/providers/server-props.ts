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
 * would go with it), no connection; `timed-out` — nothing within the time given; `load-failed` — below.
 *
 * A model the server has not loaded: asked first with `autoload=false`, a router-mode server says so
 * at once (llama-server's router: a 400 "model is not loaded"; another Hearth: a 503 `not_loaded`).
 * It is then asked again as the request about to be sent would load it — llama-server's router without
 * `autoload`, so its own default decides (`--no-models-autoload` refuses the request as well), another
 * Hearth with `autoload=true` (its requests load just in time) — given as long as a request waits for
 * its answer to begin (PROVIDER_TIMEOUT_MS): the request would wait for that load anyway, and then finds
 * the model loaded. Anything but an answer then is `load-failed`, which is held as long as a time-out:
 * a load that failed after a long wait is not waited for again on the next turn; a router that says
 * "not loaded" again does not load for requests at all, which is `no-answer`. Before, a router
 * loading the model timed the question out, and the model's first requests were sent the turn's
 * reasoning alone, then every reply's once it was loaded: a prompt that differed from its cache.
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
export type PropsAnswer = 'keeps' | 'drops' | 'no-answer' | 'timed-out' | 'load-failed';

/** The statuses that say nothing of the server's kind: it may be llama-server, asked at the wrong time or with the wrong key. */
const NO_ANSWER_STATUS = new Set([401, 403, 408, 429]);

/** The most bytes of an error's body read, to tell a model not loaded from other errors. */
const ERROR_MAX_BYTES = 1 << 16;

/** An error body in llama-server's (and Hearth's OpenAI) shape, as far as it tells a model not loaded. */
const ErrorBody = z.object({ error: z.object({ code: z.union([z.string(), z.number()]).optional(), message: z.string().optional() }).passthrough() }).passthrough();

/** Who said a model is not loaded (asked with autoload=false): llama-server's router (a 400), another Hearth (a 503 `not_loaded`). */
type NotLoaded = 'router' | 'hearth';

/** Whether an error answer is a router's "that model is not loaded", and whose. */
async function saysNotLoaded(res: Response): Promise<NotLoaded | null> {
  if (res.status !== 400 && res.status !== 503) return null;
  const body = await readCapped(res, ERROR_MAX_BYTES);
  if (body.truncated) return null;
  let parsed;
  try {
    parsed = ErrorBody.safeParse(JSON.parse(new TextDecoder().decode(body.bytes)));
  } catch {
    return null;
  }
  if (!parsed.success) return null;
  const { code, message } = parsed.data.error;
  if (res.status === 400) return message === 'model is not loaded' ? 'router' : null;
  return code === 'not_loaded' ? 'hearth' : null;
}

/**
 * Whether the server's template for `model` keeps earlier turns' reasoning (GET /props?model=, the
 * model named as a router-mode server takes it; a one-model server ignores it). `timeoutMs` bounds the
 * question; a model not loaded is asked again, within `loadTimeoutMs`, as a request would load it
 * (above). Never throws; a stop by `signal` is `no-answer`.
 */
export async function serverKeepsReasoning(p: ProviderAccess, model: string, signal: AbortSignal, timeoutMs: number, loadTimeoutMs = PROVIDER_TIMEOUT_MS): Promise<PropsAnswer> {
  const said = await askProps(p, model, signal, timeoutMs, null);
  if (said !== 'router' && said !== 'hearth') return said;
  const loaded = await askProps(p, model, signal, loadTimeoutMs, said);
  if (signal.aborted) return 'no-answer';
  // only the props themselves are an answer now: any other error (a failed load is a 500, a model that
  // went away meanwhile a 400 "not running") is the load's failure
  return loaded === 'keeps' || loaded === 'drops' || loaded === 'no-answer' ? loaded : 'load-failed';
}

/**
 * One GET /props?model=: the question (`loading` null: autoload=false), what it says or who said the
 * model is not loaded (saysNotLoaded); or, after such a `loading` server's answer, the question as its
 * request would load the model, where an error is the load's failure.
 */
async function askProps(p: ProviderAccess, model: string, signal: AbortSignal, timeoutMs: number, loading: NotLoaded | null): Promise<PropsAnswer | NotLoaded> {
  const limit = AbortSignal.timeout(timeoutMs);
  try {
    // the time limit covers the body too: a server that stalls mid-answer has not answered
    const s = AbortSignal.any([signal, limit]);
    const url = new URL(`${serverRoot(p.config.baseUrl)}/props`);
    url.searchParams.set('model', model);
    // llama-server's router: its own default, as for a request; another Hearth's requests load just in time
    if (loading !== 'router') url.searchParams.set('autoload', loading === 'hearth' ? 'true' : 'false');
    const headers: Record<string, string> = { ...p.config.headers, accept: 'application/json' };
    if (p.apiKey) headers.authorization = `Bearer ${p.apiKey}`;
    const res = await fetch(url, { headers, signal: s, redirect: 'error' });
    if (!res.ok) {
      const notLoaded = await saysNotLoaded(res);
      // asked as its request would load it, a router that still says so does not load for requests
      // (--no-models-autoload): nothing was waited for, and the model may be loaded by hand any time
      if (notLoaded) return loading ? 'no-answer' : notLoaded;
      await discard(res);
      if (loading) return 'load-failed';
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
