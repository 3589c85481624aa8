/**
 * What a llama.cpp-family server says of its template (llama-server's GET /props, its
 * `chat_template_caps`): whether the template keeps earlier turns' reasoning when asked to
 * (`supports_preserve_reasoning`: llama.cpp renders the template with it forced on, so it says what the
 * template can do, not the server's --reasoning-preserve; Hearth asks for it per request). A model
 * whose server says so is sent every reply's reasoning, as a local model whose template keeps it
 * (main/chat/steps.ts). A server that is not llama-server (no /props), an error status or a body that
 * is not llama-server's, or one past PROPS_MAX_BYTES, is a no; no answer at all (a time-out, a 5xx,
 * no connection) is null, which the caller holds for less time.
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

/**
 * Whether the server's template for `model` keeps earlier turns' reasoning (GET /props?model=, the
 * model named as a router-mode server takes it; a one-model server ignores it); null: no answer.
 * Never throws.
 */
export async function serverKeepsReasoning(p: ProviderAccess, model: string, signal: AbortSignal, timeoutMs: number): Promise<boolean | null> {
  try {
    // the time limit covers the body too: a server that stalls mid-answer has not answered
    const s = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
    const url = new URL(`${serverRoot(p.config.baseUrl)}/props`);
    url.searchParams.set('model', model);
    const headers: Record<string, string> = { ...p.config.headers, accept: 'application/json' };
    if (p.apiKey) headers.authorization = `Bearer ${p.apiKey}`;
    const res = await fetch(url, { headers, signal: s, redirect: 'error' });
    if (!res.ok) {
      await discard(res);
      // a router still loading the model answers 503: asked again soon
      return res.status >= 500 ? null : false;
    }
    const body = await readCapped(res, PROPS_MAX_BYTES);
    if (body.truncated) return false;
    const parsed = Props.safeParse(JSON.parse(new TextDecoder().decode(body.bytes)));
    return parsed.success && parsed.data.chat_template_caps.supports_preserve_reasoning;
  } catch (e) {
    // a body that is not JSON is an answer; a time-out, a stop or no connection is none
    return e instanceof SyntaxError ? false : null;
  }
}
