/**
 * The restart port: what a host (Electron's main, `hearth serve`) gives composeApp so that a restore,
 * a move of the data folder or an erase of everything can swap files while nothing has them open.
 * The host closes the App, runs `work`, then starts again (on the data folder resolveDataDir now gives).
 */
import { IpcError } from '../ipc/contract';

export type RestartPort = (reason: string, work: () => Promise<void>) => void;

/** What data.* answers when this Hearth cannot restart itself (tests, a host without the port). */
export const NO_RESTART_MESSAGE = 'this Hearth cannot restart itself, so it cannot swap its data while it runs: close it and do this by hand';

/** What a restart job's preparation gives back: why Hearth restarts, and the work to run once everything is closed. */
export interface RestartJob {
  reason: string;
  work: () => Promise<void>;
}

/**
 * Runs one restart job through the port: refuses with a clear error without a port, or from the moment
 * a restart is being prepared (its files staged, copied) until the host restarts; `announce` (the
 * app.restarting event) goes first. The port is called on the next tick, so the request that asked
 * gets its answer before the App closes. A preparation that fails frees the Restarter again.
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
    if (this.pending) throw new IpcError('busy', 'Hearth is already preparing a restart (a restore, a move of the data folder or an erase): wait for it');
  }

  /** Prepares the job (nothing else may be prepared meanwhile), then asks the port to run it. */
  async run(prepare: () => Promise<RestartJob>): Promise<void> {
    this.check();
    this.pending = true;
    let job: RestartJob;
    try {
      job = await prepare();
    } catch (e) {
      this.pending = false;
      throw e;
    }
    const port = this.port!;
    this.announce(job.reason);
    setImmediate(() => port(job.reason, job.work));
  }
}
