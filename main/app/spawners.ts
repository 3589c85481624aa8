/**
 * The engine host and the backend probes as Electron utilityProcesses (what Node's child_process
 * does in main/engine for the CLI and browser mode). Nothing here relies on ELECTRON_RUN_AS_NODE, so
 * a packaged app runs with the RunAsNode fuse off. `fork` is utilityProcess.fork; tests pass a double.
 */
import type { ForkOptions } from 'electron';
import type { ProbeSpawner } from '../engine/backends';
import type { HostSpawner } from '../engine/client';

/** What Hearth uses of an Electron UtilityProcess. */
export interface UtilityChild {
  readonly pid: number | undefined;
  readonly stdout: NodeJS.ReadableStream | null;
  readonly stderr: NodeJS.ReadableStream | null;
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
}

/**
 * UtilityProcess.kill() only asks (SIGTERM); a hung host must die, so SIGKILL goes to the pid itself
 * where signals exist (Windows' kill() already terminates).
 */
export function killUtility(child: UtilityChild, signal?: NodeJS.Signals, platform: NodeJS.Platform = process.platform, kill: typeof process.kill = process.kill): void {
  if (signal === 'SIGKILL' && platform !== 'win32' && child.pid !== undefined) {
    try {
      kill(child.pid, 'SIGKILL');
      return;
    } catch {
      // already gone: fall through to the polite way, which is a no-op then
    }
  }
  child.kill();
}

export type UtilityFork = (modulePath: string, args: string[], options: ForkOptions) => UtilityChild;

export function utilityHostSpawner(fork: UtilityFork): HostSpawner {
  return (script, env) => {
    // stderr piped: the client keeps its tail (a native abort's reason) for the crash log
    const child = fork(script, [], { env, serviceName: 'Hearth Engine', stdio: ['ignore', 'inherit', 'pipe'] });
    return {
      get pid() {
        return child.pid;
      },
      send: (m) => child.postMessage(m),
      onMessage: (fn) => child.on('message', fn),
      onExit: (fn) => child.on('exit', (code) => fn(code, null)),
      kill: (signal) => killUtility(child, signal),
      onStderr: (fn) => child.stderr?.on('data', (b: Buffer | string) => fn(String(b))),
    };
  };
}

export function utilityProbeSpawner(fork: UtilityFork): ProbeSpawner {
  return (script, args, env) => {
    const child = fork(script, args, { env, serviceName: 'Hearth Backend Probe', stdio: ['ignore', 'pipe', 'ignore'] });
    return {
      onStdout: (fn) => child.stdout?.on('data', (d: Buffer | string) => fn(String(d))),
      onExit: (fn) => child.on('exit', (code) => fn(code, null)),
      // a probe is killed only when it hangs: for good
      kill: () => killUtility(child, 'SIGKILL'),
    };
  };
}
