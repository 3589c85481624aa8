/**
 * The fetch the hub client, the download manager and remote fit's range reads use: undici's fetch
 * through a proxy when one is set. Node's own fetch ignores HTTP(S)_PROXY, so this one reads them:
 * the `proxy` setting (for http and https) when set, else HTTPS_PROXY / HTTP_PROXY (either case);
 * NO_PROXY applies either way. Each request reads the setting, so a new proxy applies to the next
 * request without a restart (the dispatcher is rebuilt when the proxy changes).
 *
 * undici's own fetch with undici's EnvHttpProxyAgent as the dispatcher (the global fetch's bundled
 * undici may be another version than the package's, so the two are not mixed).
 */
import { EnvHttpProxyAgent, fetch as undiciFetch, type Dispatcher } from 'undici';
import { shownProxy } from '../ipc/models';

export { shownProxy };

export interface NetOptions {
  /** the proxy setting now (a URL checked by proxyUrlSchema), or null for the environment's */
  proxy?: () => string | null;
  /** read for HTTPS_PROXY, HTTP_PROXY and NO_PROXY (default process.env) */
  env?: NodeJS.ProcessEnv;
}

interface Route {
  http: string;
  https: string;
  noProxy: string;
}

/**
 * NO_PROXY as curl reads it — `hf.co` also covers `cdn-lfs.hf.co` — in undici's terms, which match a
 * bare name exactly and a `.name` or `*.name` as its subdomains: each bare host name becomes both.
 * IP addresses, `*`, ports and entries already starting with `.` or `*` stay as they are.
 */
export function curlNoProxy(list: string): string {
  const out: string[] = [];
  for (const raw of list.split(/[,\s]+/)) {
    const e = raw.trim();
    if (!e) continue;
    out.push(e);
    const host = e.replace(/:\d+$/, '');
    if (!/^[.*]/.test(e) && /[a-z]/i.test(host) && !host.includes(':')) out.push(`.${e}`);
  }
  return out.join(',');
}

function routeOf(setting: string | null, env: NodeJS.ProcessEnv): Route | null {
  const http = setting ?? env.http_proxy ?? env.HTTP_PROXY ?? '';
  const https = setting ?? env.https_proxy ?? env.HTTPS_PROXY ?? '';
  if (!http && !https) return null;
  return { http, https, noProxy: curlNoProxy(env.no_proxy ?? env.NO_PROXY ?? '') };
}


/** The fetch to use for the hub (a function of the proxy setting and the environment). */
export function netFetch(opts: NetOptions = {}): typeof fetch {
  const env = opts.env ?? process.env;
  let key = '';
  let dispatcher: Dispatcher | undefined;
  const dispatcherFor = (route: Route | null): Dispatcher | undefined => {
    const k = JSON.stringify(route);
    if (k === key) return dispatcher;
    const old = dispatcher;
    // an empty string is "no proxy" to undici (an absent one would read process.env again)
    dispatcher = route ? new EnvHttpProxyAgent({ httpProxy: route.http, httpsProxy: route.https, noProxy: route.noProxy }) : undefined;
    key = k;
    // requests still running on the old one finish; then it closes
    old?.close().catch(() => undefined);
    return dispatcher;
  };
  const f = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const route = routeOf(opts.proxy?.() ?? null, env);
    const proxy = route ? (new URL(String(input instanceof Request ? input.url : input)).protocol === 'https:' ? route.https || route.http : route.http || route.https) : '';
    let d: Dispatcher | undefined;
    try {
      d = dispatcherFor(route);
    } catch (e) {
      throw new Error(`the proxy ${shownProxy(proxy)} is not a usable URL: ${(e as Error).message}`);
    }
    try {
      return (await undiciFetch(input as Parameters<typeof undiciFetch>[0], { ...(init as object), ...(d ? { dispatcher: d } : {}) })) as unknown as Response;
    } catch (e) {
      if (init?.signal?.aborted || !proxy) throw e;
      const cause = (e as { cause?: Error }).cause;
      throw new Error(`fetch failed (the proxy is ${shownProxy(proxy)}): ${cause?.message ?? (e as Error).message}`);
    }
  };
  return f as typeof fetch;
}

/** The fetch of a hub config made without one (the command line, tests): the environment's proxy. */
export const envFetch: typeof fetch = netFetch();
