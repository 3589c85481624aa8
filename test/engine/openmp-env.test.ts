/**
 * The engine host's OpenMP waiting (supervisor.ts hostOpenmpEnv): on Linux the host starts with
 * OMP_WAIT_POLICY=ACTIVE and GOMP_SPINCOUNT=300000 unless the environment sets either, so several
 * models' OpenMP teams in one host do not make every barrier sleep (docs/benchmarks.md, bench:beside).
 * The rule as a pure function on every platform, then the real host: its environment as Linux shows it
 * (/proc/PID/environ), and GCC's libgomp mapped into it once a model decoded, the runtime the two
 * variables are for.
 */
import fs from 'fs';
import { hostOpenmpEnv } from '../../main/engine/supervisor';
import { makeEngine } from '../helpers/engine';
import { TINY_SPM } from '../helpers/models';

test('the rule: ACTIVE with the default spin count on Linux; nothing where the user set either variable, nothing elsewhere', () => {
  expect(hostOpenmpEnv({}, 'linux')).toEqual({ OMP_WAIT_POLICY: 'ACTIVE', GOMP_SPINCOUNT: '300000' });
  expect(hostOpenmpEnv({ PATH: '/usr/bin' }, 'linux')).toEqual({ OMP_WAIT_POLICY: 'ACTIVE', GOMP_SPINCOUNT: '300000' });
  // the user's choice stands whole: ours would change what either of theirs means
  expect(hostOpenmpEnv({ OMP_WAIT_POLICY: 'PASSIVE' }, 'linux')).toEqual({});
  expect(hostOpenmpEnv({ GOMP_SPINCOUNT: '0' }, 'linux')).toEqual({});
  expect(hostOpenmpEnv({ OMP_WAIT_POLICY: '' }, 'linux')).toEqual({});
  // macOS builds use ggml's own threads, Windows builds MSVC's OpenMP, for which ACTIVE means never sleeping
  expect(hostOpenmpEnv({}, 'darwin')).toEqual({});
  expect(hostOpenmpEnv({}, 'win32')).toEqual({});
});

/** A process's environment as Linux shows it. */
function environOf(pid: number): Map<string, string> {
  const entries = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

const linux = process.platform === 'linux' ? test : test.skip;
const userSet = process.env.OMP_WAIT_POLICY !== undefined || process.env.GOMP_SPINCOUNT !== undefined;

linux('the real host gets them, and libgomp is the OpenMP runtime it decodes with', async () => {
  const engine = makeEngine({ GGML_VK_VISIBLE_DEVICES: '' });
  try {
    await engine.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
    const r = await engine.complete('m', { prompt: 'hello', maxTokens: 4, ignoreEos: true });
    expect(r.timings.generatedTokens).toBe(4);
    const pid = engine.pid!;
    const env = environOf(pid);
    if (userSet) {
      expect(env.get('OMP_WAIT_POLICY')).toBe(process.env.OMP_WAIT_POLICY);
      expect(env.get('GOMP_SPINCOUNT')).toBe(process.env.GOMP_SPINCOUNT);
    } else {
      expect(env.get('OMP_WAIT_POLICY')).toBe('ACTIVE');
      expect(env.get('GOMP_SPINCOUNT')).toBe('300000');
    }
    // a decode on two threads ran an OpenMP team: the runtime the variables tune is the one mapped
    expect(fs.readFileSync(`/proc/${pid}/maps`, 'utf8')).toMatch(/libgomp\.so/);
  } finally {
    await engine.close();
  }
});

linux("a user's setting reaches the host unchanged, without ours beside it", async () => {
  const engine = makeEngine({ GGML_VK_VISIBLE_DEVICES: '', OMP_WAIT_POLICY: 'PASSIVE' });
  try {
    await engine.start();
    const env = environOf(engine.pid!);
    expect(env.get('OMP_WAIT_POLICY')).toBe('PASSIVE');
    expect(env.get('GOMP_SPINCOUNT')).toBe(process.env.GOMP_SPINCOUNT);
  } finally {
    await engine.close();
  }
});
