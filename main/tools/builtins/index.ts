/**
 * The built-in tools as a tool source: web_search, fetch_url and current_time (main/params/tools.ts
 * BUILTIN_TOOLS), each with its arguments' zod schema, from which the JSON Schema the model sees is
 * derived. A built-in the user turned off is not listed, nor web_search while no provider is set up.
 * A call answers its tool's failure (bad arguments included) as an outcome with isError; it rejects
 * only when the caller's signal aborts.
 */
import { promises as dns } from 'dns';
import { z } from 'zod/v4';
import { BUILTIN_TOOLS, builtinKey, DEFAULT_RESULT_BUDGET_TOKENS, type BuiltinTool, type ToolSettings } from '../../params/tools';
import type { ToolDefinition, ToolOutcome, ToolSource } from '../types';
import { currentTime, CurrentTimeArgs, systemTimeZone } from './current-time';
import { fetchUrl, FetchUrlArgs } from './fetch-url';
import { DEFAULT_HTTP_TIMEOUT_MS } from './http';
import { describeError, failed, ToolFailure } from './outcome';
import { pinnedFetch } from './pinned-fetch';
import type { Lookup } from './private-address';
import { searchCredential, webSearch, WebSearchArgs } from './web-search';

export interface BuiltinToolDeps {
  /** the tool settings now (read at every listing and call) */
  settings: () => ToolSettings;
  /** a secret by name: the search providers' keys (web-search.ts searchKeyName: `search.brave`, …) */
  secret: (name: string) => string | null;
  /**
   * HTTP (default: Node's fetch; for fetch_url while private addresses are refused, ./pinned-fetch.ts,
   * whose connections refuse them too). One given here is used as it is: the check before each
   * request still applies, the connection's is its own (a proxy's, say).
   */
  fetch?: typeof fetch;
  /** the time now (default: the clock) */
  now?: () => Date;
  /** the user's IANA time zone (default: the system's) */
  timeZone?: () => string;
  /** DNS for the private-network check (default: dns.promises.lookup) */
  lookup?: Lookup;
  /** the time limit of one web request, in milliseconds (default DEFAULT_HTTP_TIMEOUT_MS) */
  httpTimeoutMs?: number;
}

interface Builtin<A extends z.ZodType> {
  description: string;
  args: A;
  readsWebOnly: boolean;
  run(args: z.output<A>, signal: AbortSignal): Promise<ToolOutcome>;
}

/** One built-in, typed by its own arguments. */
function builtin<A extends z.ZodType>(b: Builtin<A>): Builtin<z.ZodType> {
  return b as unknown as Builtin<z.ZodType>;
}

/** The arguments' JSON Schema as the model sees it (what a call may send, so defaults stay optional). */
function parametersOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  return json;
}

/** zod's first issues, as one line the model can act on. */
function argsProblem(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`)
    .join('; ');
}

export function createBuiltinTools(deps: BuiltinToolDeps): ToolSource {
  const http = deps.fetch ?? ((input, init) => fetch(input, init));
  const lookup: Lookup = deps.lookup ?? ((host, options) => dns.lookup(host, options));
  let pinned: typeof fetch | undefined;
  /** fetch_url's fetch under the private-network setting now */
  const pageFetch = (allowPrivate: boolean): typeof fetch => deps.fetch ?? (allowPrivate ? http : (pinned ??= pinnedFetch(lookup)));
  const now = deps.now ?? (() => new Date());
  const timeZone = deps.timeZone ?? systemTimeZone;
  const timeoutMs = deps.httpTimeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS;

  const table: Record<BuiltinTool, Builtin<z.ZodType>> = {
    web_search: builtin({
      description:
        'Search the web. Returns a numbered list of results, each with a title, a URL and a short snippet. ' +
        'Use it for recent events or facts you are not sure of; then read a result with fetch_url.',
      args: WebSearchArgs,
      readsWebOnly: true,
      run: (args, signal) => webSearch(args, { fetch: http, settings: deps.settings(), secret: deps.secret, timeoutMs, signal }),
    }),
    fetch_url: builtin({
      description:
        'Read a web page (or a text file) at an http(s) URL. Returns the page\'s URL, title and main text, ' +
        'without menus, ads or scripts. Use it to read a result of web_search or a link the user gave.',
      args: FetchUrlArgs,
      readsWebOnly: true,
      run: (args, signal) => {
        const allowPrivateNetwork = deps.settings().allowPrivateNetwork;
        return fetchUrl(args, { fetch: pageFetch(allowPrivateNetwork), lookup, allowPrivateNetwork, timeoutMs, signal });
      },
    }),
    current_time: builtin({
      description: 'Get the current date, time and weekday in the user\'s time zone, or in another time zone if one is given.',
      args: CurrentTimeArgs,
      readsWebOnly: false,
      run: async (args) => currentTime(args, now(), timeZone()),
    }),
  };

  /** Whether a built-in is listed now: not turned off, and (web_search) with a provider set up. */
  function available(name: BuiltinTool, settings: ToolSettings): boolean {
    if (settings.disabledBuiltins.includes(name)) return false;
    return name !== 'web_search' || searchCredential(settings, deps.secret) !== null;
  }

  return {
    tools(): ToolDefinition[] {
      const settings = deps.settings();
      return BUILTIN_TOOLS.filter((name) => available(name, settings)).map((name) => ({
        name,
        key: builtinKey(name),
        description: table[name].description,
        parameters: parametersOf(table[name].args),
        source: 'builtin',
        readsWebOnly: table[name].readsWebOnly,
        resultBudgetTokens: DEFAULT_RESULT_BUDGET_TOKENS,
      }));
    },

    async call(name, args, signal): Promise<ToolOutcome> {
      signal.throwIfAborted();
      if (!(BUILTIN_TOOLS as readonly string[]).includes(name)) return failed(`there is no built-in tool named "${name}"`);
      const tool = name as BuiltinTool;
      if (deps.settings().disabledBuiltins.includes(tool)) return failed(`${tool} is turned off in the tool settings`);
      const parsed = table[tool].args.safeParse(args);
      if (!parsed.success) return failed(`invalid arguments for ${tool}: ${argsProblem(parsed.error)}`);
      try {
        return await table[tool].run(parsed.data, signal);
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (e instanceof ToolFailure) return failed(e.message);
        return failed(`${tool} failed: ${describeError(e)}`);
      }
    },
  };
}

export { isPrivateAddress } from './private-address';
export { searchKeyName } from './web-search';
