/**
 * Quitting closes the store and the engine first, however the quit came (the last window closed,
 * Cmd+Q, the menu's Quit, app.quit()): Electron emits `before-quit` for all of them but
 * `window-all-closed` for the first only. The first quit is held until closing settled (or failed),
 * then quits again; that second one passes.
 */
export interface QuittingApp {
  on(event: 'before-quit', listener: (e: { preventDefault(): void }) => void): unknown;
  quit(): void;
}

export function closeBeforeQuit(app: QuittingApp, close: () => Promise<void>): void {
  let state: 'running' | 'closing' | 'closed' = 'running';
  app.on('before-quit', (e) => {
    if (state === 'closed') return;
    e.preventDefault();
    if (state === 'closing') return;
    state = 'closing';
    void Promise.resolve()
      .then(close)
      .catch(() => undefined) // quit even if closing fails (utilityProcesses end with main)
      .finally(() => {
        state = 'closed';
        app.quit();
      });
  });
}

export interface RelaunchingApp {
  relaunch(options?: { execPath: string; args: string[] }): void;
  exit(code: number): void;
}

/**
 * The app's restart port (main/data/restart.ts): closes everything, runs `work` (skipped when closing
 * failed: the files may still be open), then relaunches Hearth and exits. Once only.
 */
export function relaunchingRestart(
  app: RelaunchingApp,
  close: () => Promise<void>,
  opts: { relaunchOptions?: { execPath: string; args: string[] }; log: (message: string) => void },
): (reason: string, work: () => Promise<void>) => void {
  let started = false;
  return (reason, work) => {
    if (started) return;
    started = true;
    opts.log(`restarting: ${reason}`);
    void (async () => {
      let closed = false;
      try {
        await close();
        closed = true;
        await work();
      } catch (e) {
        opts.log(`restart (${reason}): ${closed ? 'its work' : 'closing'} failed: ${(e as Error).message}`);
      }
      app.relaunch(opts.relaunchOptions);
      app.exit(0);
    })();
  };
}
