/**
 * The restart port: what a host (Electron's main, `hearth serve`) gives composeApp so that a restore,
 * a move of the data folder or an erase of everything can swap files while nothing has them open.
 * The host closes the App, runs `work`, then starts again (on the data folder resolveDataDir now gives).
 */
import { IpcError } from '../ipc/contract';

export type RestartPort = (reason: string, work: () => Promise<void>) => void;

/** What data.* answers when this Hearth cannot restart itself (tests, a host without the port). */
export const NO_RESTART_MESSAGE = 'this Hearth cannot restart itself, so it cannot swap its data while it runs: close it and do this by hand';

/**
 * Runs `work` through the port once: refuses with a clear error without a port or while a restart is
 * already under way; `announce` (the app.restarting event) goes first. The port is called on the next
 * tick, so the request that asked gets its answer before the App closes.
 */
export class Restarter {
  private pending = false;

  constructor(private readonly port: RestartPort | undefined, private readonly announce: (reason: string) => void) {}

  get available(): boolean {
    return this.port !== undefined;
  }

  /** Throws unless a restart can be asked for now. */
  check(): void {
    if (!this.port) throw new IpcError('invalid_input', NO_RESTART_MESSAGE);
    if (this.pending) throw new IpcError('busy', 'Hearth is already restarting');
  }

  request(reason: string, work: () => Promise<void>): void {
    this.check();
    const port = this.port!;
    this.pending = true;
    this.announce(reason);
    setImmediate(() => port(reason, work));
  }
}
