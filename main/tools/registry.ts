/**
 * The tools a chat is offered, put together from every source (the built-ins, each MCP server): an
 * assistant that chose its tools gets those (built-ins by name, MCP servers by name), else every
 * enabled one; a name two sources give is offered once (the first source's). A call goes to the source
 * that listed the tool. And the budget: a tool's text is cut to its tokens before the model reads it.
 */
import type { z } from 'zod';
import type { Tool } from '../engine/protocol';
import { type AssistantTools, isBuiltinKey } from '../params';
import type { ToolDefinition, ToolOutcome, ToolSource } from './types';

export interface OfferedTools {
  definitions: ToolDefinition[];
  /** as the engine takes them */
  engine: z.input<typeof Tool>[];
  call(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome>;
  byName(name: string): ToolDefinition | undefined;
}

export class ToolRegistry {
  constructor(private readonly sources: readonly ToolSource[]) {}

  /** Every tool of every source (the settings' list). */
  all(): ToolDefinition[] {
    return this.offered(null).definitions;
  }

  offered(choice: AssistantTools | null): OfferedTools {
    const bySource = new Map<string, { def: ToolDefinition; source: ToolSource }>();
    for (const source of this.sources) {
      for (const def of source.tools()) {
        if (bySource.has(def.name)) continue;
        if (choice && !(isBuiltinKey(def.key) ? (choice.builtins as readonly string[]).includes(def.name) : choice.servers.includes(def.source))) continue;
        bySource.set(def.name, { def, source });
      }
    }
    const definitions = [...bySource.values()].map((e) => e.def);
    return {
      definitions,
      engine: definitions.map((d) => ({ type: 'function' as const, function: { name: d.name, description: d.description, parameters: d.parameters as never } })),
      byName: (name) => bySource.get(name)?.def,
      call: async (name, args, signal) => {
        const e = bySource.get(name);
        if (!e) return { text: `There is no tool named ${JSON.stringify(name)}. The tools: ${definitions.map((d) => d.name).join(', ') || 'none'}.`, isError: true };
        return e.source.call(name, args, signal);
      },
    };
  }
}

/** A text cut to a budget of tokens, with what was kept of how many. */
export interface Budgeted {
  text: string;
  truncated: { keptTokens: number; totalTokens: number } | null;
}

/**
 * Cuts `text` to at most `budget` tokens as `count` counts them (the chat model's tokenizer), noting the
 * cut at its end. The cut is made on characters, in proportion, and checked again (a few tries); when
 * tokens are spread so unevenly that those tries still keep too much, the longest prefix within the
 * budget is searched by halves between the longest known within it and the shortest known over it.
 */
/**
 * A text longer than this many characters, and than 16 a token of its budget, is cut to that before it
 * is counted (a server may answer megabytes; counting them would tie up the engine); its total is then
 * estimated from the part counted.
 */
export const COUNTED_CHARS = 256 * 1024;
const MAX_CHARS_PER_TOKEN = 16;

export async function withinBudget(whole: string, budget: number, count: (t: string) => Promise<number>): Promise<Budgeted> {
  // a huge result (a server may answer megabytes) is cut to what the budget could hold before it is counted
  const cap = Math.max(COUNTED_CHARS, budget * MAX_CHARS_PER_TOKEN);
  const text = whole.length > cap ? whole.slice(0, cap) : whole;
  // (the whole's tokens, estimated from the part counted when it was cut)
  const counted = await count(text);
  const total = text === whole ? counted : Math.max(budget + 1, Math.round((counted * whole.length) / text.length));
  if (total <= budget) return { text, truncated: null };
  /** the longest prefix known within the budget, and the shortest known over it (in characters) */
  let within = counted <= budget ? { chars: text.length, tokens: counted } : { chars: 0, tokens: 0 };
  let over = text.length;
  let chars = Math.floor((text.length * budget) / total);
  for (let i = 0; i < 5 && chars > within.chars && chars < over; i++) {
    const tokens = await count(text.slice(0, chars));
    if (tokens <= budget) {
      within = { chars, tokens };
      break;
    }
    over = chars;
    chars = Math.floor(((chars * budget) / tokens) * 0.95);
  }
  // still over: halves, to within 2% of the characters
  for (let i = 0; i < 30 && over - within.chars > Math.max(1, Math.floor(within.chars / 50)); i++) {
    const mid = Math.floor((within.chars + over) / 2);
    const tokens = await count(text.slice(0, mid));
    if (tokens <= budget) within = { chars: mid, tokens };
    else over = mid;
  }
  return { text: `${text.slice(0, within.chars)}\n[truncated: ${within.tokens} of ${total} tokens shown]`, truncated: { keptTokens: within.tokens, totalTokens: total } };
}
