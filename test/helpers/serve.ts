/**
 * `hearth serve` as a user runs it (a real process, the real engine host) and raw-socket tools for
 * talking to it: hand-written HTTP requests and WebSocket frames, sent only to loopback.
 */
import { ChildProcess, spawn } from 'child_process';
import crypto from 'crypto';
import fs from 'fs';
import net from 'net';
import path from 'path';
import { tempDir } from './engine';
import { REPO_ROOT } from './models';

export const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');

export interface Served {
  child: ChildProcess;
  url: URL;
  token: string;
  port: number;
  /** everything the process wrote to stdout and stderr */
  output(): string;
  /** null while the process runs; its exit code or signal once it ended */
  exited(): string | null;
  stop(): Promise<void>;
}

/** Starts `hearth serve --port 0` with extra flags; resolves once it printed its URL. */
export async function serve(flags: string[] = []): Promise<Served> {
  const dataDir = tempDir();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let exit: string | null = null;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const ended = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exit = signal ?? String(code);
      resolve();
    }),
  );
  const printed = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => {
      const m = /^Hearth UI: (\S+)$/m.exec(out);
      if (m) resolve(m[1]);
    });
    void ended.then(() => reject(new Error(`serve exited ${exit}: ${out}`)));
  });
  const url = new URL(printed);
  return {
    child,
    url,
    token: url.searchParams.get('token')!,
    port: Number(url.port),
    output: () => out,
    exited: () => exit,
    stop: async () => {
      if (exit === null) child.kill('SIGTERM');
      await ended;
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs `hearth serve` expecting it to end by itself (a refused option); resolves with its status and output. */
export function serveExit(flags: string[], timeoutMs = 30_000): Promise<{ status: number | null; output: string }> {
  const dataDir = tempDir();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, ...flags], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.on('exit', (status) => {
      clearTimeout(timer);
      fs.rmSync(dataDir, { recursive: true, force: true });
      resolve({ status, output: out });
    }),
  );
}

/**
 * Writes `data` to a fresh connection to 127.0.0.1:port and collects what comes back until the
 * server closes, `timeoutMs` passes, or `until` holds on what arrived. `end` half-closes after the
 * write (the server sees the request end there). Never throws: a reset is an end.
 */
export function rawExchange(port: number, data: Buffer | string, opts: { timeoutMs?: number; until?: (got: Buffer) => boolean; end?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1');
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 5000);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      if (opts.until?.(Buffer.concat(chunks))) finish();
    });
    sock.on('error', finish);
    sock.on('close', finish);
    sock.on('connect', () => (opts.end ? sock.end(data) : sock.write(data, () => undefined)));
  });
}

/** The status code of the first HTTP response in `got`, or 0 when none arrived. */
export function statusOf(got: Buffer): number {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(got.subarray(0, 16).toString('latin1'));
  return m ? Number(m[1]) : 0;
}

/** A client WebSocket frame (masked, as RFC 6455 requires of clients unless `masked` is false). */
export function wsFrame(opcode: number, payload: Buffer, opts: { fin?: boolean; rsv?: number; masked?: boolean; claimedLength?: number } = {}): Buffer {
  const fin = opts.fin ?? true;
  const masked = opts.masked ?? true;
  const len = opts.claimedLength ?? payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opcode & 0x0f)];
  const m = masked ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (len < 126) head.push(m | len);
  else if (len < 65536) {
    head.push(m | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(len);
  } else {
    head.push(m | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(len));
  }
  if (!masked) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4];
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

/** The HTTP request that opens /ws with this token (and Host), ready to be followed by frames. */
export function wsUpgrade(port: number, token: string): string {
  return [
    `GET /ws?token=${encodeURIComponent(token)} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    '',
    '',
  ].join('\r\n');
}

/** Server frames (unmasked) in `buf` after the 101 response: opcode and payload of each complete one. */
export function parseServerFrames(buf: Buffer): { opcode: number; payload: Buffer }[] {
  const start = buf.indexOf('\r\n\r\n');
  if (start < 0) return [];
  const frames: { opcode: number; payload: Buffer }[] = [];
  let i = start + 4;
  while (i + 2 <= buf.length) {
    const opcode = buf[i] & 0x0f;
    let len = buf[i + 1] & 0x7f;
    let p = i + 2;
    if (len === 126) {
      if (p + 2 > buf.length) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    if (p + len > buf.length) break;
    frames.push({ opcode, payload: buf.subarray(p, p + len) });
    i = p + len;
  }
  return frames;
}
