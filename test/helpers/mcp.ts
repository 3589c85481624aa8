/**
 * MCP servers for test/tools/mcp*.test.ts: the SDK's reference server (server-everything) and a
 * fixture (test/fixtures/mcp-server.js) over stdio, a Streamable HTTP server built here with the
 * SDK that wants a header, their configurations, and a logger that keeps what it is told.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod/v4'; // the SDK's types with zod 3's API instantiate too deep for tsc
import type { Logger } from '../../main/logging';
import { McpServerConfig, type McpServerInput } from '../../main/params/tools';

export const EVERYTHING = require.resolve('@modelcontextprotocol/server-everything/dist/index.js');
export const FIXTURE = path.join(__dirname, '..', 'fixtures', 'mcp-server.js');

type StdioConfig = Extract<McpServerConfig, { transport: 'stdio' }>;
type StdioInput = Omit<Extract<McpServerInput, { transport: 'stdio' }>, 'transport' | 'command'>;

/** A stdio server run with this Node (`node <script> ...args`). */
export function nodeServer(name: string, script: string, args: string[] = [], more: Partial<StdioInput> = {}): StdioConfig {
  const config = McpServerConfig.parse({ transport: 'stdio', name, command: process.execPath, args: [script, ...args], ...more });
  if (config.transport !== 'stdio') throw new Error('unreachable');
  return config;
}
export const everything = (name = 'everything', more: Partial<StdioInput> = {}) => nodeServer(name, EVERYTHING, ['stdio'], more);
export const fixture = (name = 'fixture', more: Partial<StdioInput> = {}) => nodeServer(name, FIXTURE, [], more);

export interface LogLine {
  level: keyof Logger;
  msg: string;
  meta?: Record<string, unknown>;
}

/** A Logger that keeps its lines. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: keyof Logger) => (msg: string, meta?: Record<string, unknown>) => void lines.push({ level, msg, meta });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Resolves when `check` holds (polled), rejects after `ms`. */
export async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const HTTP_HEADER = 'x-hearth-test-key';
export const HTTP_KEY = 'sesame';

export interface HttpMcp {
  url: string;
  /** the requests it answered, by HTTP method */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A Streamable HTTP MCP server on 127.0.0.1 (stateless: a server and transport per request) with one
 * tool, `add` {a, b}; a request without `HTTP_HEADER: HTTP_KEY` is answered 401.
 */
export async function startHttpMcp(): Promise<HttpMcp> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.method ?? '?');
    if (req.headers[HTTP_HEADER] !== HTTP_KEY) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'no key' }));
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const mcp = new McpServer({ name: 'http-test', version: '1.0.0' });
    const inputSchema = { a: z.number(), b: z.number() };
    const add = async ({ a, b }: { a: number; b: number }): Promise<CallToolResult> => ({ content: [{ type: 'text', text: String(a + b) }] });
    mcp.registerTool('add', { description: 'Adds two numbers', inputSchema }, add);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    mcp
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
