/**
 * MCP servers imported from other apps' configuration files (pure; the file is read by the caller):
 *
 * - Claude Desktop's claude_desktop_config.json, Cursor's and LM Studio's mcp.json:
 *   `{ "mcpServers": { NAME: { command, args, env } | { url, headers } } }`;
 * - Jan's mcp_config.json: the same, with `active` (false → imported disabled) and `type`
 *   ("http" | "sse");
 * - VS Code's mcp.json: `{ "servers": { NAME: { type: "stdio" | "http" | "sse", … } }, "inputs": […] }`
 *   (JSON with comments and trailing commas, which are read too; also a settings.json's `mcp.servers`).
 *
 * SSE servers (the older remote transport) are skipped, with the reason: Hearth speaks stdio and
 * Streamable HTTP. A server whose values hold a variable (VS Code's `${input:…}` prompts, `${env:…}`,
 * `${workspaceFolder}`) is imported disabled, with a note: Hearth does not fill them in, the user
 * edits those values before enabling it. Names are made valid server names (other characters → "-")
 * and unique (a suffix "-2", "-3", …, also against `taken`). Every server is checked against
 * McpServerConfig; one that fails is skipped with the reason.
 */
import { z } from 'zod';
import { MAX_MCP_SERVERS, McpServerConfig, type McpServerInput } from '../../params/tools';

/** The largest file import reads. */
export const MAX_IMPORT_CHARS = 1024 * 1024;
/** McpServerName's longest name. */
const MAX_NAME = 40;

export interface McpImport {
  servers: McpServerInput[];
  /** entries not imported, by their name in the file */
  skipped: { name: string; reason: string }[];
  /** servers imported with something to check, by their name in Hearth */
  notes: { name: string; note: string }[];
}

const Scalar = z.union([z.string(), z.number(), z.boolean()]).transform(String);
const Entry = z.object({
  type: z.string().optional(),
  command: z.string().optional(),
  args: z.array(Scalar).optional(),
  env: z.record(Scalar.nullable()).optional(),
  cwd: z.string().optional(),
  url: z.string().optional(),
  headers: z.record(Scalar.nullable()).optional(),
  /** Jan */
  active: z.boolean().optional(),
  /** Cline, Roo and others */
  disabled: z.boolean().optional(),
});
const ServerMap = z.record(z.unknown());
const ConfigFile = z.object({
  mcpServers: ServerMap.optional(),
  servers: ServerMap.optional(),
  mcp: z.object({ servers: ServerMap.optional() }).optional(),
});

const STDIO_TYPES = new Set(['stdio']);
const HTTP_TYPES = new Set(['http', 'streamable-http', 'streamablehttp', 'streamable_http']);

/** One pass over JSON text, strings left alone: drops comments, or (`commas`) commas before } or ]. */
function scanJson(text: string, commas: boolean): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (!commas && c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (!commas && c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
    } else {
      let j = i + 1;
      while (commas && c === ',' && j < text.length && /\s/.test(text[j])) j++;
      if (!(commas && c === ',' && (text[j] === '}' || text[j] === ']'))) out += c;
      i++;
    }
  }
  return out;
}

/** JSON with // and /* *\/ comments and trailing commas (VS Code's) made JSON. */
export function stripJsonComments(text: string): string {
  return scanJson(scanJson(text, false), true);
}

/** A name as McpServerName allows it: other characters → "-", starting with a letter or digit, at most 40. */
export function sanitizeServerName(raw: string): string {
  const s = raw
    .trim()
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .slice(0, MAX_NAME)
    .replace(/-+$/, '');
  return s || 'server';
}

/** `name`, or it with the first suffix "-2", "-3", … not in `taken` (compared ignoring case). */
function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let n = 2; taken.has(candidate.toLowerCase()); n++) {
    const suffix = `-${n}`;
    candidate = `${name.slice(0, MAX_NAME - suffix.length)}${suffix}`;
  }
  taken.add(candidate.toLowerCase());
  return candidate;
}

function pairs(r: Record<string, string | null> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(r ?? {}).filter((e): e is [string, string] => e[1] !== null));
}

/** The variables (`${…}`) an entry's values hold. */
function variablesIn(input: McpServerInput): string[] {
  const values =
    input.transport === 'stdio'
      ? [input.command, ...(input.args ?? []), ...Object.values(input.env ?? {}), input.cwd ?? '']
      : [input.url, ...Object.values(input.headers ?? {})];
  return [...new Set(values.flatMap((v) => v.match(/\$\{[^}]*\}/g) ?? []))];
}

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    try {
      return JSON.parse(stripJsonComments(text));
    } catch {
      throw new Error(`${label} is not valid JSON: ${first instanceof Error ? first.message : String(first)}`);
    }
  }
}

/** An entry as a server's input, or why it cannot be one. */
function inputOf(name: string, raw: unknown): McpServerInput | string {
  const e = Entry.safeParse(raw);
  if (!e.success) {
    const issue = e.error.issues[0];
    return `not a server entry (${issue.path.join('.') || 'the entry'}: ${issue.message})`;
  }
  const { type, command, args, env, cwd, url, headers, active, disabled } = e.data;
  const kind = type?.toLowerCase();
  const enabled = active !== false && disabled !== true;
  if (kind === 'sse') return 'an SSE server: Hearth speaks stdio and Streamable HTTP (if the server offers Streamable HTTP, add it by that URL)';
  if (kind !== undefined && !STDIO_TYPES.has(kind) && !HTTP_TYPES.has(kind)) return `an unknown server type "${type}"`;
  if (command !== undefined && (kind === undefined || STDIO_TYPES.has(kind))) {
    return { transport: 'stdio', name, enabled, command, args: args ?? [], env: pairs(env), ...(cwd ? { cwd } : {}) };
  }
  if (url !== undefined && (kind === undefined || HTTP_TYPES.has(kind))) return { transport: 'http', name, enabled, url, headers: pairs(headers) };
  return kind && HTTP_TYPES.has(kind) ? 'an HTTP server without a url' : 'neither a command nor a url';
}

/**
 * The servers of another app's MCP configuration (see the file's comment). Throws an Error saying
 * what is wrong when the text is not JSON or holds no server list.
 */
export function parseMcpImport(text: string, filename?: string, taken: Iterable<string> = []): McpImport {
  const label = filename ? `"${filename}"` : 'the file';
  if (text.length > MAX_IMPORT_CHARS) throw new Error(`${label} is larger than ${MAX_IMPORT_CHARS / 1024} KB: not an MCP configuration`);
  const file = ConfigFile.safeParse(parseJson(text.replace(/^\uFEFF/, ''), label));
  const entries = file.success ? (file.data.mcpServers ?? file.data.servers ?? file.data.mcp?.servers) : undefined;
  if (!entries) throw new Error(`${label} lists no MCP servers (it has neither "mcpServers" nor "servers")`);

  const names = new Set([...taken].map((n) => n.toLowerCase()));
  const result: McpImport = { servers: [], skipped: [], notes: [] };
  for (const [fileName, raw] of Object.entries(entries)) {
    if (result.servers.length >= MAX_MCP_SERVERS) {
      result.skipped.push({ name: fileName, reason: `Hearth keeps at most ${MAX_MCP_SERVERS} servers` });
      continue;
    }
    const input = inputOf(sanitizeServerName(fileName), raw);
    if (typeof input === 'string') {
      result.skipped.push({ name: fileName, reason: input });
      continue;
    }
    const checked = McpServerConfig.safeParse(input);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      result.skipped.push({ name: fileName, reason: `${issue.path.join('.') || 'the entry'}: ${issue.message}` });
      continue;
    }
    input.name = uniqueName(input.name, names);
    const variables = variablesIn(input);
    if (variables.length > 0) {
      input.enabled = false;
      result.notes.push({
        name: input.name,
        note: `its values use ${variables.join(', ')}, which Hearth does not fill in: imported disabled; edit those values, then enable it`,
      });
    }
    if (input.name !== fileName) result.notes.push({ name: input.name, note: `named "${fileName}" in ${label}` });
    result.servers.push(input);
  }
  return result;
}
