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
      kill: () => {
        child.kill();
      },
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
      kill: () => {
        child.kill();
      },
    };
  };
}
