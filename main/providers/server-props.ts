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
 * would go with it), no connection; `timed-out` — nothing within the time given (a router loading the
 * model waits for the load).
 */
import { z } from 'zod';
import { discard, readCapped } from '../tools/builtins/http';
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

/**
 * Whether the server's template for `model` keeps earlier turns' reasoning (GET /props?model=, the
 * model named as a router-mode server takes it; a one-model server ignores it). Never throws; a stop
 * by `signal` is `no-answer`.
 */
export async function serverKeepsReasoning(p: ProviderAccess, model: string, signal: AbortSignal, timeoutMs: number): Promise<PropsAnswer> {
  const limit = AbortSignal.timeout(timeoutMs);
  try {
    // the time limit covers the body too: a server that stalls mid-answer has not answered
    const s = AbortSignal.any([signal, limit]);
    const url = new URL(`${serverRoot(p.config.baseUrl)}/props`);
    url.searchParams.set('model', model);
    const headers: Record<string, string> = { ...p.config.headers, accept: 'application/json' };
    if (p.apiKey) headers.authorization = `Bearer ${p.apiKey}`;
    const res = await fetch(url, { headers, signal: s, redirect: 'error' });
    if (!res.ok) {
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
