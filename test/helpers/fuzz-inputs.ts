/**
 * Seeded malformed inputs for the local server: HTTP requests (targets, methods, headers, bodies,
 * raw bytes) and WebSocket frames (protocol violations, and well-formed frames carrying bad requests).
 */
import { LIMITS } from '../../main/browser/server';
import { splitmix32 } from '../../scripts/make-test-model';
import { wsFrame } from './serve';

export type Rng = () => number;

export function rng(seed: number): Rng {
  const next = splitmix32(seed);
  return () => next() / 2 ** 32;
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

function randomBytes(r: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(r, 0, 255);
  return b;
}

const TARGET_PIECES = ['/', '//', '%', '%0', '%zz', '%00', '%2e%2e', '..', '%2f', '%5c', '\\', '[', ']', '@', '?', '#', '&', '=', 'token=', ':', '%ff', '%c3%28', 'ü', '~', 'api', 'ws', 'index.html', 'app.js', '/api/', '/ws', '%%', '+', ';', '%0d%0a', '*', 'x'.repeat(300)];
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT', 'PATCH', 'get', 'G3T', '', 'GET GET', 'PRI', '\u0000GET'];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/9', '', 'http/1.1', 'HTTP/1.1 extra'];

function target(r: Rng, token: string): string {
  const kind = r();
  if (kind < 0.05) return pick(r, ['*', 'http://evil.example/', 'evil', '', '//[', '/%', '/%00', `//127.0.0.1/?token=${token}`]);
  let t = pick(r, ['/', '/', '/api/', '/ws', '//', '']);
  for (let i = int(r, 0, 6); i > 0; i--) t += pick(r, TARGET_PIECES);
  if (r() < 0.5) t += `${t.includes('?') ? '&' : '?'}token=${r() < 0.8 ? token : pick(r, ['', 'x', token + 'x', '%', token.slice(1)])}`;
  if (r() < 0.03) t += '/'.repeat(int(r, 1000, 20000));
  return t;
}

function headers(r: Rng, port: number, token: string): string[] {
  const host = r() < 0.8 ? `127.0.0.1:${port}` : pick(r, ['', 'evil.example', `localhost:${port}`, `[::1]:${port}`, '[', ':', `127.0.0.1:${port}, evil`, '\u0001', `127.0.0.1:${port + 1}`]);
  const lines: string[] = [];
  if (r() < 0.95) lines.push(`Host: ${host}`);
  if (r() < 0.1) lines.push(`Host: ${pick(r, ['evil.example', `127.0.0.1:${port}`])}`);
  if (r() < 0.2) lines.push(`Origin: ${pick(r, ['null', 'http://[', '', `http://127.0.0.1:${port}`, 'http://evil.example', `https://127.0.0.1:${port}`, 'ws://x', '%'])}`);
  if (r() < 0.2) lines.push(`Authorization: ${pick(r, ['Bearer', 'Bearer ', `Bearer ${token}`, `Bearer ${token}x`, 'Basic Zm9vOmJhcg==', 'Bearer ' + 'a'.repeat(5000)])}`);
  if (r() < 0.1) lines.push(`Cookie: ${pick(r, ['hearth_token=' + token, 'a=b; ; ;', '=;=;', '\u00ff'])}`);
  if (r() < 0.15) lines.push(`Content-Length: ${pick(r, ['-1', 'abc', '99999999999999999999', '5', '0', '1, 2'])}`);
  if (r() < 0.1) lines.push(`Transfer-Encoding: ${pick(r, ['chunked', 'gzip, chunked', 'x', 'chunked, chunked'])}`);
  if (r() < 0.1) lines.push(pick(r, ['no colon here', ': empty name', 'Bad Name: x', 'X-Nul: a\u0000b', 'X-Ctl: \u0007', ' folded: line', 'X-Long: ' + 'v'.repeat(int(r, 100, 40000))]));
  if (r() < 0.08) lines.push('Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${pick(r, ['', 'short', 'dGhlIHNhbXBsZSBub25jZQ=='])}`, `Sec-WebSocket-Version: ${pick(r, ['13', '8', 'x', ''])}`);
  if (r() < 0.5) lines.push('Connection: close');
  return lines;
}

/** One malformed (or borderline) HTTP exchange's bytes. */
export function httpInput(r: Rng, port: number, token: string): Buffer {
  const kind = r();
  if (kind < 0.05) return randomBytes(r, int(r, 1, 2000));
  const method = r() < 0.75 ? pick(r, ['GET', 'GET', 'HEAD']) : pick(r, METHODS);
  const version = r() < 0.85 ? 'HTTP/1.1' : pick(r, VERSIONS);
  const eol = r() < 0.95 ? '\r\n' : pick(r, ['\n', '\r', '\r\r\n']);
  let text = `${method} ${target(r, token)} ${version}${eol}${headers(r, port, token).join(eol)}${eol}${eol}`;
  if (r() < 0.15) text += pick(r, ['0\r\n\r\n', 'zz\r\nabc\r\n', 'hello', '5\r\nabc', 'x'.repeat(3000)]);
  // truncated mid-request, or followed by a second (pipelined) request
  if (r() < 0.1) text = text.slice(0, int(r, 1, text.length));
  else if (r() < 0.05) text += `GET /%zz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
  return Buffer.from(text, r() < 0.9 ? 'utf8' : 'latin1');
}

const BAD_REQUESTS: ((r: Rng) => string)[] = [
  () => 'not json',
  () => '{"id": 1, "channel": ',
  (r) => pick(r, ['1', 'null', '"x"', '[]', 'true', '{}', '[{"id":1}]']),
  (r) => JSON.stringify({ channel: 'app.info', payload: {}, n: r() }),
  (r) => JSON.stringify({ id: pick(r, ['1', 1.5, null, -0.5, {}, [], true, 1e400]), channel: 'app.info', payload: {} }),
  (r) => JSON.stringify({ id: int(r, 1, 1e9) }),
  (r) => JSON.stringify({ id: int(r, 1, 1e9), channel: pick(r, [1, null, {}, [], true]) }),
  (r) => JSON.stringify({ id: int(r, 1, 1e9), channel: pick(r, ['nope', '', 'app.info.x', '__proto__', 'constructor', 'toString', 'a'.repeat(int(r, 101, 5000))]), payload: {} }),
  (r) => JSON.stringify({ id: int(r, 1, 1e9), channel: pick(r, ['threads.get', 'threads.rename', 'search.query', 'settings.update', 'app.info']), payload: pick(r, [{ id: 5 }, { q: '' }, { theme: 'neon' }, { extra: 1 }, 'str', [1], { id: 'x'.repeat(65) }]) }),
  (r) => `{"id": ${int(r, 1, 1e9)}, "channel": "app.info", "payload": {"a": ${'['.repeat(int(r, 10, 3000))}`,
];

/** A well-formed frame carrying a request that is wrong (bad JSON, no id, unknown channel, …): each must get one error reply. */
export function badRequestFrame(r: Rng): Buffer {
  const text = pick(r, BAD_REQUESTS)(r);
  const payload = Buffer.from(text, 'utf8');
  if (r() < 0.15) return wsFrame(0x2, payload); // binary
  if (r() < 0.15 && payload.length > 2) {
    // the same message split in two fragments
    const cut = int(r, 1, payload.length - 1);
    return Buffer.concat([wsFrame(0x1, payload.subarray(0, cut), { fin: false }), wsFrame(0x0, payload.subarray(cut))]);
  }
  return wsFrame(0x1, payload);
}

/** A frame the WebSocket protocol forbids: the server must close the connection (with a code). */
export function protocolViolation(r: Rng): Buffer {
  const k = int(r, 0, 11);
  const junk = randomBytes(r, int(r, 0, 60));
  switch (k) {
    case 0:
      return wsFrame(pick(r, [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), junk);
    case 1:
      return wsFrame(0x1, junk, { rsv: int(r, 1, 7) });
    case 2:
      return wsFrame(0x1, junk, { masked: false });
    case 3:
      return wsFrame(0x9, randomBytes(r, int(r, 126, 300))); // control frame too long
    case 4:
      return wsFrame(0x9, junk, { fin: false }); // fragmented control frame
    case 5:
      return wsFrame(0x0, junk); // continuation with nothing to continue
    case 6:
      return Buffer.concat([wsFrame(0x1, Buffer.from('{"a'), { fin: false }), wsFrame(0x1, Buffer.from('b"}'))]); // new message mid-fragment
    case 7:
      return wsFrame(0x1, Buffer.alloc(0), { claimedLength: int(r, LIMITS.maxPayloadBytes + 1, 2 ** 40) });
    case 8:
      return wsFrame(0x8, Buffer.from([0x03])); // close with a one-byte body
    case 9: {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(pick(r, [0, 999, 1004, 1005, 1006, 1015, 2999, 5000]));
      return wsFrame(0x8, b);
    }
    case 10:
      return wsFrame(0x1, Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0xbc])); // invalid UTF-8
    default:
      return wsFrame(0x8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from([0xff, 0xfe])])); // close reason not UTF-8
  }
}
