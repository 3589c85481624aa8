/**
 * Quitting closes the store and the engine first, whatever started the quit. Electron's `app` is a
 * double here (an EventEmitter with quit()): no Electron binary can be run on our machines.
 */
import { EventEmitter } from 'events';
import { closeBeforeQuit, relaunchingRestart } from '../../main/app/lifecycle';

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

describe('the restart port (a restore, a move of the data folder, an erase of everything)', () => {
  function relaunchDouble() {
    const log: string[] = [];
    const app = { relaunch: (o?: { execPath: string; args: string[] }) => log.push(`relaunch ${o?.execPath ?? 'self'}`), exit: (code: number) => log.push(`exit ${code}`) };
    return { app, log };
  }
  const settle = () => new Promise((r) => setTimeout(r, 10));

  test('closes everything, runs the work, relaunches and exits; once', async () => {
    const { app, log } = relaunchDouble();
    const restart = relaunchingRestart(app, async () => void log.push('closed'), { relaunchOptions: { execPath: '/x.AppImage', args: [] }, log: () => undefined });
    restart('restore', async () => void log.push('work'));
    restart('again', async () => void log.push('work again'));
    await settle();
    expect(log).toEqual(['closed', 'work', 'relaunch /x.AppImage', 'exit 0']);
  });

  test('a failed work still relaunches; a failed close skips the work', async () => {
    for (const failing of ['work', 'close'] as const) {
      const { app, log } = relaunchDouble();
      const said: string[] = [];
      const restart = relaunchingRestart(
        app,
        async () => {
          if (failing === 'close') throw new Error('busy');
          log.push('closed');
        },
        { log: (m) => said.push(m) },
      );
      restart('move', async () => {
        log.push('work');
        throw new Error('disk');
      });
      await settle();
      expect(log).toEqual(failing === 'work' ? ['closed', 'work', 'relaunch self', 'exit 0'] : ['relaunch self', 'exit 0']);
      expect(said.some((m) => m.includes(failing === 'work' ? 'its work failed: disk' : 'closing failed: busy'))).toBe(true);
    }
  });
});
