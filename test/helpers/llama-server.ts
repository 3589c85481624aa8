/**
 * llama.cpp's own llama-server, built from the same tree as the addon (built here on first use:
 * scripts/build-native.js --target llama-server, from ccache after the first time), on a free
 * loopback port with a generated model: a real OpenAI-compatible server for the remote provider tests.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { ProviderConfig, type ProviderKind } from '../../main/params';
import type { ProviderAccess } from '../../main/providers/client';
import { ADDON } from './engine';
import { REPO_ROOT } from './models';
import { freePort } from './rpc';

export const LLAMA_SERVER = path.join(path.dirname(ADDON), process.platform === 'win32' ? 'llama-server.exe' : 'llama-server');

export interface LlamaServer {
  /** http://127.0.0.1:<port> */
  url: string;
  child: ChildProcess;
  /** what it logged */
  output(): string;
  close(): Promise<void>;
}

/** Builds llama-server when it is missing (minutes on a cold cache). */
export function ensureLlamaServer(): string {
  if (!fs.existsSync(LLAMA_SERVER)) {
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build-native.js'), '--target', 'llama-server'], { stdio: ['ignore', 2, 2] });
    if (r.status !== 0 || !fs.existsSync(LLAMA_SERVER)) throw new Error('building llama-server failed');
  }
  return LLAMA_SERVER;
}

/** Starts llama-server on `model` (extra arguments after it) and resolves once /health answers 200 (at most `readyMs`). */
export function startLlamaServer(model: string, args: string[] = [], readyMs = 60_000): Promise<LlamaServer> {
  return startWith(['-m', model, ...args], readyMs);
}

/**
 * Starts llama-server as a router over the models in `modelsDir` (each `NAME.gguf` served as NAME,
 * loaded in a child llama-server of its own when asked for; `args` go to the children too). Its
 * children end when it does: they exit at the end of their stdin, a pipe from the router.
 */
export function startLlamaRouter(modelsDir: string, args: string[] = [], readyMs = 60_000): Promise<LlamaServer> {
  return startWith(['--models-dir', modelsDir, ...args], readyMs);
}

async function startWith(args: string[], readyMs: number): Promise<LlamaServer> {
  const bin = ensureLlamaServer();
  const port = await freePort();
  const child = spawn(bin, ['--host', '127.0.0.1', '--port', String(port), '--no-webui', '-t', '1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const url = `http://127.0.0.1:${port}`;
  const server: LlamaServer = {
    url,
    child,
    output: () => out,
    close: async () => {
      if (!exited) child.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exit, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
    },
  };
  const end = Date.now() + readyMs;
  for (;;) {
    if (exited) throw new Error(`llama-server exited: ${out}`);
    const ok = await fetch(`${url}/health`).then((r) => r.status === 200, () => false);
    if (ok) return server;
    if (Date.now() > end) {
      await server.close();
      throw new Error(`llama-server did not get ready within ${readyMs} ms: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A provider's access to the server at `baseUrl` as the clients take it (a local server by default, no key). */
export function serverAccess(baseUrl: string, opts: { apiKey?: string; headers?: Record<string, string>; kind?: ProviderKind } = {}): ProviderAccess {
  return { config: ProviderConfig.parse({ id: 'p1', name: 'Local', kind: opts.kind ?? 'openai-server', baseUrl, headers: opts.headers ?? {} }), apiKey: opts.apiKey ?? null };
}
