/**
 * The command line's remote devices as a user runs them: `hearth devices --rpc` against real
 * rpc-servers on loopback, and `hearth rpc-server` (the bundled llama.cpp rpc-server) started, probed
 * and stopped. Every wait is bounded.
 */
import { spawn, spawnSync } from 'child_process';
import net from 'net';
import path from 'path';
import { rpcServerWarning } from '../../main/cli/rpc';
import { probeRpc } from '../../main/engine/rpc';
import { untilValue } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';
import { freePort, RpcServer, startRpcServer } from '../helpers/rpc';

jest.setTimeout(120_000);

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');
const hearth = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 90_000 });

let a: RpcServer;
let b: RpcServer;

beforeAll(async () => {
  [a, b] = await Promise.all([startRpcServer(), startRpcServer()]);
});

afterAll(async () => {
  await Promise.all([a?.kill(), b?.kill()]);
});

describe('hearth devices --rpc', () => {
  test('lists the rpc-servers\' devices with their memory beside the local ones', () => {
    const r = hearth(['devices', '--rpc', `${a.endpoint},${b.endpoint}`, '--json']);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const out = JSON.parse(r.stdout) as { devices: { backend: string; description: string; type: string; memoryTotal: number; memoryFree: number }[]; rpc: unknown[] };
    const rpc = out.devices.filter((d) => d.backend === 'RPC');
    expect(rpc.map((d) => d.description)).toEqual([a.endpoint, b.endpoint]);
    for (const d of rpc) expect(d.memoryTotal).toBeGreaterThan(0);
    expect(out.rpc).toEqual([
      { endpoint: a.endpoint, ok: true, devices: 1 },
      { endpoint: b.endpoint, ok: true, devices: 1 },
    ]);
    const text = hearth(['devices', '--rpc', a.endpoint]);
    expect(text.status).toBe(0);
    // llama.cpp numbers remote devices first: the rpc-server's is GPU 0, the number Main GPU takes
    expect(text.stdout).toMatch(new RegExp(`RPC/RPC0  gpu \\(GPU 0\\)  ${a.endpoint.replace(/\./g, '\\.')}  \\d+\\.\\d / \\d+\\.\\d GiB free`));
  });

  test('an endpoint nobody answers on is the command\'s error, in one line; a malformed one is refused before anything starts', async () => {
    const closed = await freePort();
    const r = hearth(['devices', '--rpc', `127.0.0.1:${closed}`]);
    expect({ status: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({ status: 1, stderr: `hearth: the RPC server at 127.0.0.1:${closed} refused the connection (is rpc-server running there?)\n`, stdout: '' });
    const bad = hearth(['devices', '--rpc', 'nohost']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('hearth: --rpc must be host:port (e.g. 192.168.1.20:50052; an IPv6 address in brackets): give host:port[,host:port] (an rpc-server\'s endpoint, e.g. 192.168.1.20:50052)\n');
    expect(hearth(['devices', '--rpc', `${a.endpoint},${a.endpoint}`]).stderr).toMatch(/^hearth: --rpc lists an endpoint twice/);
  });
});

describe('hearth rpc-server', () => {
  test('starts the bundled rpc-server on loopback with the warning, answers the protocol, and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'rpc-server', '--port', String(port), '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const probe = await untilValue(async () => {
        const p = await probeRpc(`127.0.0.1:${port}`, 1000);
        return p.ok ? p : undefined;
      }, 'hearth rpc-server to answer', 30_000);
      expect(probe).toEqual({ endpoint: `127.0.0.1:${port}`, ok: true, devices: 1 });
      expect(err).toContain('warning: the RPC protocol has no authentication and no encryption');
      expect(err).toContain('It listens on loopback only');
      expect(out).toContain(`lending this machine's devices at 127.0.0.1:${port}: reachable from this machine only (give --host to lend it to another machine)`);
      expect(out).not.toContain('on the other machine');
    } finally {
      child.kill('SIGTERM');
    }
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<string>((r) => (timer = setTimeout(() => r('still running'), 10_000)))]);
    clearTimeout(timer);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(0);
  });

  test('killed with SIGKILL (nothing to pass on), its rpc-server ends too and stops listening', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const child = spawn(process.execPath, [BIN, 'rpc-server', '--port', String(port), '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    try {
      await untilValue(async () => ((await probeRpc(endpoint, 1000)).ok ? true : undefined), 'hearth rpc-server to answer', 30_000);
      child.kill('SIGKILL');
      // refused: nothing listens (a probe that meets the server while it exits sees a reset instead)
      const gone = await untilValue(async () => {
        const p = await probeRpc(endpoint, 1000);
        return !p.ok && /refused the connection/.test(p.error) ? p.error : undefined;
      }, 'the orphaned rpc-server to stop listening', 10_000);
      expect(gone).toBe(`the RPC server at ${endpoint} refused the connection (is rpc-server running there?)`);
    } finally {
      child.kill('SIGKILL');
      // what an orphan the check found would otherwise leave running
      if (process.platform !== 'win32') spawnSync('pkill', ['-KILL', '-f', `ggml-rpc-server --host 127.0.0.1 --port ${port} `]);
    }
  });

  test('a taken port, --mem and a bad --port are clear errors', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const r = hearth(['rpc-server', '--port', String(port)]);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: `hearth: 127.0.0.1:${port} is in use (another rpc-server?): choose another --port\n` });
    } finally {
      taken.close();
    }
    expect(hearth(['rpc-server', '--mem', '1024']).stderr).toMatch(/^hearth: --mem: the rpc-server of this llama\.cpp has no memory limit/);
    expect(hearth(['rpc-server', '--port', '70000']).stderr).toBe('hearth: --port must be 1-65535, not 70000\n');
  });

  test('beyond loopback the warning is loud', () => {
    const w = rpcServerWarning('0.0.0.0', 50052);
    expect(w).toMatch(/^!{78}\nWARNING: rpc-server listens on 0\.0\.0\.0, beyond this machine\./);
    expect(w).toContain('anyone who can connect to 0.0.0.0:50052 can run work on this machine');
    expect(w).toContain('never on one open to the internet');
    expect(rpcServerWarning('127.0.0.1', 50052)).not.toContain('WARNING');
    expect(rpcServerWarning('localhost', 1)).not.toContain('WARNING');
  });
});
