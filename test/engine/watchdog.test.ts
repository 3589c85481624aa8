/**
 * A hung host is restarted: the client pings the host, which answers from its JS thread; a host
 * silent past the bound is killed, what was pending fails with `engine_hung`, a fresh host starts and
 * the next request works. A host that never says `ready` is killed at the ready timeout. Short
 * bounds here; the production defaults are SUPERVISOR_DEFAULTS.
 */
import fs from 'fs';
import path from 'path';
import { EngineClient } from '../../main/engine/client';
import { alive, errorOf, makeEngine, tempDir } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

let engine: EngineClient;
let dir: string;
const BOUNDS = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 2000 };

beforeAll(async () => {
  dir = tempDir();
  engine = makeEngine({}, undefined, { ...BOUNDS, maxRestarts: 100 });
  await engine.load('m', TINY_SPM, { contextSize: 512, threads: 1 });
});

afterAll(async () => {
  await engine.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function exited(pid: number): Promise<boolean> {
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

test('a host whose JS thread blocks: killed, pending requests fail with engine_hung, the next request works', async () => {
  const pid = engine.pid!;
  let started!: () => void;
  const firstPiece = new Promise<void>((r) => (started = r));
  const generating = engine.complete('m', { prompt: 'Tell me everything', maxTokens: 100000, ignoreEos: true }, { onPiece: () => started() });
  await firstPiece;
  // the test hook busy-waits on the host's JS thread for a minute, as a hung native call would
  const blocked = engine.request('block', { ms: 60_000 });
  const [a, b] = await Promise.all([errorOf(blocked), errorOf(generating)]);
  expect(a.code).toBe('engine_hung');
  expect(b.code).toBe('engine_hung');
  expect(a.message).toMatch(/stopped answering/);
  expect(await exited(pid)).toBe(true); // killed, not left spinning
  const r = await engine.complete('m', { prompt: 'Back', maxTokens: 3, ignoreEos: true });
  expect(r.tokens).toHaveLength(3);
  expect(engine.pid).not.toBe(pid);
});

test('a host busy for less than the bound is left alone', async () => {
  const pid = engine.pid!;
  await expect(engine.request('block', { ms: BOUNDS.heartbeatTimeoutMs / 4 })).resolves.toBeNull();
  expect(engine.pid).toBe(pid);
  expect((await engine.tokenize('m', 'still here')).length).toBeGreaterThan(0);
});

test('a host that never says ready is killed at the ready timeout, with engine_hung', async () => {
  // a stand-in host: answers the backend probe, then stays silent
  const script = path.join(dir, 'silent-host.js');
  fs.writeFileSync(
    script,
    `if (process.argv.includes('--probe')) { console.log(JSON.stringify({ backends: ['cpu'], devices: [], systemInfo: '' })); process.exit(0); }
     setInterval(() => undefined, 1000);`,
  );
  const silent = new EngineClient({ hostScript: script, backend: 'cpu', readyTimeoutMs: 1000 });
  try {
    const starting = silent.start();
    let pid: number | undefined;
    while (!(pid = silent.pid)) await new Promise((r) => setTimeout(r, 20));
    const err = await errorOf(starting);
    expect(err.code).toBe('engine_hung');
    expect(err.message).toMatch(/did not start within 1 s/);
    expect(await exited(pid)).toBe(true);
  } finally {
    await silent.close();
  }
});
