/**
 * Quitting closes the store and the engine first, whatever started the quit. Electron's `app` is a
 * double here (an EventEmitter with quit()): no Electron binary can be run on our machines.
 */
import { EventEmitter } from 'events';
import { closeBeforeQuit } from '../../main/app/lifecycle';

function appDouble() {
  const em = new EventEmitter();
  const log: string[] = [];
  const app = {
    on: (ev: 'before-quit', fn: (e: { preventDefault(): void }) => void) => em.on(ev, fn),
    // what Electron does: quit() emits before-quit, and quits unless a listener prevented it
    quit: () => {
      let prevented = false;
      em.emit('before-quit', { preventDefault: () => (prevented = true) });
      log.push(prevented ? 'quit held' : 'quit');
    },
  };
  return { app, log };
}

test('a quit (Cmd+Q, the menu, the last window) waits for closing, then quits once', async () => {
  const { app, log } = appDouble();
  let release!: () => void;
  const closed = new Promise<void>((r) => (release = r));
  let closes = 0;
  closeBeforeQuit(app, async () => {
    closes++;
    log.push('closing');
    await closed;
    log.push('closed');
  });
  app.quit();
  app.quit(); // pressed twice while closing: held, not closed twice
  await new Promise((r) => setImmediate(r));
  expect(log).toEqual(['quit held', 'quit held', 'closing']);
  release();
  await new Promise((r) => setImmediate(r));
  expect(log).toEqual(['quit held', 'quit held', 'closing', 'closed', 'quit']);
  expect(closes).toBe(1);
});

test('a close that fails still quits', async () => {
  const { app, log } = appDouble();
  closeBeforeQuit(app, async () => {
    throw new Error('disk gone');
  });
  app.quit();
  await new Promise((r) => setImmediate(r));
  expect(log).toEqual(['quit held', 'quit']);
});
