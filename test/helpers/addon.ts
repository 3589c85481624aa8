/**
 * Runs a few lines against the native addon in a child Node process (so this jest process never
 * loads it): `script` is the body of an async function with `addon` (build/bin/hearth.node, its CPU
 * backend initialized) and `input` in scope; what it returns comes back, JSON-encoded.
 */
import { spawn } from 'child_process';
import path from 'path';
import { ADDON } from './engine';

/** `env`: added to the child's environment (e.g. the host's test hooks, read once per process by the addon). */
export function inAddon<T>(script: string, input: unknown = null, timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<T> {
  const program = `
    const addon = require(${JSON.stringify(ADDON)});
    addon.init({ backendDir: ${JSON.stringify(path.dirname(ADDON))} });
    let raw = '';
    process.stdin.on('data', (d) => (raw += d));
    process.stdin.on('end', async () => {
      const input = JSON.parse(raw);
      try {
        const result = await (async () => { ${script} })();
        process.stdout.write(JSON.stringify({ ok: true, result }));
      } catch (e) {
        process.stdout.write(JSON.stringify({ ok: false, error: { code: e.code, message: e.message } }));
      }
      process.exit(0);
    });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', program], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        const r = JSON.parse(out) as { ok: true; result: T } | { ok: false; error: { code: string; message: string } };
        if (r.ok) resolve(r.result);
        else reject(Object.assign(new Error(r.error.message), { code: r.error.code }));
      } catch {
        reject(new Error(`the addon script exited with ${code} and no answer: ${out.slice(0, 500)}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}
