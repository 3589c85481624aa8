/**
 * One MCP server: started (connected, its tools listed), called, stopped. Its state is explicit —
 * stopped, starting, ready, failed (with the error and the tail of its stderr) — and every change is
 * told to onChange's listeners. Nothing leaves an event handler: a server that ends while Hearth talks
 * to it fails its pending calls as outcomes and the connection as state, never as an exception.
 *
 * - start: connects (the transport from ./transport.ts) and lists the tools (./tool-list.ts) within
 *   `startTimeoutMs`; a failure is the failed state, never a rejection.
 * - tools/list_changed from the server: the tools are listed again.
 * - call: the tool's result as an outcome (./content.ts); the server's error, a time-out or the server
 *   ending are outcomes with isError; only `signal` aborting rejects.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../logging';
import type { McpServerConfig } from '../../params/tools';
import type { ToolOutcome } from '../types';
import { outcomeOf } from './content';
import { listAllTools, type McpTool } from './tool-list';
import { TextTail, transportFor } from './transport';

export const MCP_STATES = ['stopped', 'starting', 'ready', 'failed'] as const;
export type McpState = (typeof MCP_STATES)[number];

/** How long a server has to connect and list its tools. */
export const MCP_START_TIMEOUT_MS = 30_000;
/** How long tools/list may take when the server says its tools changed. */
const RELIST_TIMEOUT_MS = 30_000;
/** How long a failed call waits for the rest of an ended server's stderr before it quotes it. */
const STDERR_SETTLE_MS = 50;
/** The longest error message a status or an outcome carries. */
const MAX_ERROR_CHARS = 2000;

export interface McpConnectionStatus {
  state: McpState;
  /** why it failed (failed only) */
  error: string | null;
  /** the last characters the server wrote to stderr (stdio servers) */
  stderrTail: string;
  /** its tools (ready only) */
  tools: McpTool[];
}

export interface McpConnectionOptions {
  logger: Logger;
  startTimeoutMs?: number;
  /** how Hearth introduces itself to the server */
  clientInfo?: { name: string; version: string };
}

function messageOf(e: unknown): string {
  let m = e instanceof Error ? e.message : String(e);
  if (e instanceof StreamableHTTPError && typeof e.code === 'number' && e.code > 0) {
    m = `the server answered HTTP ${e.code}: ${m.replace(/^Streamable HTTP error: /, '')}`;
  }
  return m.length > MAX_ERROR_CHARS ? `${m.slice(0, MAX_ERROR_CHARS)}…` : m;
}

/** A start's failure in words: a command that cannot be run is named. */
function startError(config: McpServerConfig, e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  if (config.transport === 'stdio' && (code === 'ENOENT' || code === 'EACCES')) {
    return `could not run "${config.command}": ${code === 'ENOENT' ? 'no such command' : 'permission denied'} (${code})`;
  }
  if (e instanceof McpError && e.code === ErrorCode.ConnectionClosed) return 'the server ended before it was ready';
  return messageOf(e);
}

export class McpConnection {
  private state: McpState = 'stopped';
  private error: string | null = null;
  private toolList: McpTool[] = [];
  private readonly stderr = new TextTail();
  private client: Client | null = null;
  /** bumped by every start and stop: what an older one's callbacks find changed, they leave alone */
  private generation = 0;
  private starting: Promise<void> | null = null;
  private listSeq = 0;
  private readonly listeners = new Set<() => void>();
  private readonly log: Logger;

  constructor(
    readonly config: McpServerConfig,
    private readonly opts: McpConnectionOptions,
  ) {
    this.log = opts.logger;
  }

  get name(): string {
    return this.config.name;
  }

  status(): McpConnectionStatus {
    return { state: this.state, error: this.error, stderrTail: this.stderr.toString(), tools: [...this.toolList] };
  }

  /** Calls `listener` after every change of status; returns its removal. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Connects and lists the tools; resolves when ready or failed (never rejects). */
  start(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.starting) return this.starting;
    const gen = ++this.generation;
    const p: Promise<void> = this.open(gen).finally(() => {
      if (this.starting === p) this.starting = null;
    });
    this.starting = p;
    return p;
  }

  /** Disconnects (a stdio server's process is ended); its pending calls end as outcomes. */
  async stop(): Promise<void> {
    this.generation++;
    this.starting = null;
    const client = this.client;
    this.client = null;
    this.toolList = [];
    this.set('stopped', null);
    await this.closeClient(client);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Calls a tool of this server (see the file's comment); rejects only when `signal` aborts. */
  async call(tool: string, args: Record<string, unknown>, signal: AbortSignal, timeoutSeconds = this.config.timeoutSeconds): Promise<ToolOutcome> {
    signal.throwIfAborted();
    const client = this.client;
    if (this.state !== 'ready' || !client) {
      return { text: `the MCP server "${this.name}" is not running${this.error ? ` (${this.error})` : ''}`, isError: true };
    }
    const gen = this.generation;
    try {
      const result = await client.callTool({ name: tool, arguments: args }, undefined, { signal, timeout: timeoutSeconds * 1000 });
      return outcomeOf(result);
    } catch (e) {
      if (signal.aborted) throw signal.reason ?? e;
      return this.failedCall(gen, e, timeoutSeconds);
    }
  }

  private async open(gen: number): Promise<void> {
    const { config } = this;
    const startTimeoutMs = this.opts.startTimeoutMs ?? MCP_START_TIMEOUT_MS;
    this.stderr.clear();
    this.toolList = [];
    this.set('starting', null);
    const client = new Client(this.opts.clientInfo ?? { name: 'Hearth', version: '0' }, { capabilities: {} });
    this.client = client;
    client.onerror = (e) => this.safely(() => this.log.debug('mcp: transport error', { server: this.name, error: messageOf(e) }));
    client.onclose = () => this.safely(() => this.closed(gen));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      this.relist(gen, client);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the server did not start within ${Math.round(startTimeoutMs / 1000)} s`)), startTimeoutMs);
    });
    try {
      const connected = (async () => {
        await client.connect(transportFor(config, this.stderr), { timeout: startTimeoutMs });
        return listAllTools((cursor) => client.listTools(cursor ? { cursor } : undefined, { timeout: startTimeoutMs }));
      })();
      const list = await Promise.race([connected, timeout]);
      if (gen !== this.generation) return;
      for (const r of list.rejected) this.log.warn('mcp: a tool is left out', { server: this.name, reason: r });
      this.toolList = list.tools;
      this.set('ready', null);
      this.log.info('mcp: server ready', { server: this.name, tools: list.tools.length });
    } catch (e) {
      if (gen !== this.generation) return;
      await this.fail(gen, startError(config, e));
    } finally {
      clearTimeout(timer);
    }
  }

  /** The client closed (the server ended, or Hearth closed it). */
  private closed(gen: number): void {
    // a start in progress fails through its own rejection; a stop already said stopped
    if (gen !== this.generation || this.state !== 'ready') return;
    void this.fail(gen, 'the server ended');
  }

  private async fail(gen: number, error: string): Promise<void> {
    if (gen !== this.generation || this.state === 'failed') return;
    const client = this.client;
    this.client = null;
    this.toolList = [];
    this.set('failed', error);
    this.log.warn('mcp: server failed', { server: this.name, error });
    await this.closeClient(client);
  }

  private async failedCall(gen: number, e: unknown, timeoutSeconds: number): Promise<ToolOutcome> {
    if (e instanceof McpError && e.code === ErrorCode.RequestTimeout) {
      return { text: `the server did not answer within ${timeoutSeconds} s`, isError: true };
    }
    if (e instanceof McpError && e.code === ErrorCode.ConnectionClosed) {
      if (gen !== this.generation) return { text: 'the server was stopped during the call', isError: true };
      await new Promise((r) => setTimeout(r, STDERR_SETTLE_MS));
      await this.fail(gen, 'the server ended');
      const tail = this.stderr.toString().trim();
      return { text: `the server ended${tail ? `: ${tail}` : ''}`, isError: true };
    }
    if (e instanceof McpError) return { text: `the server answered with an error: ${messageOf(e)}`, isError: true };
    return { text: `the call failed: ${messageOf(e)}`, isError: true };
  }

  /** Lists the tools again (tools/list_changed); the newest listing wins, a failed one is logged. */
  private relist(gen: number, client: Client): void {
    const seq = ++this.listSeq;
    listAllTools((cursor) => client.listTools(cursor ? { cursor } : undefined, { timeout: RELIST_TIMEOUT_MS })).then(
      (list) => {
        if (gen !== this.generation || seq !== this.listSeq || this.state !== 'ready') return;
        for (const r of list.rejected) this.log.warn('mcp: a tool is left out', { server: this.name, reason: r });
        this.toolList = list.tools;
        this.emit();
      },
      (e: unknown) => this.safely(() => this.log.warn('mcp: listing the changed tools failed', { server: this.name, error: messageOf(e) })),
    );
  }

  private set(state: McpState, error: string | null): void {
    this.state = state;
    this.error = error;
    this.emit();
  }

  private emit(): void {
    for (const l of this.listeners) this.safely(l);
  }

  private async closeClient(client: Client | null): Promise<void> {
    if (!client) return;
    try {
      // a Streamable HTTP session is ended on the server (an HTTP DELETE, as the spec asks of clients), within a few seconds
      const transport = client.transport as { terminateSession?: () => Promise<void> } | undefined;
      if (transport?.terminateSession) {
        await Promise.race([transport.terminateSession().catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref?.())]);
      }
    } catch (e) {
      this.safely(() => this.log.debug('mcp: ending the session failed', { server: this.name, error: messageOf(e) }));
    }
    try {
      await client.close();
    } catch (e) {
      this.safely(() => this.log.debug('mcp: closing failed', { server: this.name, error: messageOf(e) }));
    }
  }

  /** Runs `f` so that nothing it throws leaves an event handler. */
  private safely(f: () => void): void {
    try {
      f();
    } catch (e) {
      try {
        this.log.error('mcp: a listener threw', { server: this.name, error: messageOf(e) });
      } catch {
        // the logger itself failed: nothing left to tell
      }
    }
  }
}
