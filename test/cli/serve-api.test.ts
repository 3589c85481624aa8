/**
 * `hearth serve --api`: the local API server beside the browser UI, on the address given for this run
 * (the saved settings unchanged), its errors one line each. The real bin/hearth.js (run
 * `node scripts/build-ts.js` first) over a data folder holding one generated model.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import path from 'path';
import { tempDir } from '../helpers/engine';
import { copyModel, REPO_ROOT, TINY_SPM } from '../helpers/models';

const BIN = path.join(REPO_ROOT, 'bin', 'hearth.js');

let dataDir: string;
beforeAll(() => {
  dataDir = tempDir();
  fs.mkdirSync(path.join(dataDir, 'models'));
  copyModel(TINY_SPM, path.join(dataDir, 'models', path.basename(TINY_SPM)));
});
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

/** Spawns `hearth serve … --data-dir`; resolves with the lines printed once `until` matches stdout. */
function serve(args: string[], until: RegExp): { child: ChildProcess; out: Promise<RegExpExecArray>; exit: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const out = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = until.exec(stdout);
      if (m) resolve(m);
    });
    void exit.then((code) => reject(new Error(`serve exited ${code}: ${stdout}${stderr}`)));
  });
  return { child, out, exit, stderr: () => stderr };
}

test('serve --api --api-port 0 prints the API URL, answers GET /v1/models, and ends on SIGTERM', async () => {
  const s = serve(['--api', '--api-port', '0'], /^Hearth UI: \S+\n[\s\S]*^Hearth API: (http:\/\/127\.0\.0\.1:(\d+))$/m);
  try {
    const [, url, port] = await s.out;
    expect(Number(port)).toBeGreaterThan(0);
    expect(Number(port)).not.toBe(1337);
    const res = await fetch(`${url}/v1/models`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: { id: string }[] };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id)).toEqual([path.basename(TINY_SPM, '.gguf')]);
    // loopback: no key printed, no warning
    expect(s.stderr()).not.toMatch(/warning/);
    s.child.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    // ended: nothing listens there any more
    await expect(fetch(`${url}/v1/models`)).rejects.toThrow();
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('without --api the server stays off: the saved setting is off, and the last run\'s --api-port 0 was for that run only', async () => {
  const s = serve([], /^data folder: .*$/m);
  try {
    const printed = await s.out;
    expect(printed.input).toMatch(/^Hearth UI: /m);
    expect(printed.input).not.toMatch(/Hearth API/);
  } finally {
    s.child.kill('SIGKILL');
    await s.exit;
  }
});

test('--api-host or --api-port without --api says to add it', () => {
  const r = spawnSync(process.execPath, [BIN, 'serve', '--api-port', '0', '--data-dir', dataDir], { encoding: 'utf8', timeout: 60_000 });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 1, stderr: "hearth: --api-port sets the API server's address: add --api to start it\n" });
});

test('an API port in use is one line naming it and the option to choose another', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const r = spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--api', '--api-port', String(port), '--data-dir', dataDir], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^hearth: the API server could not listen on 127\\.0\\.0\\.1:${port}: port ${port} is in use .*: choose another with --api-port N \\(--api-port 0 picks a free one\\)\\n$`));
    expect(r.stdout).not.toMatch(/Hearth API/);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test('a bad --api-port or --api-host is named', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--api', ...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 60_000 });
  expect(run(['--api-port', '70000']).stderr).toBe('hearth: --api-port must be at most 65,535\n');
  expect(run(['--api-host', 'http://x']).stderr).toMatch(/^hearth: --api-host: a host name or an IP address, without scheme or port\n$/);
});
