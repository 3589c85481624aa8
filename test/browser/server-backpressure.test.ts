/**
 * A page that stops reading cannot make the local server buffer without bound (issue 12, item 9):
 * its socket is dropped once its unsent output passes the limit, while a page that reads keeps every
 * event. The server runs in this process with a small limit, over real services (real SQLite, an
 * engine client that is never started: events are emitted directly, as the chat service does).
 */
import net from 'net';
import WebSocket from 'ws';
import { BrowserServer } from '../../main/browser/server';
import { ChatApp, chatApp } from '../helpers/chat';
import { collectingLogger } from '../helpers/engine';
import { statusOf, wsUpgrade } from '../helpers/serve';
import { REPO_ROOT } from '../helpers/models';
import path from 'path';

const LIMIT = 256 * 1024;
let chat: ChatApp;
let server: BrowserServer;
const logger = collectingLogger();

beforeAll(async () => {
  chat = chatApp({ model: null, logger });
  server = new BrowserServer({ services: chat.app.services, host: '127.0.0.1', port: 0, rendererDir: path.join(REPO_ROOT, 'dist', 'renderer'), logger, limits: { maxBufferedBytes: LIMIT } });
  await server.listen();
});

afterAll(async () => {
  await server?.close();
  await chat?.close();
});

test('a socket that stops reading is dropped past the buffered-output limit; a reading one gets every event', async () => {
  // the stalled page: a raw socket that completes the upgrade, then never reads again
  const stalled = net.connect(server.port, '127.0.0.1');
  stalled.on('error', () => undefined);
  let head = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    stalled.on('data', function onData(c: Buffer) {
      head = Buffer.concat([head, c]);
      if (head.includes('\r\n\r\n')) {
        stalled.off('data', onData);
        stalled.pause();
        resolve();
      }
    });
    stalled.write(wsUpgrade(server.port, server.token));
  });
  expect(statusOf(head)).toBe(101);

  // the reading page
  const reader = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
  let received = 0;
  reader.on('message', () => received++);
  await new Promise((resolve, reject) => {
    reader.on('open', resolve);
    reader.on('error', reject);
  });

  const content = 'x'.repeat(64 * 1024);
  let emitted = 0;
  const dropped = () => logger.lines.some((l) => l.includes('browser socket dropped'));
  while (!dropped() && emitted < 2000) {
    chat.app.services.emit('chat.piece', { threadId: 't', messageId: 'm', content, reasoning: '' });
    emitted++;
    await new Promise((r) => setImmediate(r));
  }
  console.log(`stalled socket dropped after ${emitted} events of 64 KiB (limit ${LIMIT} bytes unsent, plus what the kernel buffers)`);
  expect(dropped()).toBe(true);
  // the reader was not dropped and got every event
  await new Promise<void>((resolve) => {
    const t = setInterval(() => received >= emitted && (clearInterval(t), resolve()), 20);
  });
  expect(received).toBe(emitted);
  expect(reader.readyState).toBe(WebSocket.OPEN);
  // the stalled socket, read again, finds its connection closed
  const closed = new Promise<void>((resolve) => stalled.on('close', () => resolve()));
  stalled.on('data', () => undefined);
  stalled.resume();
  await closed;
  reader.terminate();
});
