/**
 * The transport to one MCP server, from its configuration: a command Hearth starts, spoken to over
 * stdin/stdout (its environment: the SDK's minimal safe one — PATH, HOME and the like — with the
 * server's own variables over it; its stderr kept, the last STDERR_TAIL_CHARS of it), or a Streamable
 * HTTP URL with the configured headers.
 */
import { StringDecoder } from 'node:string_decoder';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { McpServerConfig } from '../../params/tools';

/** How much of a server's stderr is kept (what a failed server's status shows). */
export const STDERR_TAIL_CHARS = 4096;

/** The last STDERR_TAIL_CHARS of what was appended. */
export class TextTail {
  private text = '';
  constructor(private readonly max = STDERR_TAIL_CHARS) {}
  append(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.max);
  }
  clear(): void {
    this.text = '';
  }
  toString(): string {
    return this.text;
  }
}

/** A transport for `config`; a stdio server's stderr goes to `stderr`. */
export function transportFor(config: McpServerConfig, stderr: TextTail): Transport {
  if (config.transport === 'http') {
    return new StreamableHTTPClientTransport(new URL(config.url), { requestInit: { headers: { ...config.headers } } });
  }
  const t = new StdioClientTransport({
    command: config.command,
    args: config.args,
    // the SDK puts these over getDefaultEnvironment() (PATH, HOME, USER, … on POSIX; PATH, APPDATA, … on Windows)
    env: { ...config.env },
    cwd: config.cwd ?? undefined,
    stderr: 'pipe',
  });
  const stream = t.stderr;
  if (stream) {
    const decoder = new StringDecoder('utf8');
    stream.on('data', (chunk: Buffer | string) => stderr.append(typeof chunk === 'string' ? chunk : decoder.write(chunk)));
    stream.on('error', () => {});
  }
  return t;
}
