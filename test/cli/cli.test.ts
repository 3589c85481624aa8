/** The hearth command as a user runs it: a real process, the real engine host, generated models. */
import { spawn, spawnSync } from 'child_process';
import fs from 'fs';
import http from 'http';
import path from 'path';
import { tempDir } from '../helpers/engine';
import { REPO_ROOT, TEST_MODELS, TINY_BPE, TINY_SPM } from '../helpers/models';

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');

function hearth(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000 });
}

test('hearth info --json returns the metadata that was written', () => {
  for (const file of [TINY_SPM, TINY_BPE]) {
    const r = hearth(['info', file, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    const spec = TEST_MODELS.find((m) => m.out === file)!;
    expect(info.architecture).toBe('llama');
    expect(info.fileType).toBe('F16');
    expect(info.layers).toBeGreaterThan(0);
    expect(info.trainedContext).toBeGreaterThan(0);
    expect(info.hasChatTemplate).toBe(true);
    expect(info.parameters).toBeGreaterThan(1000);
    expect(info.tokenizer).toBe(spec.vocab === 'llama-spm' ? 'llama' : 'gpt2');
  }
});

test('hearth run streams text and is deterministic with a seed', () => {
  const args = ['run', TINY_SPM, '-p', 'Once upon a time', '-n', '16', '--seed', '42', '--temp', '0.8'];
  const a = hearth(args);
  const b = hearth(args);
  expect(a.status).toBe(0);
  expect(a.stdout.trim().length).toBeGreaterThan(0);
  expect(b.stdout).toBe(a.stdout);
  expect(a.stderr).toMatch(/16 generated/);
});

test('errors exit 1 with one line on stderr, never a signal', () => {
  const dir = tempDir();
  const bad = path.join(dir, 'bad.gguf');
  fs.writeFileSync(bad, 'not a gguf file at all');
  const r = hearth(['info', bad]);
  expect(r.signal).toBeNull();
  expect(r.status).toBe(1);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^hearth: .*magic/);
  const usage = hearth(['run', TINY_SPM]);
  expect(usage.status).toBe(1);
  expect(usage.stderr).toMatch(/usage: hearth run/);
  const unknown = hearth(['frobnicate']);
  expect(unknown.status).toBe(1);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('hearth serve prints the URL with its token, serves the UI, and engine info only with the token', async () => {
  const dataDir = tempDir();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /^Hearth UI: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)$/m.exec(out);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    const u = new URL(url);
    const get = (p: string, headers: http.OutgoingHttpHeaders = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        http.get({ host: u.hostname, port: u.port, path: p, headers }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    const token = u.searchParams.get('token')!;
    // the bundle holds no secret: served without the token (browser-mode tests cover the rest)
    expect((await get('/api/info')).status).toBe(401);
    expect((await get(`/api/info?token=wrong${token}`)).status).toBe(401);
    const page = await get(`/?token=${token}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="root">');
    expect((await get(`/?token=${token}`, { host: 'evil.example:80' })).status).toBe(403);
    expect((await get(`/?token=${token}`, { origin: 'http://evil.example' })).status).toBe(403);
    const info = JSON.parse((await get(`/api/info?token=${token}`)).body);
    expect(info.backends).toContain('CPU');
    expect(info.dataDir).toBe(dataDir);
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
