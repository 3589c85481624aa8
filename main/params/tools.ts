/**
 * Tools, defined once: the built-in tools' names, the web search providers, an MCP server's
 * configuration (as Hearth stores it and as settings and IPC take it), the tool settings with their
 * bounds and defaults, and how a tool is named to the model and keyed for approvals. main/tools
 * runs them; the contract, the store and the renderer derive from here. zod only, nothing of Node.
 */
import { z } from 'zod';

/** The built-in tools (main/tools/builtins), by the name the model sees. */
export const BUILTIN_TOOLS = ['web_search', 'fetch_url', 'current_time'] as const;
export type BuiltinTool = (typeof BUILTIN_TOOLS)[number];

/** Web search providers: SearXNG needs only its URL; the others a key (kept in the secret store). */
export const SEARCH_PROVIDERS = ['searxng', 'brave', 'serper', 'tavily'] as const;
export type SearchProvider = (typeof SEARCH_PROVIDERS)[number];

/** The default step limit of one turn's call loop (a step: one generation, with the calls it makes). */
export const DEFAULT_TOOL_STEPS = 10;
export const MAX_TOOL_STEPS = 50;

/** A tool result's default budget in tokens (per MCP server; the built-ins use it too), and its bounds. */
export const DEFAULT_RESULT_BUDGET_TOKENS = 2000;
export const MIN_RESULT_BUDGET_TOKENS = 50;
export const MAX_RESULT_BUDGET_TOKENS = 100_000;

/** A tool call's default time limit in seconds (per MCP server), and its bounds. */
export const DEFAULT_TOOL_TIMEOUT_S = 60;
export const MAX_TOOL_TIMEOUT_S = 3600;

/** The most MCP servers, environment variables or headers one server, and arguments one command has. */
export const MAX_MCP_SERVERS = 64;
export const MAX_MCP_PAIRS = 64;
export const MAX_MCP_ARGS = 256;

/** An MCP server's name: what the user calls it and the prefix of its tools' names for the model. */
export const McpServerName = z
  .string()
  .trim()
  .min(1)
  .max(40)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'a server name is letters, digits, - and _ (it prefixes its tools\' names)')
  // "__" separates a server's name from its tools' (two servers' tools could otherwise get one name); "builtin" is the built-ins' source
  .refine((n) => !n.includes('__'), 'a server name may not contain "__" (it separates the server from its tools in their names)')
  .refine((n) => n.toLowerCase() !== 'builtin', '"builtin" is the built-in tools\' name: pick another');

const Pairs = z
  .record(z.string().min(1).max(200), z.string().max(8192))
  .refine((r) => Object.keys(r).length <= MAX_MCP_PAIRS, `at most ${MAX_MCP_PAIRS} entries`);

const HttpUrl = z
  .string()
  .max(4096)
  .url()
  .refine((u) => {
    try {
      return /^https?:$/.test(new URL(u).protocol);
    } catch {
      return false; // url() says what is wrong with it
    }
  }, 'only http(s) URLs');

const ServerCommon = {
  name: McpServerName,
  enabled: z.boolean().default(true),
  /** a tool result's budget in tokens before it enters the context (longer ones are truncated, and say so) */
  resultBudgetTokens: z.number().int().min(MIN_RESULT_BUDGET_TOKENS).max(MAX_RESULT_BUDGET_TOKENS).default(DEFAULT_RESULT_BUDGET_TOKENS),
  /** a call's time limit in seconds */
  timeoutSeconds: z.number().int().min(1).max(MAX_TOOL_TIMEOUT_S).default(DEFAULT_TOOL_TIMEOUT_S),
};

/**
 * An MCP server as the user configures it: a command Hearth starts (stdio) or a Streamable HTTP URL.
 * The values of `env` and `headers` are secrets: the store keeps their names, the secret store their
 * values (main/tools/secrets.ts).
 */
export const McpServerConfig = z.discriminatedUnion('transport', [
  z
    .object({
      transport: z.literal('stdio'),
      ...ServerCommon,
      command: z.string().trim().min(1).max(4096),
      args: z.array(z.string().max(8192)).max(MAX_MCP_ARGS).default([]),
      env: Pairs.default({}),
      cwd: z.string().max(4096).nullable().default(null),
    })
    .strict(),
  z
    .object({
      transport: z.literal('http'),
      ...ServerCommon,
      url: HttpUrl,
      headers: Pairs.default({}),
    })
    .strict(),
]);
export type McpServerConfig = z.output<typeof McpServerConfig>;
export type McpServerInput = z.input<typeof McpServerConfig>;

/** The tool settings (app settings' `tools`). */
export const ToolSettings = z
  .object({
    /** the most steps (generations) of one turn's call loop; the last one may not call tools */
    maxSteps: z.number().int().min(1).max(MAX_TOOL_STEPS).default(DEFAULT_TOOL_STEPS),
    /** the web search provider; SearXNG's instance URL (the others' keys are secrets) */
    searchProvider: z.enum(SEARCH_PROVIDERS).default('searxng'),
    searxngUrl: HttpUrl.nullable().default(null),
    /** fetch_url and web search may reach private-network addresses (loopback, LAN, link-local) */
    allowPrivateNetwork: z.boolean().default(false),
    /** the tools (by ToolKey) the user allowed always ("Always allow this tool") */
    alwaysAllowed: z.array(z.string().max(300)).max(1000).default([]),
    /** built-in tools that are off */
    disabledBuiltins: z.array(z.enum(BUILTIN_TOOLS)).default([]),
  })
  .strict();
export type ToolSettings = z.output<typeof ToolSettings>;

/** The tools an assistant's chats are offered: built-ins by name, MCP servers by name (all their tools). */
export const AssistantTools = z
  .object({ builtins: z.array(z.enum(BUILTIN_TOOLS)).default([]), servers: z.array(McpServerName).max(MAX_MCP_SERVERS).default([]) })
  .strict();
export type AssistantTools = z.output<typeof AssistantTools>;

/**
 * A tool's key, stable across renames of what the model sees: `builtin:<name>` or
 * `mcp:<server name>:<tool name>`. Approvals ("for this thread", "always") are kept by key.
 */
export function builtinKey(name: BuiltinTool): string {
  return `builtin:${name}`;
}
/** Whether a tool key is a built-in's (decided by the key, never by a name a server could take). */
export function isBuiltinKey(key: string): boolean {
  return BUILTIN_TOOLS.some((b) => key === builtinKey(b));
}
/** The prefix of every key of an MCP server's tools. */
export function mcpKeyPrefix(server: string): string {
  return `mcp:${server}:`;
}
export function mcpKey(server: string, tool: string): string {
  return `mcp:${server}:${tool}`;
}

/** The name the model sees for an MCP server's tool: `<server>__<tool>`, cut to the 64 characters OpenAI-style templates allow, in [A-Za-z0-9_-]. */
export function mcpToolName(server: string, tool: string): string {
  return `${server}__${tool}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
}

/** The decisions a user can take on a tool call awaiting approval. */
export const APPROVAL_DECISIONS = ['once', 'thread', 'always', 'deny'] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

/** A tool call's state as a card shows it. */
export const TOOL_CALL_STATES = ['awaiting', 'running', 'done', 'error', 'denied', 'aborted'] as const;
export type ToolCallState = (typeof TOOL_CALL_STATES)[number];
