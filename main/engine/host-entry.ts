/**
 * Entry of the engine host process (bundled to dist/engine-host.js): the message port to the client
 * (process IPC under Node, parentPort under Electron), engine.log, the addon, then EngineHost; or
 * probe mode.
 */
import { loadAddon, loadedModules, NativeAddon, rpcRegisterProblems } from './addon';
import { EngineHost, HostPort } from './host';
import { ClientMessage } from './protocol';
import { ENGINE_LOG_DIR_ENV, logLevelFrom, logUncaught, Logger, openFileLogger } from '../logging';

/**
 * Probe mode (`engine-host.js --probe`): load the addon with the backends HEARTH_BACKENDS names, print
 * the devices as one JSON line and exit. Run in a throwaway process, so a driver that crashes takes
 * only the probe down. HEARTH_TEST_CRASH_BACKEND (with HEARTH_TEST_HOOKS=1) aborts like a broken driver.
 */
function runProbe(): void {
  const crash = process.env.HEARTH_TEST_HOOKS === '1' ? process.env.HEARTH_TEST_CRASH_BACKEND : undefined;
  const wanted = (process.env.HEARTH_BACKENDS ?? '').toLowerCase();
  if (crash && (wanted === '' || wanted.split(',').includes(crash))) process.abort();
  const addon = loadAddon();
  process.stdout.write(JSON.stringify({ backends: addon.backends(), devices: addon.devices(), systemInfo: addon.systemInfo(), modules: loadedModules() }) + '\n');
  process.exit(0);
}

/** Entry point of the host process. */
function runHost(): void {
  if (process.argv.includes('--probe')) return runProbe();
  let port: HostPort;
  const parentPort = (process as unknown as { parentPort?: { postMessage(m: unknown): void; on(ev: 'message', fn: (e: { data: unknown }) => void): void } }).parentPort;
  if (parentPort) {
    port = { send: (m) => parentPort.postMessage(m), onMessage: (fn) => parentPort.on('message', (e) => fn(e.data)) };
  } else if (process.send) {
    port = {
      send: (m) => {
        if (process.connected) process.send!(m);
      },
      onMessage: (fn) => process.on('message', fn),
    };
    // the client went away: nothing left to serve. Ended outright, as the watchdog's giveUp does: exit()
    // would run native destructors while a worker may still be decoding (no cleanup hook runs on exit())
    process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  } else {
    console.error('the engine host must be started by EngineClient (no IPC channel)');
    process.exit(1);
  }
  const logDir = process.env[ENGINE_LOG_DIR_ENV];
  let logger: Logger | undefined;
  if (logDir) {
    try {
      logger = openFileLogger(logDir, 'engine', { level: logLevelFrom() });
      logUncaught(logger);
    } catch (e) {
      port.send({ type: 'log', level: 'error', text: `engine.log: ${(e as Error).message}\n` });
    }
  }
  let addon: NativeAddon;
  try {
    addon = loadAddon();
  } catch (e) {
    const err = e as Error & { code?: string };
    logger?.error(`the addon did not load: ${err.message}`);
    port.send({ type: 'log', level: 'error', text: err.message + '\n' });
    // answer every request with the reason rather than dying in a restart loop
    port.onMessage((raw) => {
      const m = ClientMessage.safeParse(raw);
      if (m.success && m.data.type === 'ping') port.send({ type: 'pong' });
      if (m.success && m.data.type === 'request') port.send({ type: 'response', id: m.data.id, ok: false, error: { code: err.code ?? 'addon_missing', message: err.message } });
    });
    port.send({ type: 'ready', pid: process.pid, llamaCommit: 'unavailable', backends: [] });
    return;
  }
  for (const p of rpcRegisterProblems()) {
    logger?.warn(`remote device left out: ${p}`);
    port.send({ type: 'log', level: 'warn', text: `remote device left out: ${p}\n` });
  }
  new EngineHost(addon, port, logger).start();
}

runHost();
