/**
 * A remote provider's failure as the user reads it: the provider's own words and what to do, under a
 * catalogue code (main/errors/catalogue.ts): 401/403 → provider_auth (check the key), 429 →
 * provider_rate_limited (with the wait its Retry-After gave), no connection or no answer in time →
 * provider_offline, llama-server's prompt longer than its context → context_overflow, anything else →
 * provider_error. The API key and the extra headers' values never
 * appear: a server's echo of them, or a fetch error quoting a header, is masked.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { IpcError } from '../ipc/contract';
import type { ProviderConfig } from '../params';

/** The most of a provider's message kept (an HTML error page is cut). */
const MAX_MESSAGE = 500;

type SdkError = { status?: number; headers?: Headers; message: string };

function isSdkError(e: unknown): e is SdkError {
  return e instanceof OpenAI.APIError || e instanceof Anthropic.APIError;
}

function isConnectionError(e: unknown): boolean {
  return e instanceof OpenAI.APIConnectionError || e instanceof Anthropic.APIConnectionError;
}

/** The wait a 429's headers ask for, in seconds (Retry-After: seconds or an HTTP date; retry-after-ms), or null. */
export function retryAfterSeconds(headers: Headers | undefined, now = Date.now()): number | null {
  if (!headers) return null;
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return Math.ceil(ms / 1000);
  const v = headers.get('retry-after');
  if (!v) return null;
  const s = Number(v);
  if (Number.isFinite(s) && s >= 0) return Math.ceil(s);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - now) / 1000)) : null;
}

/** A message as shown: one line, cut, with every secret (the key, the extra headers' values) masked, wherever it is echoed. */
function clean(message: string, secrets: readonly string[]): string {
  let m = message;
  for (const s of secrets) m = m.split(s).join('••••');
  m = m.replace(/\s+/g, ' ').trim();
  return m.length > MAX_MESSAGE ? `${m.slice(0, MAX_MESSAGE)}…` : m;
}

/**
 * `e` (from an SDK call to `provider`) as an IpcError; `stalledMs`: Hearth stopped waiting after that
 * long; `secrets`: what must not show (a server may echo the request's headers in its error).
 */
export function providerError(provider: Pick<ProviderConfig, 'name' | 'baseUrl'>, e: unknown, stalledMs: number | null, secrets: readonly string[] = []): IpcError {
  const who = provider.name;
  if (stalledMs !== null) return new IpcError('provider_offline', `${who} sent nothing for ${Math.round(stalledMs / 1000)} s: gave up`);
  if (e instanceof IpcError) return e;
  if (isConnectionError(e)) {
    const timeout = e instanceof OpenAI.APIConnectionTimeoutError || e instanceof Anthropic.APIConnectionTimeoutError;
    const cause = (e as Error & { cause?: { message?: string; code?: string } }).cause;
    const why = timeout ? 'it did not answer in time' : (cause?.code ?? cause?.message ?? (e as Error).message);
    return new IpcError('provider_offline', `${who} at ${provider.baseUrl}: ${clean(why, secrets)}`);
  }
  if (isSdkError(e) && e.status !== undefined) {
    const words = clean(e.message, secrets);
    if (e.status === 401 || e.status === 403) return new IpcError('provider_auth', `${who} answered ${words}`);
    if (e.status === 429) {
      const wait = retryAfterSeconds(e.headers);
      return new IpcError('provider_rate_limited', `${who} answered ${words}; ${wait !== null ? `try again in ${wait} s` : 'wait a little, then try again'}`);
    }
    // llama-server's refusal of a prompt longer than its context (its error's type): the engine's code for it,
    // so a chat asks again with less reasoning (main/chat/steps.ts) and the hint says what to do
    if (e instanceof OpenAI.APIError && e.type === 'exceed_context_size_error') return new IpcError('context_overflow', `${who} answered ${words}`);
    // a 404: most often the base URL (OpenAI-style ones end in /v1, Anthropic's do not) or the model's name
    if (e.status === 404) return new IpcError('provider_error', `${who} answered ${words} (check the base URL — OpenAI-style URLs end in /v1, Anthropic's do not — and the model's name)`);
    return new IpcError('provider_error', `${who} answered ${words}`);
  }
  // an error event in the middle of a stream (no status): Anthropic's types say which kind it is
  const type = isSdkError(e) ? ((e as { error?: { error?: { type?: unknown }; type?: unknown } }).error?.error?.type ?? (e as { error?: { type?: unknown } }).error?.type) : undefined;
  if (type === 'overloaded_error' || type === 'rate_limit_error') return new IpcError('provider_rate_limited', `${who} answered ${clean((e as Error).message, secrets)}; wait a little, then try again`);
  if (type === 'authentication_error' || type === 'permission_error') return new IpcError('provider_auth', `${who} answered ${clean((e as Error).message, secrets)}`);
  return new IpcError('provider_error', `${who}: ${clean((e as Error)?.message ?? String(e), secrets)}`);
}
