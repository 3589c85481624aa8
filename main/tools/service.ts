/**
 * The tools domain: the built-ins and the MCP servers as the chat's tool sources (ToolRegistry), the
 * approvals, the secrets, and the tools.* channels. MCP servers' configs live in the store's settings
 * (`mcpServers`) with their env and header values "" there and kept in the secret store
 * (`mcp.<server>.env.<NAME>`, `mcp.<server>.header.<Name>`); a save that leaves a value "" keeps the
 * one stored before. Every change of a server's state or of the tool list is told (tools.changed).
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { IpcError } from '../ipc/contract';
import type { McpServerStatusDTO, ToolsStatusDTO } from '../ipc/tools';
import type { Logger } from '../logging';
import { McpServerConfig, mcpKeyPrefix, type ToolSettings } from '../params';
import type { Handlers, Services } from '../services';
import type { Store } from '../store';
import { ToolApprovals } from './approvals';
import { createBuiltinTools } from './builtins';
import { parseMcpImport } from './mcp/import';
import { knownConfigPaths } from './mcp/import-paths';
import { McpManager } from './mcp/manager';
import { ToolRegistry } from './registry';
import { SecretStore } from '../secrets';
import type { ToolSource } from './types';

/** The most bytes of another app's MCP config read for an import. */
const MAX_IMPORT_BYTES = 1024 * 1024;

const secretName = (server: string, kind: 'env' | 'header', name: string) => `mcp.${server}.${kind}.${name}`;
const serverPrefix = (server: string) => `mcp.${server}.`;

export interface ToolsServiceDeps {
  store: Store;
  services: Services;
  secrets: SecretStore;
  logger: Logger;
  /** extra tool sources (tests) */
  sources?: ToolSource[];
  /** the fetch the built-ins use (default the global one) */
  fetch?: typeof fetch;
  /** where other apps' MCP configs are looked for (default this process's) */
  importEnv?: { platform: NodeJS.Platform; env: NodeJS.ProcessEnv; home: string };
}

export class ToolsService {
  readonly registry: ToolRegistry;
  readonly approvals: ToolApprovals;
  readonly mcp: McpManager;
  private readonly store: Store;

  constructor(private readonly deps: ToolsServiceDeps) {
    this.store = deps.store;
    const { store, secrets, logger } = deps;
    this.mcp = new McpManager({ logger });
    const builtins = createBuiltinTools({ settings: () => this.settings(), secret: (name) => secrets.get(name), ...(deps.fetch ? { fetch: deps.fetch } : {}) });
    this.registry = new ToolRegistry([builtins, this.mcp, ...(deps.sources ?? [])]);
    this.approvals = new ToolApprovals({
      threadGrants: (threadId) => (store.temporary.has(threadId) ? null : { list: () => store.toolGrants.list(threadId), add: (key) => store.toolGrants.add(threadId, key) }),
      alwaysAllowed: () => this.settings().alwaysAllowed,
      allowAlways: (key) => {
        const t = this.settings();
        if (!t.alwaysAllowed.includes(key)) store.settings.set('tools', { ...t, alwaysAllowed: [...t.alwaysAllowed, key] });
        this.changed();
      },
      emit: (threadId, callId, call) => deps.services.emit('tools.call', { threadId, callId, call }),
    });
    this.mcp.onChange(() => this.changed());
    // a deleted chat's grants go (a saved thread's with it, by the foreign key; a temporary chat's from memory)
    deps.services.subscribe((event, payload) => {
      if (event === 'threads.deleted') this.approvals.forget((payload as { id: string }).id);
    });
  }

  settings(): ToolSettings {
    return this.store.settings.get('tools');
  }

  /** Starts the enabled MCP servers (at startup). */
  start(): void {
    this.applyServers();
  }

  async close(): Promise<void> {
    await this.mcp.stopAll();
  }

  /** The stored configs with their secret values, as the manager runs them. */
  private withSecrets(c: McpServerConfig): McpServerConfig {
    const fill = (kind: 'env' | 'header', pairs: Record<string, string>) =>
      Object.fromEntries(Object.entries(pairs).map(([k, v]) => [k, this.deps.secrets.get(secretName(c.name, kind, k)) ?? v]));
    return c.transport === 'stdio' ? { ...c, env: fill('env', c.env) } : { ...c, headers: fill('header', c.headers) };
  }

  private applyServers(): void {
    this.mcp.setConfigs(this.store.settings.get('mcpServers').map((c) => this.withSecrets(c))).catch((e: Error) => this.deps.logger.error(`tools: the MCP servers could not be set: ${e.message}`));
  }

  /** Tells every page the tools' state (a server's state changed, a tool setting, a secret). */
  changed(): void {
    try {
      this.deps.services.emit('tools.changed', this.status());
    } catch (e) {
      this.deps.logger.error(`tools: the status could not be told: ${(e as Error).message}`);
    }
  }

  status(): ToolsStatusDTO {
    const settings = this.settings();
    const stored = new Map(this.store.settings.get('mcpServers').map((c) => [c.name, c]));
    const servers: McpServerStatusDTO[] = this.mcp.status().flatMap((s) => {
      const config = stored.get(s.name);
      return config ? [{ name: s.name, config, state: s.state, error: s.error, stderrTail: s.stderrTail, tools: s.tools }] : [];
    });
    // a server the manager does not run (disabled) is listed as stopped
    for (const [name, config] of stored) if (!servers.some((s) => s.name === name)) servers.push({ name, config, state: 'stopped', error: null, stderrTail: '', tools: [] });
    return {
      tools: this.registry.all().map((d) => ({ name: d.name, key: d.key, description: d.description, source: d.source, alwaysAllowed: settings.alwaysAllowed.includes(d.key) })),
      servers,
      secrets: this.deps.secrets.names().filter((n) => !n.startsWith('mcp.')),
      secretStore: this.deps.secrets.kind,
    };
  }

  /**
   * Adds or changes a server; its secret values go to the secret store ("" keeps the stored value).
   * The settings are written first: a save the store refuses (too many servers) leaves no secret behind
   * for a later server of that name to inherit. Then the secrets: the kept ones under the (new) name,
   * every other one under the old or the new name dropped.
   */
  save(previousName: string | undefined, input: McpServerConfig): ToolsStatusDTO {
    const list = this.store.settings.get('mcpServers');
    const at = previousName !== undefined ? list.findIndex((c) => c.name === previousName) : -1;
    if (previousName !== undefined && at < 0) throw new IpcError('not_found', `there is no MCP server named ${previousName}`);
    if (list.some((c, i) => i !== at && c.name === input.name)) throw new IpcError('invalid_input', `an MCP server named ${input.name} is there already: pick another name`);
    const { secrets } = this.deps;
    const kind = input.transport === 'stdio' ? 'env' : 'header';
    const pairs = input.transport === 'stdio' ? input.env : input.headers;
    /** the values to keep, by secret name: those given, else those stored under the previous name, as they are kept (never decrypted: one this process cannot read stays) */
    const values = new Map<string, string | { keychain: boolean; value: string }>();
    for (const [k, v] of Object.entries(pairs)) {
      const value = v !== '' ? v : previousName !== undefined ? secrets.raw(secretName(previousName, kind, k)) : null;
      if (value !== null) values.set(secretName(input.name, kind, k), value);
    }
    const blank = Object.fromEntries(Object.keys(pairs).map((k) => [k, '']));
    const stripped: McpServerConfig = input.transport === 'stdio' ? { ...input, env: blank } : { ...input, headers: blank };
    const next = [...list];
    if (at >= 0) next[at] = stripped;
    else next.push(stripped);
    this.store.settings.set('mcpServers', next);
    for (const [n, v] of values) {
      if (typeof v === 'string') secrets.set(n, v);
      else secrets.setRaw(n, v);
    }
    // a renamed server's tools are other tools now: what was allowed for the old name goes
    if (previousName !== undefined && previousName !== input.name) this.forgetGrants(previousName);
    const owned = (n: string) => n.startsWith(serverPrefix(input.name)) || (previousName !== undefined && n.startsWith(serverPrefix(previousName)));
    for (const n of secrets.names()) if (owned(n) && !values.has(n)) secrets.set(n, null);
    this.applyServers();
    this.changed();
    return this.status();
  }

  /** Drops what was allowed of a server's tools: always, and for any thread. */
  private forgetGrants(server: string): void {
    const prefix = mcpKeyPrefix(server);
    const t = this.settings();
    if (t.alwaysAllowed.some((k) => k.startsWith(prefix))) this.store.settings.set('tools', { ...t, alwaysAllowed: t.alwaysAllowed.filter((k) => !k.startsWith(prefix)) });
    this.store.toolGrants.deletePrefix(prefix);
  }

  delete(name: string): ToolsStatusDTO {
    const list = this.store.settings.get('mcpServers');
    if (!list.some((c) => c.name === name)) throw new IpcError('not_found', `there is no MCP server named ${name}`);
    this.store.settings.set('mcpServers', list.filter((c) => c.name !== name));
    this.deps.secrets.deletePrefix(serverPrefix(name));
    // a later server of the same name is not the one allowed
    this.forgetGrants(name);
    this.applyServers();
    this.changed();
    return this.status();
  }

  /** Adds the servers of another app's config; a name already there gets a number. */
  import(text: string, filename?: string): { added: string[]; skipped: { name: string; reason: string }[]; notes: { name: string; note: string }[] } {
    // names already taken get a number (parseMcpImport); each config is checked again as it is saved
    let parsed;
    try {
      parsed = parseMcpImport(text, filename, this.store.settings.get('mcpServers').map((c) => c.name));
    } catch (e) {
      throw new IpcError('invalid_input', (e as Error).message);
    }
    const added: string[] = [];
    const skipped = [...parsed.skipped];
    // (parseMcpImport gave every server a name not taken)
    for (const input of parsed.servers) {
      const name = input.name;
      const config = McpServerConfig.safeParse(input);
      if (!config.success) {
        skipped.push({ name: input.name, reason: config.error.issues.map((i) => i.message).join('; ') });
        continue;
      }
      this.save(undefined, config.data);
      added.push(name);
    }
    const notes = parsed.notes.filter((n) => added.includes(n.name));
    return { added, skipped, notes };
  }

  importFile(file: string): { added: string[]; skipped: { name: string; reason: string }[]; notes: { name: string; note: string }[] } {
    const known = this.importSources().some((s) => s.path === file);
    if (!known) throw new IpcError('invalid_input', 'only a config listed by tools.servers.importSources can be imported by path; paste the file\'s text otherwise');
    let text: string;
    try {
      const st = fs.statSync(file);
      if (!st.isFile() || st.size > MAX_IMPORT_BYTES) throw new Error(st.isFile() ? `it is larger than ${MAX_IMPORT_BYTES} bytes` : 'it is not a file');
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new IpcError('not_found', `${file} could not be read: ${(e as Error).message}`);
    }
    return this.import(text, path.basename(file));
  }

  importSources(): { app: string; path: string }[] {
    const env = this.deps.importEnv ?? { platform: process.platform, env: process.env, home: os.homedir() };
    const pathImpl = env.platform === 'win32' ? path.win32 : path.posix;
    return knownConfigPaths(env.platform, env.env, env.home, pathImpl).filter((s) => {
      try {
        return fs.statSync(s.path).isFile();
      } catch {
        return false;
      }
    });
  }

  channels(): Handlers {
    return {
      'tools.status': () => this.status(),
      'tools.servers.save': (r) => this.save(r.previousName, r.config),
      'tools.servers.delete': (r) => this.delete(r.name),
      'tools.servers.restart': async (r) => {
        if (!this.store.settings.get('mcpServers').some((c) => c.name === r.name)) throw new IpcError('not_found', `there is no MCP server named ${r.name}`);
        await this.mcp.restart(r.name);
        return this.status();
      },
      'tools.servers.import': (r) => (r.path !== undefined ? this.importFile(r.path) : this.import(r.text ?? '', r.filename)),
      'tools.servers.importSources': () => ({ sources: this.importSources() }),
      'tools.secrets.set': (r) => {
        this.deps.secrets.set(r.name, r.value);
        this.changed();
        return this.status();
      },
      'tools.pending': (r) => this.approvals.pending(r.threadId),
      'tools.decide': (r) => {
        this.approvals.decide(r.threadId, r.callId, r.decision);
        return { ok: true as const };
      },
    };
  }
}
