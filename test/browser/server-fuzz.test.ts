/**
 * No request can kill the local server (issue 12, item 9). `hearth serve` runs in its own process so a
 * crash is seen as an exit; every request goes over a raw socket to 127.0.0.1.
 */
import net from 'net';
import WebSocket from 'ws';
import { LIMITS } from '../../main/browser/server';
import { badRequestFrame, httpInput, protocolViolation, rng } from '../helpers/fuzz-inputs';
import { parseServerFrames, rawExchange, serve, Served, statusOf, wsFrame, wsUpgrade } from '../helpers/serve';

/** Bounds of the fuzz: counts, and a wall-clock budget after which the loops stop early. */
const HTTP_REQUESTS = 3000;
const WS_SESSIONS = 400;
const BUDGET_MS = 40_000;
const SEED = 12;

let s: Served;

beforeAll(async () => {
  s = await serve();
});

afterAll(async () => {
  await s?.stop();
});

/** A normal call still works: /api/info with the token, and app.info over the WebSocket. */
async function normalCallsWork(): Promise<void> {
  const info = await rawExchange(s.port, `GET /api/info?token=${s.token} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nConnection: close\r\n\r\n`);
  expect(statusOf(info)).toBe(200);
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws?token=${s.token}`);
  try {
    const reply = await new Promise<{ id: number; ok: boolean; result?: { appVersion?: string } }>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('open', () => ws.send(JSON.stringify({ id: 7, channel: 'app.info', payload: {} })));
      ws.on('message', (d) => {
        const m = JSON.parse(d.toString());
        if (m.id === 7) resolve(m);
      });
    });
    expect(reply.ok).toBe(true);
    expect(typeof reply.result?.appVersion).toBe('string');
  } finally {
    ws.terminate();
  }
  expect(s.exited()).toBeNull();
}

const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nConnection: close\r\n\r\n`;

describe('each request that used to end the process gets an answer', () => {
  test.each([
    ['a protocol-relative target //[ (a path: no such file)', () => get('//['), 404],
    ['a lone percent /%', () => get('/%'), 400],
    ['a NUL byte /%00', () => get('/%00'), 400],
    ['a NUL byte in a file name /app%00.js', () => get('/app%00.js'), 400],
    ['an API call with a bad target /api/%', () => get(`/api/%?token=${s.token}`), 400],
  ])('%s', async (_name, request, status) => {
    const got = await rawExchange(s.port, request());
    expect(statusOf(got)).toBe(status);
    await normalCallsWork();
  });

  test.each([
    ['a frame over the size limit', () => wsFrame(0x1, Buffer.alloc(0), { claimedLength: LIMITS.maxPayloadBytes + 1024 * 1024 }), 1009],
    ['a reserved opcode', () => wsFrame(0x3, Buffer.from('x')), 1002],
    ['an unmasked client frame', () => wsFrame(0x1, Buffer.from('{}'), { masked: false }), 1002],
    ['invalid UTF-8 text', () => wsFrame(0x1, Buffer.from([0xff, 0xfe, 0xfd])), 1007],
  ])('a WebSocket with %s is closed with a code', async (_name, frame, code) => {
    const got = await rawExchange(s.port, Buffer.concat([Buffer.from(wsUpgrade(s.port, s.token)), frame()]));
    expect(statusOf(got)).toBe(101);
    const close = parseServerFrames(got).find((f) => f.opcode === 0x8);
    expect(close?.payload.readUInt16BE(0)).toBe(code);
    await normalCallsWork();
  });
});

/** Runs `count` jobs, `width` at a time, stopping early (and saying so) once `deadline` passes. */
async function pool(count: number, width: number, deadline: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count && Date.now() < deadline) await job(next++);
    }),
  );
  return next;
}

interface Session {
  received: Buffer;
  write(b: Buffer): void;
  /** resolves once `pred` holds on everything received, or false after the timeout / a close */
  until(pred: (got: Buffer) => boolean, timeoutMs?: number): Promise<boolean>;
  close(): void;
}

/** A raw WebSocket session on 127.0.0.1 (upgrade sent at once). */
function openSession(port: number, token: string): Session {
  const sock = net.connect(port, '127.0.0.1');
  const waiters = new Set<() => void>();
  let closed = false;
  const session: Session = {
    received: Buffer.alloc(0),
    write: (b) => void (closed || sock.write(b, () => undefined)),
    until: (pred, timeoutMs = 10_000) =>
      new Promise((resolve) => {
        const check = () => {
          if (pred(session.received)) return done(true);
          if (closed) return done(false);
        };
        const timer = setTimeout(() => done(pred(session.received)), timeoutMs);
        const done = (v: boolean) => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(v);
        };
        waiters.add(check);
        check();
      }),
    close: () => sock.destroy(),
  };
  const wake = () => [...waiters].forEach((w) => w());
  sock.on('data', (c: Buffer) => {
    session.received = Buffer.concat([session.received, c]);
    wake();
  });
  sock.on('error', () => undefined);
  sock.on('close', () => {
    closed = true;
    wake();
  });
  sock.write(wsUpgrade(port, token));
  return session;
}

const dataFrames = (got: Buffer) => parseServerFrames(got).filter((f) => f.opcode === 0x1);
const closeFrame = (got: Buffer) => parseServerFrames(got).find((f) => f.opcode === 0x8);

test('fuzz: thousands of malformed HTTP requests and WebSocket frames; every one answered, the process lives', async () => {
  const started = Date.now();
  const deadline = started + BUDGET_MS;
  const r = rng(SEED);
  const http = { sent: 0, answered: 0, errorsAnswered: 0, closedWithoutAnswer: 0, statuses: {} as Record<number, number> };
  // inputs are drawn up front so the sequence does not depend on timing
  const httpInputs = Array.from({ length: HTTP_REQUESTS }, () => httpInput(r, s.port, s.token));
  http.sent = await pool(HTTP_REQUESTS, 32, deadline, async (i) => {
    // a request cut before its headers end is half-closed there, so the server sees where it stops;
    // others keep the write side open (a half-close may end a connection before its answer is written)
    const cut = !httpInputs[i].includes('\r\n\r\n');
    const got = await rawExchange(s.port, httpInputs[i], { timeoutMs: 3000, end: cut, until: (b) => b.includes('\r\n\r\n') });
    const status = statusOf(got);
    if (status === 0) http.closedWithoutAnswer++;
    else {
      http.answered++;
      http.statuses[status] = (http.statuses[status] ?? 0) + 1;
      if (status >= 400) http.errorsAnswered++;
    }
  });
  expect(s.exited()).toBeNull();

  const ws = { sessions: 0, framesSent: 0, badRequests: 0, errorReplies: 0, okReplies: 0, unanswered: 0, violations: 0, closedWithCode: 0, closeCodes: {} as Record<number, number> };
  const plans = Array.from({ length: WS_SESSIONS }, () => ({
    bad: Array.from({ length: 1 + Math.floor(r() * 10) }, () => badRequestFrame(r)),
    ping: r() < 0.3,
    violation: r() < 0.5 ? protocolViolation(r) : null,
  }));
  ws.sessions = await pool(WS_SESSIONS, 16, deadline, async (i) => {
    const plan = plans[i];
    const session = openSession(s.port, s.token);
    try {
      session.write(Buffer.concat(plan.bad));
      ws.framesSent += plan.bad.length;
      ws.badRequests += plan.bad.length;
      // replies only: events the server pushes meanwhile (models.changed from the folder watch, ...) carry no `ok`
      const repliesIn = (got: Buffer) =>
        dataFrames(got)
          .map((f) => JSON.parse(f.payload.toString()) as { ok?: boolean })
          .filter((m) => 'ok' in m);
      const answered = await session.until((got) => statusOf(got) === 101 && repliesIn(got).length >= plan.bad.length);
      const replies = repliesIn(session.received);
      ws.errorReplies += replies.filter((m) => m.ok === false).length;
      ws.okReplies += replies.filter((m) => m.ok !== false).length;
      if (!answered) ws.unanswered += plan.bad.length - replies.length;
      if (plan.ping) {
        session.write(wsFrame(0x9, Buffer.from('ping')));
        ws.framesSent++;
        await session.until((got) => parseServerFrames(got).some((f) => f.opcode === 0xa));
      }
      const last = plan.violation ?? wsFrame(0x8, Buffer.from([0x03, 0xe8]));
      if (plan.violation) ws.violations++;
      session.write(last);
      ws.framesSent++;
      if (await session.until((got) => closeFrame(got) !== undefined)) {
        const code = closeFrame(session.received)!.payload.readUInt16BE(0);
        ws.closedWithCode++;
        ws.closeCodes[code] = (ws.closeCodes[code] ?? 0) + 1;
      }
    } finally {
      session.close();
    }
  });
  const durationMs = Date.now() - started;
  console.log(`server fuzz (seed ${SEED}, ${durationMs} ms): ${JSON.stringify({ http, ws })}`);

  expect(s.exited()).toBeNull();
  // bounded: the loops ran their counts unless the time budget stopped them first
  expect(http.sent).toBeGreaterThan(0);
  expect(ws.sessions).toBeGreaterThan(0);
  // every malformed request over a good socket got exactly one error reply: never silence
  expect(ws.unanswered).toBe(0);
  expect(ws.okReplies).toBe(0);
  expect(ws.errorReplies).toBe(ws.badRequests);
  // every session ended with a close frame from the server: 1000 echoed, or the violation's code
  expect(ws.closedWithCode).toBe(ws.sessions);
  expect(Object.keys(ws.closeCodes).every((c) => [1000, 1002, 1007, 1009].includes(Number(c)))).toBe(true);
  // every HTTP request got a status line (CONNECT included, which Node alone would drop unanswered)
  expect(http.closedWithoutAnswer).toBe(0);
  expect(http.answered).toBe(http.sent);
  expect(http.statuses[500]).toBeUndefined();
  await normalCallsWork();
  expect(s.output()).not.toMatch(/uncaught|unhandled/i);
});
