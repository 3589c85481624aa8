/**
 * The tools' shapes in the IPC contract: a message's tool calls and a tool message's outcome, a call
 * awaiting the user's approval, an MCP server's status with its tools, and what an import found.
 * Defined once here from main/params/tools.ts; the contract, the chat's call loop and the renderer
 * read them. zod only: the renderer imports this file too.
 */
import { z } from 'zod';
import { APPROVAL_DECISIONS, McpServerConfig, McpServerName, TOOL_CALL_STATES } from '../params';

/** A call a reply made: its id (the model's or Hearth's), the tool's name as the model wrote it, its arguments as JSON text. */
export const ToolCallDTO = z.object({ id: z.string().max(256), name: z.string().max(256), arguments: z.string() });
export type ToolCallDTO = z.infer<typeof ToolCallDTO>;

/**
 * A tool message's outcome (role 'tool'): the call it answers, the tool, where it comes from, how it
 * ended, how long it ran, and the truncation of its text to the tool's budget (tokens kept of all).
 * `content` is the text the model read.
 */
export const ToolResultDTO = z.object({
  callId: z.string().max(256),
  name: z.string().max(256),
  arguments: z.string(),
  source: z.string().max(256),
  state: z.enum(TOOL_CALL_STATES),
  durationMs: z.number().min(0),
  truncated: z.object({ keptTokens: z.number().int(), totalTokens: z.number().int() }).nullable(),
});
export type ToolResultDTO = z.infer<typeof ToolResultDTO>;

/** A call the loop runs now: awaiting the user's decision, or running. `tools.pending` lists them; `tools.call` tells each change. */
export const LiveToolCallDTO = z.object({
  threadId: z.string(),
  /** the reply that made the call */
  messageId: z.string(),
  callId: z.string(),
  name: z.string(),
  key: z.string(),
  source: z.string(),
  arguments: z.string(),
  state: z.enum(['awaiting', 'running']),
  /** the decisions the user may take (awaiting only) */
  decisions: z.array(z.enum(APPROVAL_DECISIONS)),
});
export type LiveToolCallDTO = z.infer<typeof LiveToolCallDTO>;

export const McpToolDTO = z.object({ name: z.string(), description: z.string(), inputSchema: z.record(z.unknown()) });

/** A configured MCP server as the user sees it: its settings (secret values hidden: names only), state and tools. */
export const McpServerStatusDTO = z.object({
  name: z.string(),
  config: McpServerConfig,
  state: z.enum(['stopped', 'starting', 'ready', 'failed']),
  error: z.string().nullable(),
  stderrTail: z.string(),
  tools: z.array(McpToolDTO),
});
export type McpServerStatusDTO = z.infer<typeof McpServerStatusDTO>;

/** A tool the model may be offered, as the settings list it. */
export const ToolInfoDTO = z.object({ name: z.string(), key: z.string(), description: z.string(), source: z.string(), alwaysAllowed: z.boolean() });

export const ToolsStatusDTO = z.object({
  tools: z.array(ToolInfoDTO),
  servers: z.array(McpServerStatusDTO),
  /** which secrets are set (the web search keys), by name; their values never leave main */
  secrets: z.array(z.string()),
  /** where secrets are kept: the OS keychain (desktop app) or a file readable by this user only (browser mode) */
  secretStore: z.enum(['keychain', 'file']),
});
export type ToolsStatusDTO = z.infer<typeof ToolsStatusDTO>;

/** A server to add or change: its config; a secret value left "" keeps the value stored before. */
export const McpServerSave = z.object({ previousName: McpServerName.optional(), config: McpServerConfig }).strict();

export const McpImportDTO = z.object({
  added: z.array(z.string()),
  skipped: z.array(z.object({ name: z.string(), reason: z.string() })),
  /** what the user should know of a server added (renamed; added disabled, and why) */
  notes: z.array(z.object({ name: z.string(), note: z.string() })).default([]),
});

/** The secrets tools may use, by name (the web search providers' keys). */
export const TOOL_SECRET_NAMES = ['search.brave', 'search.serper', 'search.tavily'] as const;
