/**
 * One page cannot make the local server read or hold many images at once: its socket runs at most
 * IMAGE_CALLS_IN_FLIGHT image requests (images.*), queues the others in order, refuses one past the
 * queue's bound with `busy`, and runs nothing of its queue once it closed. The server runs in this
 * process over real services (real SQLite, a real image store); images.read is wrapped to count the
 * calls running and to hold each until the test lets it go (no timing in the assertions).
 */
import path from 'path';
import WebSocket from 'ws';
import { BrowserServer, LIMITS, type ServerLimits } from '../../main/browser/server';
import { ImageStore } from '../../main/chat/images';
import { contract } from '../../main/ipc/contract';
import { IMAGE_CALLS_IN_FLIGHT, MAX_IMAGE_CHARS } from '../../main/params';
import { ChatApp, chatApp } from '../helpers/chat';
import { collectingLogger } from '../helpers/engine';
import { testPng } from '../helpers/images';
import { REPO_ROOT } from '../helpers/models';

interface Reply {
  id: number;
  ok: boolean;
  result?: { url?: string };
  error?: { code: string; message: string };
}

let chat: ChatApp;
let ref: string;
let url: string;
/** the wrapped images.read: calls started, running now, the most running at once, finished; each call's release */
const reads = { started: 0, running: 0, most: 0, finished: 0 };
const gates: (() => void)[] = [];
const servers: BrowserServer[] = [];
const logger = collectingLogger();

beforeAll(async () => {
  chat = chatApp({ model: null, logger });
  const images = new ImageStore(chat.paths.images);
  const png = testPng(5);
  ref = (await images.add(png, 'a.png')).ref;
  url = `data:image/png;base64,${png.toString('base64')}`;
  chat.app.services.register({
    'images.read': async (r) => {
      reads.started++;
      reads.running++;
      reads.most = Math.max(reads.most, reads.running);
      try {
        await new Promise<void>((resolve) => gates.push(resolve));
        return { url: await images.dataUrl(r.ref) };
      } finally {
        reads.running--;
        reads.finished++;
      }
    },
  });
});

afterEach(async () => {
  // nothing stays held
  while (gates.length) gates.shift()!();
  while (servers.length) await servers.pop()!.close();
});

afterAll(async () => {
  await chat?.close();
});

async function serve(limits: Partial<ServerLimits> = {}): Promise<BrowserServer> {
  const server = new BrowserServer({ services: chat.app.services, host: '127.0.0.1', port: 0, rendererDir: path.join(REPO_ROOT, 'dist', 'renderer'), logger, limits });
  servers.push(server);
  await server.listen();
  return server;
}

/** A page's socket: sends requests, and answers each reply by id. */
async function page(server: BrowserServer) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
  const replies = new Map<number, Reply>();
  const waiters = new Map<number, (r: Reply) => void>();
  ws.on('message', (d) => {
    const m = JSON.parse(d.toString()) as Reply & { event?: string };
    if (m.event !== undefined) return;
    replies.set(m.id, m);
    waiters.get(m.id)?.(m);
  });
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  return {
    ws,
    replies,
    send: (id: number, channel: string, payload: unknown) => ws.send(JSON.stringify({ id, channel, payload })),
    reply: (id: number): Promise<Reply> => (replies.has(id) ? Promise.resolve(replies.get(id)!) : new Promise((resolve) => waiters.set(id, resolve))),
    /** a call that is no image request, answered after every frame sent before it was read by the server */
    async barrier(id: number): Promise<void> {
      ws.send(JSON.stringify({ id, channel: 'threads.list', payload: {} }));
      await this.reply(id);
    },
  };
}

const reset = () => Object.assign(reads, { started: 0, running: 0, most: 0, finished: 0 });

test('many images.read pipelined on one socket never run more than IMAGE_CALLS_IN_FLIGHT at once; each is answered, in order', async () => {
  expect(IMAGE_CALLS_IN_FLIGHT).toBe(2);
  reset();
  const p = await page(await serve());
  const N = 12;
  for (let id = 1; id <= N; id++) p.send(id, 'images.read', { ref });
  // every read has reached the server: two run, the others wait
  await p.barrier(100);
  expect(reads.started).toBe(IMAGE_CALLS_IN_FLIGHT);
  expect(reads.running).toBe(IMAGE_CALLS_IN_FLIGHT);
  expect(p.replies.size).toBe(1);
  // let them go one at a time: each answer lets the next waiting read start
  for (let id = 1; id <= N; id++) {
    gates.shift()!();
    const r = await p.reply(id);
    expect(r).toEqual({ id, ok: true, result: { url } });
    expect(reads.running).toBeLessThanOrEqual(IMAGE_CALLS_IN_FLIGHT);
  }
  expect(reads.started).toBe(N);
  expect(reads.most).toBe(IMAGE_CALLS_IN_FLIGHT);
  // another page's reads are its own: a socket's queue holds no one else back
  const q = await page(servers[0]);
  q.send(1, 'images.read', { ref });
  await q.barrier(2);
  expect(reads.running).toBe(1);
  gates.shift()!();
  expect((await q.reply(1)).ok).toBe(true);
  p.ws.terminate();
  q.ws.terminate();
});

test('past the queue\'s bound an image request is refused busy; what waits on a closed socket never runs', async () => {
  reset();
  const server = await serve({ imageCallsQueued: 3 });
  const p = await page(server);
  for (let id = 1; id <= 7; id++) p.send(id, 'images.read', { ref });
  await p.barrier(100);
  // two run, three wait, the last two are refused at once
  for (const id of [6, 7]) {
    const r = await p.reply(id);
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe('busy');
    expect(r.error?.message).toMatch(/2 image requests running and 3 waiting/);
  }
  expect(reads.started).toBe(2);
  // other channels are not held back by the image queue
  expect((await p.reply(100)).ok).toBe(true);

  // the page goes: its running reads end, the three waiting never start
  await new Promise<void>((resolve) => {
    p.ws.on('close', () => resolve());
    p.ws.close();
  });
  gates.shift()!();
  gates.shift()!();
  while (reads.finished < 2) await new Promise((r) => setImmediate(r));
  // a round trip on another socket: whatever the server would do after those reads has been done
  const q = await page(server);
  await q.barrier(1);
  expect(reads.started).toBe(2);
  expect(gates).toHaveLength(0);
  q.ws.terminate();
});

test('a frame larger than what may wait is refused busy while two run', async () => {
  reset();
  const server = await serve({ imageQueueBytes: 1024 });
  const p = await page(server);
  p.send(1, 'images.read', { ref });
  p.send(2, 'images.read', { ref });
  // small: waits
  p.send(3, 'images.read', { ref });
  // an image to store, larger than the queue's bytes
  p.send(4, 'images.store', { name: 'b.png', data: 'A'.repeat(4096) });
  await p.barrier(100);
  expect((await p.reply(4)).error?.code).toBe('busy');
  expect(p.replies.has(3)).toBe(false);
  for (const id of [1, 2, 3]) {
    gates.shift()!();
    expect((await p.reply(id)).ok).toBe(true);
  }
  p.ws.terminate();
});

test('the largest frame accepted is an image to store, with its longest name escaped and its JSON; hardly more', () => {
  const nameChars = contract['images.store'].request.shape.name.maxLength!;
  const frame = JSON.stringify({ id: Number.MAX_SAFE_INTEGER, channel: 'images.store', payload: { name: '\u0001'.repeat(nameChars), data: '' } });
  expect(LIMITS.maxPayloadBytes).toBeGreaterThanOrEqual(frame.length + MAX_IMAGE_CHARS);
  expect(LIMITS.maxPayloadBytes).toBeLessThan(MAX_IMAGE_CHARS + 64 * 1024);
});
