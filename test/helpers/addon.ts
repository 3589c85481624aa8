/**
 * Runs a few lines against the native addon in a child Node process (so this jest process never
 * loads it): `script` is the body of an async function with `addon` (build/bin/hearth.node, its CPU
 * backend initialized) and `input` in scope; what it returns comes back, JSON-encoded, on a pipe of
 * its own (fd 3), so nothing a library prints on stdout can mix into the answer.
 */
import { spawn } from 'child_process';
import path from 'path';
import { ADDON } from './engine';

/** `env`: added to the child's environment (e.g. the host's test hooks, read once per process by the addon). */
export function inAddon<T>(script: string, input: unknown = null, timeoutMs = 60_000, env: NodeJS.ProcessEnv = {}): Promise<T> {
  const program = `
    const addon = require(${JSON.stringify(ADDON)});
    addon.init({ backendDir: ${JSON.stringify(path.dirname(ADDON))} });
    const fs = require('fs');
    // written whole before exit: writeSync on the pipe blocks until the parent has read it all
    const answer = (s) => { const b = Buffer.from(s); for (let o = 0; o < b.length; ) o += fs.writeSync(3, b, o); };
    let raw = '';
    process.stdin.on('data', (d) => (raw += d));
    process.stdin.on('end', async () => {
      const input = JSON.parse(raw);
      try {
        const result = await (async () => { ${script} })();
        answer(JSON.stringify({ ok: true, result }));
      } catch (e) {
        answer(JSON.stringify({ ok: false, error: { code: e.code, message: e.message } }));
      }
      process.exit(0);
    });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', program], { stdio: ['pipe', 'pipe', 'inherit', 'pipe'], env: { ...process.env, ...env } });
    const out: Buffer[] = [];
    const printed: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => out.push(d));
    child.stdout!.on('data', (d: Buffer) => printed.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        const r = JSON.parse(Buffer.concat(out).toString('utf8')) as { ok: true; result: T } | { ok: false; error: { code: string; message: string } };
        if (r.ok) resolve(r.result);
        else reject(Object.assign(new Error(r.error.message), { code: r.error.code }));
      } catch {
        const answer = Buffer.concat(out).toString('utf8');
        const stdout = Buffer.concat(printed).toString('utf8');
        reject(new Error(`the addon script exited with ${code} and no answer (${answer.length} characters: ${answer.slice(0, 200)} … ${answer.slice(-200)}); its stdout: ${stdout.slice(-500)}`));
      }
    });
    child.stdin!.end(JSON.stringify(input));
  });
}
