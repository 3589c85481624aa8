/**
 * Remote devices: llama.cpp's RPC backend (ggml-rpc) lends the memory and compute of another machine
 * running `rpc-server` (`hearth rpc-server`). An endpoint is `host:port`; the engine host registers the
 * ones it is given (HEARTH_RPC_SERVERS, native/src/rpc.cpp) and their devices then list, estimate, fit
 * and load like local GPUs.
 *
 * ggml-rpc ends the process when it cannot reach a server (at registration and mid-work), so the client
 * first probes every endpoint here (a TCP connection and the protocol's HELLO, bounded in time) and
 * hands the host only the ones that answered; a host that died because a server went away says which
 * one on stderr (rpcLostLine), and the next host starts without it.
 */
import { ChildProcess, spawn } from 'child_process';
import net from 'net';
import { MAX_DEVICES } from '../params';
import { parseEndpoint } from '../params/rpc';

export { parseEndpoint, RpcEndpoint, RpcEndpoints, RPC_DEFAULT_PORT, RPC_SERVERS_MAX } from '../params/rpc';

/** The environment variable that gives the engine host its endpoints (comma-separated). */
export const RPC_SERVERS_ENV = 'HEARTH_RPC_SERVERS';

/**
 * The environment variable that makes the rpc-server program end with the process that started it
 * (native/rpc/parent_watch.cpp): that process keeps the program's stdin open as a pipe and never
 * writes; when it ends in any way, SIGKILL included, the pipe closes and the program stops.
 */
export const RPC_PARENT_WATCH_ENV = 'HEARTH_RPC_PARENT_STDIN';

/**
 * Starts the rpc-server program tied to this process (RPC_PARENT_WATCH_ENV): no rpc-server outlives
 * the process that started it. Its stdout and stderr go where `output` says.
 */
export function spawnRpcServer(binary: string, args: string[], output: 'inherit' | 'pipe'): ChildProcess {
  const child = spawn(binary, args, { stdio: ['pipe', output, output], env: { ...process.env, [RPC_PARENT_WATCH_ENV]: '1' } });
  // never written: only its closing matters; a child already gone must not end this process
  child.stdin!.on('error', () => {});
  return child;
}

/** The RPC protocol version this build speaks (ggml-rpc.h RPC_PROTO_*; test/engine/rpc.test.ts checks the addon's rpcProtocol agrees). */
export const RPC_PROTOCOL = { major: 6, minor: 0 } as const;

/** How long a probe may take per endpoint (connection and HELLO). */
export const RPC_PROBE_TIMEOUT_MS = 3000;

/** Whether a host name or address is this machine's loopback. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** The most devices one rpc-server may lend (llama.cpp's llama_max_devices()). */
export const MAX_RPC_DEVICES = MAX_DEVICES;

/** What a probe found: a server that answered HELLO (with its device count), or why not. */
export type RpcProbe = { endpoint: string; ok: true; devices: number } | { endpoint: string; ok: false; error: string };

const HELLO = 14;
const DEVICE_COUNT = 15;
const CAPS_SIZE = 24;

function request(cmd: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt8(cmd, 0);
  head.writeBigUInt64LE(BigInt(payload.length), 1);
  return Buffer.concat([head, payload]);
}

/**
 * Connects to `endpoint`, says HELLO as ggml-rpc does and asks for the device count; never throws, and
 * answers within `timeoutMs`. An rpc-server serves one client at a time: one busy with another client
 * accepts the connection but answers only when that client leaves, which reads here as a timeout.
 */
export function probeRpc(endpoint: string, timeoutMs = RPC_PROBE_TIMEOUT_MS): Promise<RpcProbe> {
  const where = parseEndpoint(endpoint);
  if (!where) return Promise.resolve({ endpoint, ok: false, error: `${endpoint} is not host:port` });
  return new Promise((resolve) => {
    let done = false;
    let stage: 'connect' | 'hello' | 'devices' = 'connect';
    let buf = Buffer.alloc(0);
    const sock = net.connect({ host: where.host, port: where.port });
    const finish = (r: RpcProbe) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    const fail = (why: string) => finish({ endpoint, ok: false, error: `the RPC server at ${endpoint} ${why}` });
    const timer = setTimeout(
      () => fail(stage === 'connect' ? `did not accept a connection within ${timeoutMs / 1000} s` : `accepted the connection but did not answer within ${timeoutMs / 1000} s (is it an rpc-server, and is another client using it?)`),
      timeoutMs,
    );
    sock.on('error', (e: NodeJS.ErrnoException) => fail(e.code === 'ECONNREFUSED' ? 'refused the connection (is rpc-server running there?)' : `cannot be reached (${e.code ?? e.message})`));
    sock.on('close', () => fail(stage === 'connect' ? 'closed the connection' : 'closed the connection during the handshake (not an rpc-server of this version?)'));
    sock.on('connect', () => {
      stage = 'hello';
      sock.write(request(HELLO, Buffer.alloc(CAPS_SIZE)));
    });
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const want = stage === 'hello' ? 4 + CAPS_SIZE : 4;
      if (buf.length < 8) return;
      const size = Number(buf.readBigUInt64LE(0));
      if (size !== want) return fail(`answered with ${size} bytes where ${want} were expected (not an rpc-server of protocol ${RPC_PROTOCOL.major}.x?)`);
      if (buf.length < 8 + want) return;
      const body = buf.subarray(8, 8 + want);
      buf = buf.subarray(8 + want);
      if (stage === 'hello') {
        const [major, minor, patch] = [body[0], body[1], body[2]];
        if (major !== RPC_PROTOCOL.major || minor > RPC_PROTOCOL.minor) {
          return fail(`speaks RPC protocol ${major}.${minor}.${patch}; this Hearth speaks ${RPC_PROTOCOL.major}.${RPC_PROTOCOL.minor} (run the rpc-server of the same llama.cpp: hearth rpc-server)`);
        }
        stage = 'devices';
        sock.write(request(DEVICE_COUNT, Buffer.alloc(0)));
        return;
      }
      const devices = body.readUInt32LE(0);
      if (devices === 0) return fail('has no devices');
      // ggml-rpc makes a device per unit it is told of: a server claiming thousands is refused
      if (devices > MAX_RPC_DEVICES) return fail(`claims ${devices} devices (at most ${MAX_RPC_DEVICES} are taken from one server)`);
      finish({ endpoint, ok: true, devices });
    });
  });
}

/** Probes every endpoint at once. */
export function probeAll(endpoints: readonly string[], timeoutMs = RPC_PROBE_TIMEOUT_MS): Promise<RpcProbe[]> {
  return Promise.all(endpoints.map((e) => probeRpc(e, timeoutMs)));
}

/** The words the host's abort callback (native/src/rpc.cpp) left on stderr for a lost server, if any. */
export function rpcLostLine(stderrTail: string): string | undefined {
  const m = /^hearth: (remote device lost: .*)$/m.exec(stderrTail);
  return m?.[1].trim();
}

/** The endpoints of HEARTH_RPC_SERVERS (the engine host's side). */
export function rpcServersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env[RPC_SERVERS_ENV] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
