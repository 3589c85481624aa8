/** llama.cpp's rpc-server (build/bin/ggml-rpc-server) on loopback for tests and the bench: started on a free port, stopped by pid. */
import { ChildProcess } from 'child_process';
import fs from 'fs';
import net from 'net';
import path from 'path';
import { RPC_SERVER_FILE } from '../../main/engine/addon';
import { probeRpc, spawnRpcServer } from '../../main/engine/rpc';
import { ADDON } from './engine';

export const RPC_SERVER = path.join(path.dirname(ADDON), RPC_SERVER_FILE);

/** A TCP port nothing listens on right now (the OS picks it; closed again at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RpcServer {
  endpoint: string;
  port: number;
  child: ChildProcess;
  /** what it printed */
  output(): string;
  /** SIGKILL, and resolves once it exited (at most 10 s) */
  kill(): Promise<void>;
}

/** Starts an rpc-server on 127.0.0.1 (one CPU thread unless told) and resolves once it answers a probe (at most `readyMs`). */
export async function startRpcServer(opts: { threads?: number; readyMs?: number } = {}): Promise<RpcServer> {
  if (!fs.existsSync(RPC_SERVER)) throw new Error(`${RPC_SERVER} is missing: run npm run build:native`);
  const port = await freePort();
  // tied to this process: a test worker that dies leaves no rpc-server behind
  const child = spawnRpcServer(RPC_SERVER, ['--host', '127.0.0.1', '--port', String(port), '--threads', String(opts.threads ?? 1)], 'pipe');
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const endpoint = `127.0.0.1:${port}`;
  const server: RpcServer = {
    endpoint,
    port,
    child,
    output: () => out,
    kill: async () => {
      if (!exited) child.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exit, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
      clearTimeout(timer);
    },
  };
  const end = Date.now() + (opts.readyMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`rpc-server on ${endpoint} exited: ${out}`);
    const p = await probeRpc(endpoint, 2000);
    if (p.ok) return server;
    if (Date.now() > end) {
      await server.kill();
      throw new Error(`rpc-server on ${endpoint} did not answer within ${opts.readyMs ?? 30_000} ms (${p.error}): ${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
