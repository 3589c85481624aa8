/**
 * The configured MCP servers as one tool source: a connection (./connection.ts) per enabled server,
 * started, stopped and restarted as the configuration changes; their status for the settings page;
 * and every ready server's tools for the call loop, named `<server>__<tool>` (mcpToolName) and keyed
 * `mcp:<server>:<tool>` (mcpKey). Two tools whose names come out the same: the later one is left out
 * (and logged once), so a name always means the same tool.
 */
import type { Logger } from '../../logging';
import { mcpKey, mcpToolName, type McpServerConfig } from '../../params/tools';
import type { ToolDefinition, ToolOutcome, ToolSource } from '../types';
import { McpConnection, type McpConnectionOptions, type McpState } from './connection';
import type { McpTool } from './tool-list';

/** One configured server as the settings page shows it. */
export interface McpServerStatus {
  name: string;
  transport: McpServerConfig['transport'];
  enabled: boolean;
  state: McpState;
  error: string | null;
  stderrTail: string;
  tools: McpTool[];
}

interface Entry {
  config: McpServerConfig;
  conn: McpConnection;
  off: () => void;
}

/** A tool the model can call, with where it goes. */
interface Route {
  def: ToolDefinition;
  entry: Entry;
  tool: string;
}

/** The settings a server's process or URL depends on: a change in them restarts it (the others apply at once). */
function launchKey(config: McpServerConfig): string {
  const sorted = (r: Record<string, string>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return config.transport === 'stdio'
    ? JSON.stringify(['stdio', config.command, config.args, sorted(config.env), config.cwd])
    : JSON.stringify(['http', config.url, sorted(config.headers)]);
}

export class McpManager implements ToolSource {
  private entries = new Map<string, Entry>();
  private readonly listeners = new Set<() => void>();
  /** tool-name collisions already logged */
  private readonly collisions = new Set<string>();
  private readonly log: Logger;

  constructor(private readonly opts: McpConnectionOptions) {
    this.log = opts.logger;
  }

  /**
   * Takes the configured servers: starts the enabled new ones, stops the removed and disabled ones,
   * restarts those whose command, environment, URL or headers changed (a failed server otherwise stays
   * failed until restart). Resolves when every start and
   * stop has ended (a start that fails is the server's failed state; this never rejects).
   */
  async setConfigs(configs: McpServerConfig[]): Promise<void> {
    const next = new Map<string, Entry>();
    const work: Promise<void>[] = [];
    for (const config of configs) {
      if (next.has(config.name)) {
        this.log.warn('mcp: two servers have one name; the later is left out', { server: config.name });
        continue;
      }
      const old = this.entries.get(config.name);
      if (old && launchKey(old.config) === launchKey(config)) {
        old.config = config;
        next.set(config.name, old);
        // a failed server stays failed (restart retries it); a newly enabled or disabled one starts or stops
        const state = old.conn.status().state;
        if (config.enabled && state === 'stopped') work.push(old.conn.start());
        if (!config.enabled && state !== 'stopped') work.push(old.conn.stop());
        continue;
      }
      if (old) work.push(this.drop(old));
      const entry = this.entry(config);
      next.set(config.name, entry);
      if (config.enabled) work.push(entry.conn.start());
    }
    for (const [name, old] of this.entries) if (!next.has(name)) work.push(this.drop(old));
    this.entries = next;
    this.emit();
    await Promise.all(work);
  }

  /** Every configured server, in the configuration's order. */
  status(): McpServerStatus[] {
    return [...this.entries.values()].map(({ config, conn }) => ({
      name: config.name,
      transport: config.transport,
      enabled: config.enabled,
      ...conn.status(),
    }));
  }

  /** Calls `listener` after every change of a server's status or of the configuration; returns its removal. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Restarts a server (a disabled one stays stopped). Throws for a name not configured. */
  async restart(name: string): Promise<void> {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`no MCP server is named "${name}"`);
    if (entry.config.enabled) await entry.conn.restart();
  }

  /** Stops every server (the configuration stays; setConfigs or restart starts them again). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.conn.stop()));
  }

  tools(): ToolDefinition[] {
    return this.routes().map((r) => r.def);
  }

  /** Calls a tool by the name the model sees; an unknown name is an outcome with isError. */
  async call(name: string, args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome> {
    signal.throwIfAborted();
    const route = this.routes().find((r) => r.def.name === name);
    if (!route) return { text: `there is no tool named "${name}" (its MCP server may have stopped)`, isError: true };
    return route.entry.conn.call(route.tool, args, signal, route.entry.config.timeoutSeconds);
  }

  /** The ready servers' tools, named for the model; a name already taken is left out. */
  private routes(): Route[] {
    const routes: Route[] = [];
    const taken = new Map<string, string>();
    for (const entry of this.entries.values()) {
      const { config, conn } = entry;
      const s = conn.status();
      if (!config.enabled || s.state !== 'ready') continue;
      for (const tool of s.tools) {
        const name = mcpToolName(config.name, tool.name);
        const key = mcpKey(config.name, tool.name);
        const first = taken.get(name);
        if (first !== undefined) {
          if (!this.collisions.has(key)) {
            this.collisions.add(key);
            this.log.warn('mcp: two tools have one name for the model; the later is left out', { name, kept: first, left: key });
          }
          continue;
        }
        taken.set(name, key);
        routes.push({
          entry,
          tool: tool.name,
          def: {
            name,
            key,
            description: tool.description,
            parameters: tool.inputSchema,
            source: config.name,
            readsWebOnly: false,
            resultBudgetTokens: config.resultBudgetTokens,
          },
        });
      }
    }
    return routes;
  }

  private entry(config: McpServerConfig): Entry {
    const conn = new McpConnection(config, this.opts);
    const off = conn.onChange(() => this.emit());
    return { config, conn, off };
  }

  private async drop(entry: Entry): Promise<void> {
    await entry.conn.stop();
    entry.off();
  }

  private emit(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (e) {
        this.log.error('mcp: a status listener threw', { error: e instanceof Error ? e.message : String(e) });
      }
    }
  }
}
