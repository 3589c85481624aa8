/**
 * The command line's remote devices: `--rpc host:port[,host:port]` (devices, fit, run) and
 * `hearth rpc-server`, which starts llama.cpp's rpc-server (built and shipped next to the addon) on a
 * machine that only lends its memory and compute.
 */
import fs from 'fs';
import net from 'net';
import { rpcServerPath } from '../engine/addon';
import { isLoopback, RPC_DEFAULT_PORT, RpcEndpoints, RpcProbe, spawnRpcServer } from '../engine/rpc';
import { intFlag, ParsedArgs, spelling, UsageError } from './args';

/** The endpoints --rpc names (comma-separated), checked; undefined without --rpc. */
export function rpcFlag(parsed: Pick<ParsedArgs, 'flags' | 'spelled'>): string[] | undefined {
  const v = parsed.flags.rpc;
  if (v === undefined) return undefined;
  const list = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const r = RpcEndpoints.safeParse(list);
  if (!r.success || list.length === 0) {
    const why = r.success ? 'names no endpoint' : r.error.issues[0].message;
    throw new UsageError(`${spelling(parsed, 'rpc')} ${why}: give host:port[,host:port] (an rpc-server's endpoint, e.g. 192.168.1.20:${RPC_DEFAULT_PORT})`);
  }
  return r.data;
}

/** The endpoints that did not answer, as one error (the command fails with it); none: nothing. */
export function checkRpcProbes(probes: RpcProbe[]): void {
  const bad = probes.filter((p): p is Extract<RpcProbe, { ok: false }> => !p.ok);
  if (bad.length) throw new Error(bad.map((b) => b.error).join('; '));
}

/** The warning `hearth rpc-server` prints: always, and loudly beyond loopback. */
export function rpcServerWarning(host: string, port: number): string {
  const base = `warning: the RPC protocol has no authentication and no encryption: anyone who can connect to ${host}:${port} can run work on this machine and read or write the memory it lends.`;
  if (isLoopback(host)) return `${base} It listens on loopback only: other machines cannot reach it (give --host to lend this machine to another one on a network you trust).\n`;
  const bar = '!'.repeat(78);
  return [
    bar,
    `WARNING: rpc-server listens on ${host}, beyond this machine.`,
    base,
    'Run it only on a network you trust, never on one open to the internet; stop it (Ctrl+C) when the other machine is done.',
    bar,
    '',
  ].join('\n');
}

/** Whether host:port is free to listen on (what rpc-server would bind), so a taken port is an error here rather than rpc-server's silent exit. */
function portFree(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'EADDRINUSE' ? `${host}:${port} is in use (another rpc-server?): choose another --port` : `cannot listen on ${host}:${port} (${e.code ?? e.message})`));
    s.listen({ host, port, exclusive: true }, () => s.close(() => resolve(null)));
  });
}

/**
 * hearth rpc-server [--host H] [--port P] [--threads N]: runs the bundled rpc-server in the
 * foreground until Ctrl+C (or SIGTERM), which it passes on; killed in a way it cannot pass on
 * (SIGKILL), the rpc-server ends with it (spawnRpcServer). Exit code: 0 when stopped so, 1 when the
 * server ended by itself.
 */
export async function rpcServerCommand(parsed: Pick<ParsedArgs, 'flags' | 'spelled'>, opts: { binary?: string } = {}): Promise<number> {
  const { flags } = parsed;
  if (flags.mem !== undefined) {
    throw new UsageError(
      `${spelling(parsed, 'mem')}: the rpc-server of this llama.cpp has no memory limit: it lends what its device reports free. Limit what the other machine puts here with its load settings (GPU layers, tensor split)`,
    );
  }
  const host = typeof flags.host === 'string' ? flags.host.trim() : '127.0.0.1';
  if (!host) throw new UsageError(`${spelling(parsed, 'host')} needs an address to listen on`);
  const port = intFlag(parsed, 'port', RPC_DEFAULT_PORT)!;
  if (port < 1 || port > 65535) throw new UsageError(`${spelling(parsed, 'port')} must be 1-65535, not ${port}`);
  const threads = intFlag(parsed, 'threads');
  if (threads !== undefined && (threads < 1 || threads > 1024)) throw new UsageError(`${spelling(parsed, 'threads')} must be 1-1024, not ${threads}`);
  const binary = opts.binary ?? rpcServerPath();
  if (!fs.existsSync(binary)) {
    throw Object.assign(new Error(`rpc-server is missing at ${binary}: build it with node scripts/build-native.js --target rpc-server`), { code: 'addon_missing' });
  }
  const taken = await portFree(host, port);
  if (taken) throw new UsageError(taken);
  process.stderr.write(rpcServerWarning(host, port));
  const args = ['--host', host, '--port', String(port), ...(threads !== undefined ? ['--threads', String(threads)] : [])];
  const child = spawnRpcServer(binary, args, 'inherit');
  let stopping = false;
  const pass = (sig: NodeJS.Signals) => () => {
    stopping = true;
    child.kill(sig);
  };
  const onInt = pass('SIGINT');
  const onTerm = pass('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.stdout.write(
    isLoopback(host)
      ? `lending this machine's devices at ${host}:${port}: reachable from this machine only (give --host to lend it to another machine); use it here with hearth devices --rpc 127.0.0.1:${port}, or in Settings → Hardware\n`
      : `lending this machine's devices at ${host}:${port}: add it on the other machine with hearth devices --rpc <this machine's address>:${port}, or in Settings → Hardware\n`,
  );
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('error', (e) => {
        process.stderr.write(`hearth: rpc-server did not start: ${e.message}\n`);
        resolve({ code: 1, signal: null });
      });
      child.once('exit', (c, s) => resolve({ code: c, signal: s }));
    });
    if (stopping) return 0;
    process.stderr.write(`hearth: rpc-server stopped by itself (${signal ? `signal ${signal}` : `exit code ${code}`})\n`);
    return 1;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
