/**
 * The Electron shell starts the backend probes and the engine host with utilityProcess.fork, so a
 * packaged app needs no ELECTRON_RUN_AS_NODE (its RunAsNode fuse is off). No Electron binary can
 * be downloaded here: `fork` is a double with utilityProcess's surface (an `exit` event with a code
 * only, `stdout` when piped, postMessage) that runs the real dist/engine-host.js with the real addon
 * in a Node child process.
 */
import { ChildProcess, fork as nodeFork } from 'child_process';
import { EventEmitter } from 'events';
import fs from 'fs';
import os from 'os';
import path from 'path';
import type { ForkOptions } from 'electron';
import { killUtility, UtilityChild, UtilityFork, utilityHostSpawner, utilityProbeSpawner } from '../../main/app/spawners';
import { chooseBackend, nodeProbeSpawner, probe } from '../../main/engine/backends';
import { EngineClient } from '../../main/engine/client';
import { HOST_SCRIPT, tempDir } from '../helpers/engine';

interface Forked {
  modulePath: string;
  args: string[];
  options: ForkOptions;
}

/** utilityProcess.fork's double: records each call; runs the module in a child process of this Node. */
function forkDouble(): { fork: UtilityFork; forks: Forked[]; children: ChildProcess[] } {
  const forks: Forked[] = [];
  const children: ChildProcess[] = [];
  const fork: UtilityFork = (modulePath, args, options) => {
    forks.push({ modulePath, args, options });
    const stdio = options.stdio === 'inherit' || options.stdio === undefined ? ['inherit', 'inherit', 'inherit'] : (options.stdio as string[]);
    const child = nodeFork(modulePath, args, { env: options.env as NodeJS.ProcessEnv, stdio: [...stdio, 'ipc'] as never, serialization: 'advanced' });
    children.push(child);
    const events = new EventEmitter();
    // utilityProcess reports an exit code only, also for a process killed by a signal
    child.on('exit', (code, signal) => events.emit('exit', code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    child.on('message', (m) => events.emit('message', m));
    const u: UtilityChild = {
      get pid() {
        return child.pid;
      },
      stdout: child.stdout,
      stderr: child.stderr,
      postMessage: (m) => {
        if (child.connected) child.send(m as object);
      },
      kill: () => child.kill(),
      on: (event: string, listener: (...a: any[]) => void) => events.on(event, listener),
    };
    return u;
  };
  return { fork, forks, children };
}

const baseEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, GGML_VK_VISIBLE_DEVICES: '' };
  delete env.ELECTRON_RUN_AS_NODE;
  return env;
};

test('the backend probe runs as a utilityProcess with --probe, and without ELECTRON_RUN_AS_NODE', async () => {
  const { fork, forks } = forkDouble();
  const choice = await chooseBackend(utilityProbeSpawner(fork), HOST_SCRIPT, baseEnv(), ['cpu']);
  expect(choice).toMatchObject({ backend: 'cpu', backends: ['cpu'], probes: [{ backends: 'cpu', ok: true, gpus: 0 }] });
  expect(forks).toHaveLength(1);
  expect(forks[0]).toMatchObject({ modulePath: HOST_SCRIPT, args: ['--probe'], options: { serviceName: 'Hearth Backend Probe', stdio: ['ignore', 'pipe', 'ignore'] } });
  expect(forks[0].options.env).toMatchObject({ HEARTH_BACKENDS: 'cpu' });
  expect(forks[0].options.env).not.toHaveProperty('ELECTRON_RUN_AS_NODE');
});

test('a probe that crashes (exit code only, as utilityProcess reports it) is skipped for the CPU', async () => {
  const { fork } = forkDouble();
  const env = { ...baseEnv(), HEARTH_TEST_HOOKS: '1', HEARTH_TEST_CRASH_BACKEND: 'vulkan' };
  const choice = await chooseBackend(utilityProbeSpawner(fork), HOST_SCRIPT, env, ['cpu', 'vulkan']);
  expect(choice.backend).toBe('cpu');
  expect(choice.probes[0]).toMatchObject({ backends: 'vulkan,cpu', ok: false, error: `exit code ${128 + os.constants.signals.SIGABRT}` });
  expect(choice.reason).toMatch(/^CPU \(Vulkan exit code \d+ while loading/);
});

describe('probes that hang or cannot start', () => {
  const dir = tempDir('hearth-probe-');
  const hang = path.join(dir, 'hang.js');
  beforeAll(() => fs.writeFileSync(hang, 'setInterval(() => {}, 1000);'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([
    ['Node child process', () => nodeProbeSpawner],
    ['utilityProcess', () => utilityProbeSpawner(forkDouble().fork)],
  ])('%s: a hung probe is killed at the timeout', async (_name, spawner) => {
    const r = await probe(spawner(), hang, baseEnv(), ['cpu'], 300);
    expect(r).toMatchObject({ ok: false, error: 'timed out after 300 ms' });
  });

  test('a spawner that throws (utilityProcess.fork before ready) is a failed probe, not a throw', async () => {
    const r = await probe(() => {
      throw new Error('utilityProcess cannot be forked before app is ready');
    }, hang, baseEnv(), ['cpu']);
    expect(r).toMatchObject({ ok: false, error: 'could not start (utilityProcess cannot be forked before app is ready)' });
  });
});

test('the engine host and its probes both start through utilityProcess.fork and answer', async () => {
  const { fork, forks, children } = forkDouble();
  const engine = new EngineClient({ hostScript: HOST_SCRIPT, spawner: utilityHostSpawner(fork), probeSpawner: utilityProbeSpawner(fork), env: { GGML_VK_VISIBLE_DEVICES: '' } });
  try {
    await engine.start();
    expect((await engine.version()).backends).toEqual(['CPU']);
    const host = forks.find((f) => f.args.length === 0);
    expect(host?.options).toMatchObject({ serviceName: 'Hearth Engine', stdio: ['ignore', 'inherit', 'pipe'] });
    for (const f of forks) expect(f.options.env).not.toHaveProperty('ELECTRON_RUN_AS_NODE');
  } finally {
    await engine.close();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
});

test('SIGKILL reaches a utility process by its pid (UtilityProcess.kill only sends SIGTERM); elsewhere and on Windows kill() is used', () => {
  const calls: string[] = [];
  const child = { pid: 4242, kill: () => (calls.push('kill()'), true) } as unknown as UtilityChild;
  const kill = ((pid: number, sig: string) => (calls.push(`${pid}:${sig}`), true)) as typeof process.kill;
  killUtility(child, 'SIGKILL', 'linux', kill);
  killUtility(child, 'SIGKILL', 'darwin', kill);
  killUtility(child, 'SIGTERM', 'linux', kill);
  killUtility(child, 'SIGKILL', 'win32', kill);
  expect(calls).toEqual(['4242:SIGKILL', '4242:SIGKILL', 'kill()', 'kill()']);
  const gone = (() => {
    throw Object.assign(new Error('ESRCH'), { code: 'ESRCH' });
  }) as typeof process.kill;
  killUtility(child, 'SIGKILL', 'linux', gone);
  expect(calls).toEqual(['4242:SIGKILL', '4242:SIGKILL', 'kill()', 'kill()', 'kill()']);
});
