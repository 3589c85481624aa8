/**
 * An MCP server's tools, as Hearth takes them: tools/list page by page (following the cursor, up to
 * MAX_MCP_TOOLS tools and MAX_LIST_PAGES pages), each tool checked (a name, an object schema for its
 * arguments) since what a server sends is untrusted. A tool that fails the check, or repeats a name
 * already listed, is left out and named in `rejected`.
 */
import { z } from 'zod';
import { schemaProblem } from '../../params/grammar-limits';

/** The most tools Hearth takes from one server, and the most pages of tools/list it reads. */
export const MAX_MCP_TOOLS = 500;
export const MAX_LIST_PAGES = 50;
/** A tool's description is cut to this many characters (it goes into every prompt). */
export const MAX_TOOL_DESCRIPTION_CHARS = 4000;
/** A tool whose arguments' schema is longer than this (as JSON) is left out: it would go into every prompt. */
export const MAX_TOOL_SCHEMA_CHARS = 16 * 1024;

/** A tool as a server lists it (the MCP spec's tool names: 1 to 128 characters, no spaces or controls). */
const RemoteTool = z.object({
  name: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[^\s\p{Cc}]+$/u, 'a tool name has no spaces or control characters'),
  description: z.string().optional(),
  inputSchema: z.object({ type: z.literal('object') }).passthrough(),
});

const ListPage = z.object({ tools: z.array(z.unknown()), nextCursor: z.string().optional() });

/** One tool of a server. */
export interface McpTool {
  /** the tool's name on its server */
  name: string;
  description: string;
  /** its arguments' JSON Schema (an object schema) */
  inputSchema: Record<string, unknown>;
}

export interface ToolList {
  tools: McpTool[];
  /** why tools were left out, one line each */
  rejected: string[];
}

/** Reads one page of tools/list (the client's listTools with the request's options). */
export type ListPageFn = (cursor: string | undefined) => Promise<unknown>;

/** Every tool a server lists, checked (see the file's comment). Rejects when a page cannot be read. */
export async function listAllTools(page: ListPageFn): Promise<ToolList> {
  const tools: McpTool[] = [];
  const rejected: string[] = [];
  const names = new Set<string>();
  const cursors = new Set<string>();
  let cursor: string | undefined;
  for (let n = 0; n < MAX_LIST_PAGES; n++) {
    const p = ListPage.safeParse(await page(cursor));
    if (!p.success) throw new Error('the server answered tools/list with something that is not a list of tools');
    for (const raw of p.data.tools) {
      const t = RemoteTool.safeParse(raw);
      let problem: string | null;
      const label = typeof (raw as { name?: unknown })?.name === 'string' ? JSON.stringify((raw as { name: string }).name.slice(0, 128)) : 'a tool';
      if (!t.success) rejected.push(`${label}: ${t.error.issues[0]?.message ?? 'not a tool'}`);
      else if (names.has(t.data.name)) rejected.push(`${label}: listed twice`);
      // llama.cpp builds the call grammar from the schema: the response format's bounds (checked first, without recursion)
      else if ((problem = schemaProblem(t.data.inputSchema))) rejected.push(`${label}: its arguments' schema cannot be used: ${problem}`);
      else if (JSON.stringify(t.data.inputSchema).length > MAX_TOOL_SCHEMA_CHARS) rejected.push(`${label}: its arguments' schema is longer than ${MAX_TOOL_SCHEMA_CHARS} characters`);
      else if (tools.length >= MAX_MCP_TOOLS) {
        rejected.push(`tools past the first ${MAX_MCP_TOOLS} are left out`);
        return { tools, rejected };
      } else {
        const { name, description, inputSchema } = t.data;
        names.add(name);
        tools.push({ name, description: (description ?? '').slice(0, MAX_TOOL_DESCRIPTION_CHARS), inputSchema });
      }
    }
    cursor = p.data.nextCursor;
    if (cursor === undefined) return { tools, rejected };
    if (cursors.has(cursor)) {
      rejected.push('tools/list repeated a cursor: the rest of the list is left out');
      return { tools, rejected };
    }
    cursors.add(cursor);
  }
  rejected.push(`tools/list past ${MAX_LIST_PAGES} pages is left out`);
  return { tools, rejected };
}
