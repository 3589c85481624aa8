/**
 * What every tool source gives the call loop (main/chat/tool-loop.ts): the tools it has, described
 * to the model, and a call that answers text. The built-ins (./builtins) and each MCP server
 * (./mcp) are sources; ./registry.ts puts them together.
 */
export interface ToolDefinition {
  /** the name the model sees (unique over all sources; main/params/tools.ts mcpToolName for MCP tools) */
  name: string;
  /** the stable key approvals are kept by (main/params/tools.ts builtinKey, mcpKey) */
  key: string;
  description: string;
  /** the arguments' JSON Schema (an object schema) */
  parameters: Record<string, unknown>;
  /** where it comes from: 'builtin' or the MCP server's name */
  source: string;
  /** whether a web-reading built-in (asked once per thread by default) or another tool (asked every call) */
  readsWebOnly: boolean;
  /** the budget of its result in tokens before it enters the context */
  resultBudgetTokens: number;
}

/** A tool call's outcome: its text (untrusted; shown as text, never HTML) and whether the tool failed. */
export interface ToolOutcome {
  text: string;
  isError: boolean;
}

/** A source of tools. `call` never throws for the tool's own failure (that is an outcome with isError); it rejects only when `signal` aborts. */
export interface ToolSource {
  tools(): ToolDefinition[];
  call(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome>;
}
