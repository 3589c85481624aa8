/**
 * Browser mode's restart (a restore, a move, an erase of everything): the running server takes the
 * new App's services (BrowserServer.setServices); the open pages' sockets close (1012) and a page
 * reconnecting talks to the new services and gets their events, not the old ones'.
 */
import path from 'path';
import WebSocket from 'ws';
import { BrowserServer } from '../../main/browser/server';
import { ChatApp, chatApp } from '../helpers/chat';
import { collectingLogger } from '../helpers/engine';
import { REPO_ROOT } from '../helpers/models';

let before: ChatApp;
let after: ChatApp;
let server: BrowserServer;

beforeAll(async () => {
  before = chatApp({ model: null });
  after = chatApp({ model: null });
  server = new BrowserServer({ services: before.app.services, host: '127.0.0.1', port: 0, rendererDir: path.join(REPO_ROOT, 'dist', 'renderer'), logger: collectingLogger() });
  await server.listen();
});

afterAll(async () => {
  await server?.close();
  await before?.close();
  await after?.close();
});

async function page(): Promise<{ ws: WebSocket; frames: unknown[]; call(channel: string): Promise<unknown>; closed: Promise<number> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${server.token}`);
  const frames: unknown[] = [];
  let id = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  ws.on('message', (d) => {
    const f = JSON.parse(String(d)) as { id?: number; result?: unknown };
    if (typeof f.id === 'number' && waiting.has(f.id)) waiting.get(f.id)!(f.result);
    else frames.push(f);
  });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  return {
    ws, frames, closed,
    call: (channel) => new Promise((resolve) => {
      const n = ++id;
      waiting.set(n, resolve);
      ws.send(JSON.stringify({ id: n, channel, payload: {} }));
    }),
  };
}

test('setServices closes the pages\' sockets; a new one talks to the new services and gets their events only', async () => {
  const first = await page();
  expect(((await first.call('data.folder')) as { folder: string }).folder).toBe(before.app.services.paths.root);
  server.setServices(after.app.services);
  expect(await first.closed).toBe(1012);
  const second = await page();
  expect(((await second.call('data.folder')) as { folder: string }).folder).toBe(after.app.services.paths.root);
  before.app.services.emit('app.restarting', { reason: 'old' });
  after.app.services.emit('app.restarting', { reason: 'new' });
  await second.call('data.folder'); // the events sent before this answer have arrived
  expect(second.frames).toEqual([{ event: 'app.restarting', payload: { reason: 'new' } }]);
  second.ws.close();
});
