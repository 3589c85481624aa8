/**
 * The crash-loop throttle, with the real engine host: a host that keeps crashing (the `crash` test
 * hook: abort() inside the host) is started again at most `maxRestarts` times within
 * `restartWindowMs`; the request after that answers `engine_unavailable` without starting a host, and
 * once the window has passed a request starts the engine again and succeeds. The window is shortened
 * here; its production default is the minute the `engine_unavailable` hint promises.
 */
import { EngineClient, SUPERVISOR_DEFAULTS } from '../../main/engine/client';
import { ERRORS } from '../../main/errors/catalogue';
import { errorOf, makeEngine } from '../helpers/engine';

const MAX_RESTARTS = 2;
/** long enough for MAX_RESTARTS + 1 host starts on a loaded machine */
const WINDOW_MS = 20_000;

let engine: EngineClient;

beforeAll(() => {
  engine = makeEngine({}, undefined, { maxRestarts: MAX_RESTARTS, restartWindowMs: WINDOW_MS });
});

afterAll(() => engine.close());

test('the engine_unavailable hint names the default window', () => {
  expect(SUPERVISOR_DEFAULTS.restartWindowMs).toBe(60_000);
  expect(ERRORS.engine_unavailable.hint).toMatch(/waits a minute/);
});

test(`a host that keeps crashing: after ${MAX_RESTARTS} restarts engine_unavailable, after the window the engine starts again`, async () => {
  const crashes: number[] = [];
  engine.onCrash = () => crashes.push(Date.now());
  // the first host is no restart; each crash starts a fresh one until the throttle refuses
  for (let i = 0; i <= MAX_RESTARTS; i++) {
    const err = await errorOf(engine.request('crash', { how: 'abort' }));
    expect(err.code).toBe('engine_crashed');
  }
  expect(crashes).toHaveLength(MAX_RESTARTS + 1);
  // every restart so far fell within the window, so the next start is refused, and no host runs
  expect(Date.now() - crashes[0]).toBeLessThan(WINDOW_MS);
  const refused = await errorOf(engine.request('version', {}));
  expect(refused.code).toBe('engine_unavailable');
  expect(refused.message).toMatch(/keeps crashing/);
  expect(engine.pid).toBeUndefined();
  // the restart after the first crash leaves the window: a request starts the engine again
  await new Promise((r) => setTimeout(r, crashes[0] + WINDOW_MS + 500 - Date.now()));
  const version = await engine.request('version', {});
  expect(version.pid).toBe(engine.pid);
  expect(crashes).toHaveLength(MAX_RESTARTS + 1);
}, WINDOW_MS + 60_000);
