/**
 * Who may use the local server (issue 12, items 10 and 11): the bundle is public and carries no
 * cookie, /ws and /api/* need the token; a bind beyond loopback needs --allow-remote, warns, and keeps
 * checking Host. `hearth serve` runs as a real process; requests go only to 127.0.0.1.
 */
import crypto from 'crypto';
import os from 'os';
import { isLoopbackHost, parseTarget } from '../../main/browser/guard';
import { rawExchange, serve, Served, serveExit, statusOf, wsUpgrade } from '../helpers/serve';

function request(port: number, target: string, headers: Record<string, string> = {}): Promise<{ status: number; head: string; body: string }> {
  const lines = [`GET ${target} HTTP/1.1`, ...Object.entries({ Host: `127.0.0.1:${port}`, Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}`)];
  return rawExchange(port, `${lines.join('\r\n')}\r\n\r\n`).then((got) => {
    const text = got.toString('utf8');
    const end = text.indexOf('\r\n\r\n');
    return { status: statusOf(got), head: text.slice(0, end).toLowerCase(), body: text.slice(end + 4) };
  });
}

/** The status line the server answers an upgrade to `target` with (101 when the socket opens). */
async function upgradeStatus(port: number, token: string | null, hostHeader = `127.0.0.1:${port}`): Promise<number> {
  let req = wsUpgrade(port, token ?? '').replace(`Host: 127.0.0.1:${port}`, `Host: ${hostHeader}`);
  if (token === null) req = req.replace(/\?token=[^ ]*/, '');
  return statusOf(await rawExchange(port, req, { until: (b) => b.includes('\r\n\r\n') }));
}

describe('on loopback', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve();
  });
  afterAll(async () => {
    await s?.stop();
  });

  test('the bundle is served without a token and sets no cookie; its CSP connects only to this origin', async () => {
    const page = await request(s.port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<div id="root">');
    expect(page.head).not.toContain('set-cookie');
    expect(page.head).toContain('referrer-policy: no-referrer');
    const csp = /content-security-policy: (.*)/.exec(page.head)?.[1] ?? '';
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${s.port};`);
    expect(csp).not.toMatch(/ws: |wss:/);
    const bundle = await request(s.port, '/app.js');
    expect(bundle.status).toBe(200);
    expect(bundle.head).not.toContain('set-cookie');
    // with the token in the address, still no cookie
    expect((await request(s.port, `/?token=${s.token}`)).head).not.toContain('set-cookie');
  });

  test('/ws and /api/* refuse a missing or wrong token, and a cookie does not stand in for it', async () => {
    expect(await upgradeStatus(s.port, null)).toBe(401);
    expect(await upgradeStatus(s.port, `${s.token}x`)).toBe(401);
    expect(await upgradeStatus(s.port, s.token.slice(1))).toBe(401);
    expect(await upgradeStatus(s.port, s.token)).toBe(101);
    expect((await request(s.port, '/api/info')).status).toBe(401);
    expect((await request(s.port, '/api/info', { Cookie: `hearth_token=${s.token}` })).status).toBe(401);
    expect((await request(s.port, `/api/info?token=${crypto.randomBytes(24).toString('base64url')}`)).status).toBe(401);
    expect((await request(s.port, '/api/nothing')).status).toBe(401);
    expect((await request(s.port, `/api/nothing?token=${s.token}`)).status).toBe(404);
    const info = await request(s.port, `/api/info?token=${s.token}`);
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body).backends).toContain('CPU');
    expect((await request(s.port, '/api/info', { Authorization: `Bearer ${s.token}` })).status).toBe(200);
  });

  test('a foreign Host or Origin is refused, for the bundle too', async () => {
    expect((await request(s.port, '/', { Host: `evil.example:${s.port}` })).status).toBe(403);
    expect((await request(s.port, '/', { Host: `127.0.0.1:${s.port + 1}` })).status).toBe(403);
    expect((await request(s.port, '/', { Origin: 'http://evil.example' })).status).toBe(403);
    expect((await request(s.port, '/', { Origin: `http://127.0.0.1:${s.port}` })).status).toBe(200);
    expect((await request(s.port, '/', { Host: `localhost:${s.port}` })).status).toBe(200);
    expect(await upgradeStatus(s.port, s.token, `evil.example:${s.port}`)).toBe(403);
    // a loopback bind does not answer to the machine's other addresses (DNS rebinding to a LAN name)
    const lan = Object.values(os.networkInterfaces()).flat().find((a) => a && !a.internal)?.address;
    if (lan) expect((await request(s.port, '/', { Host: `${lan.includes(':') ? `[${lan}]` : lan}:${s.port}` })).status).toBe(403);
  });
});

describe('beyond loopback', () => {
  test('a non-loopback --host is refused without --allow-remote', async () => {
    for (const host of ['0.0.0.0', '::', 'example.com']) {
      const r = await serveExit(['--host', host]);
      expect(r.status).toBe(1);
      expect(r.output).toMatch(new RegExp(`^hearth: --host ${host.replace(/\./g, '\\.')} is not a loopback address: add --allow-remote`, 'm'));
      expect(r.output).not.toContain('Hearth UI:');
    }
  });

  test('--allow-remote binds 0.0.0.0, warns that the token travels unencrypted, and still checks Host', async () => {
    const s = await serve(['--host', '0.0.0.0', '--allow-remote']);
    try {
      expect(s.url.hostname).toBe('127.0.0.1');
      // the warning follows the URL, on stderr
      for (let i = 0; i < 100 && !s.output().includes('warning:'); i++) await new Promise((r) => setTimeout(r, 50));
      expect(s.output()).toMatch(/^warning: Hearth listens on 0\.0\.0\.0, beyond this machine\..*unencrypted/m);
      // the machine's own addresses and name are valid Host names now (with this port only)
      const own = Object.values(os.networkInterfaces()).flat().filter((a) => a && !a.internal && a.family === 'IPv4').map((a) => a!.address);
      for (const name of [...own, os.hostname()]) {
        expect(s.output()).toContain(`on the network: http://${name.toLowerCase()}:${s.port}/?token=`);
        expect((await request(s.port, '/', { Host: `${name}:${s.port}` })).status).toBe(200);
        expect((await request(s.port, `/api/info?token=${s.token}`, { Host: `${name}:${s.port}` })).status).toBe(200);
        expect((await request(s.port, '/', { Host: `${name}:${s.port + 1}` })).status).toBe(403);
        expect(await upgradeStatus(s.port, s.token, `${name}:${s.port}`)).toBe(101);
      }
      // any other name is still refused
      expect((await request(s.port, '/', { Host: `evil.example:${s.port}` })).status).toBe(403);
      expect((await request(s.port, '/', { Host: `203.0.113.9:${s.port}` })).status).toBe(403);
      expect(await upgradeStatus(s.port, s.token, `evil.example:${s.port}`)).toBe(403);
      // and the token is still needed
      expect((await request(s.port, '/api/info', { Host: `${own[0] ?? os.hostname()}:${s.port}` })).status).toBe(401);
    } finally {
      await s.stop();
    }
  });
});

test('loopback names and request targets are read without throwing', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', 'app.localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(h)).toBe(true);
  for (const h of ['0.0.0.0', '::', '192.168.1.2', 'example.com', '', '128.0.0.1', '::ffff:10.0.0.1', 'localhost.evil.com']) expect(isLoopbackHost(h)).toBe(false);
  expect(parseTarget('/a%20b?token=t')).toEqual({ path: '/a b', query: new URLSearchParams('token=t') });
  expect(parseTarget('//[')?.path).toBe('//[');
  expect(parseTarget('/../../etc/passwd')?.path).toBe('/etc/passwd');
  for (const bad of ['/%', '/%00', '/a%0d%0ab', '/%5c', '*', 'http://x/', '', undefined, '/%c3%28']) expect(parseTarget(bad)).toBeNull();
});
