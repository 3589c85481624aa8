/**
 * `hearth serve --api`: the local API server beside the browser UI, on the address given for this run
 * (the saved settings unchanged), its errors one line each. The real bin/hearth.js (run
 * `node scripts/build-ts.js` first) over a data folder holding one generated model.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import fs from 'fs';
import net from 'net';
import os from 'os';
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
function serve(args: string[], until: RegExp, dir = dataDir): { child: ChildProcess; out: Promise<RegExpExecArray>; exit: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args, '--data-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    expect(r.stderr).toBe(
      `hearth: the API server could not listen on 127.0.0.1:${port}: port ${port} is in use (another server, or Hearth already running): choose another with --api-port N (--api-port 0 picks a free one)\n`,
    );
    // the API starts before any URL is printed: nothing on stdout
    expect(r.stdout).toBe('');
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test('a bad --api-port or --api-host is named', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--api', ...args, '--data-dir', dataDir], { encoding: 'utf8', timeout: 60_000 });
  expect(run(['--api-port', '70000']).stderr).toBe('hearth: --api-port must be at most 65,535\n');
  expect(run(['--api-host', 'http://x']).stderr).toMatch(/^hearth: --api-host: a host name or an IP address, without scheme or port\n$/);
});

test('--api-host 0.0.0.0 prints the other addresses and the key it saved; a later run on loopback prints that key too (it is still required)', async () => {
  const own = tempDir();
  try {
    const wide = serve(['--api', '--api-host', '0.0.0.0', '--api-port', '0'], /^data folder: .*$/m, own);
    let key: string;
    try {
      const printed = (await wide.out).input;
      expect(printed).toMatch(/^Hearth UI: [\s\S]*^Hearth API: http:\/\/127\.0\.0\.1:\d+$/m);
      key = /^API key: (hearth-\S+)$/m.exec(printed)![1];
      const port = /^Hearth API: http:\/\/127\.0\.0\.1:(\d+)$/m.exec(printed)![1];
      // the machine's name and every IPv4 address beyond loopback, once each
      const names = [os.hostname().toLowerCase(), ...Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address))];
      const expected = names.map((n) => `  on the network: http://${n}:${port}`);
      const network = printed.split('\n').filter((l) => l.startsWith('  on the network: http') && !l.includes('?token='));
      expect(network.sort()).toEqual([...new Set(expected)].sort());
      // stderr is its own pipe: its warning may come a moment after stdout's last line
      for (let i = 0; i < 100 && !/warning: the API server/.test(wide.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(wide.stderr()).toMatch(/warning: the API server listens on 0\.0\.0\.0, beyond this machine/);
    } finally {
      wide.child.kill('SIGTERM');
      await wide.exit;
    }
    const local = serve(['--api', '--api-port', '0'], /^data folder: .*$/m, own);
    try {
      const printed = (await local.out).input;
      expect(printed).toMatch(new RegExp(`^API key: ${key}$`, 'm'));
      const url = /^Hearth API: (\S+)$/m.exec(printed)![1];
      expect((await fetch(`${url}/v1/models`)).status).toBe(401);
      expect((await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
      expect(local.stderr()).not.toMatch(/warning/);
    } finally {
      local.child.kill('SIGTERM');
      await local.exit;
    }
  } finally {
    fs.rmSync(own, { recursive: true, force: true });
  }
});

test('an --api-host that is not this machine\'s, or does not resolve, is one line in words; no URL is printed first', () => {
  const run = (host: string) => spawnSync(process.execPath, [BIN, 'serve', '--port', '0', '--api', '--api-host', host, '--api-port', '0', '--data-dir', dataDir], { encoding: 'utf8', timeout: 60_000 });
  const far = run('10.9.9.9');
  expect({ status: far.status, stdout: far.stdout }).toEqual({ status: 1, stdout: '' });
  expect(far.stderr).toBe(
    'hearth: the API server could not listen on 10.9.9.9:0: 10.9.9.9 is not an address of this machine: choose one of its addresses with --api-host (127.0.0.1 keeps the API on this machine)\n',
  );
  const unknown = run('no-such-host.invalid');
  expect({ status: unknown.status, stdout: unknown.stdout }).toEqual({ status: 1, stdout: '' });
  expect(unknown.stderr).toBe('hearth: the API server could not listen on no-such-host.invalid:0: cannot resolve no-such-host.invalid: give an address such as 127.0.0.1 with --api-host\n');
});
