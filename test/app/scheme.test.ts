/**
 * The app:// scheme the Electron window loads the renderer from, and the IPC sender check built on
 * it. No Electron binary can be downloaded here: main.ts hands protocol.handle's requests to these
 * functions, which are tested directly, with Windows (path.win32) and macOS/Linux (path.posix) paths.
 */
import fs from 'fs';
import path from 'path';
import { APP_INDEX_URL, APP_SCHEME_PRIVILEGES, CONTENT_SECURITY_POLICY, isAppUrl, refuseFileRequest, resolveAppRequest, serveAppRequest } from '../../main/app/scheme';
import { tempDir } from '../helpers/engine';

const WIN_DIR = 'C:\\Program Files\\Hearth\\resources\\app.asar\\dist\\renderer';
const MAC_DIR = '/Applications/Hearth.app/Contents/Resources/app.asar/dist/renderer';

test('the scheme is registered standard and secure, and the CSP allows only the app itself', () => {
  expect(APP_SCHEME_PRIVILEGES).toEqual({ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } });
  expect(APP_INDEX_URL).toBe('app://hearth/index.html');
  expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
  expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
  expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'self'");
  expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval|\*|file:|ws:/);
  expect(CONTENT_SECURITY_POLICY).toContain("object-src 'none'");
});

test('the IPC sender check accepts only the app origin (Windows and macOS windows load the same URL)', () => {
  for (const ok of ['app://hearth/index.html', 'app://hearth/index.html?x=1#about', 'app://hearth/', 'app://hearth', 'APP://hearth/index.html']) {
    expect([ok, isAppUrl(ok)]).toEqual([ok, true]);
  }
  const hostile = [
    'app://evil/index.html',
    'app://hearth.evil.com/index.html',
    'app://evil.hearth/index.html',
    'app://hearth:8080/index.html',
    'app://user@hearth/index.html',
    'app://hearth@evil/index.html',
    'app://HEARTH.evil/',
    'apps://hearth/index.html',
    'file:///C:/Program%20Files/Hearth/resources/app.asar/dist/renderer/index.html',
    'file:///Applications/Hearth.app/Contents/Resources/app.asar/dist/renderer/index.html',
    'file://hearth/index.html',
    'http://127.0.0.1:1420/index.html',
    'https://hearth/index.html',
    'http://hearth/',
    'about:blank',
    'about:srcdoc',
    'data:text/html,<script>1</script>',
    'blob:app://hearth/uuid',
    'devtools://devtools/bundled/inspector.html',
    'chrome-extension://abc/',
    'javascript:alert(1)',
    'null',
    '',
    'app:',
    'app:hearth',
  ];
  for (const url of hostile) expect([url, isAppUrl(url)]).toEqual([url, false]);
  for (const v of [undefined, null, 42, {}, ['app://hearth/']]) expect(isAppUrl(v)).toBe(false);
  // why the parts are compared: Node gives a custom scheme an opaque origin, the same for every host
  expect(new URL('app://hearth/index.html').origin).toBe(new URL('app://evil/').origin);
});

describe.each([
  ['Windows', path.win32, WIN_DIR],
  ['macOS', path.posix, MAC_DIR],
])('%s: requests resolve strictly inside dist/renderer', (_name, p, dir) => {
  test('the page and its assets', () => {
    const r = resolveAppRequest('app://hearth/index.html', 'GET', dir, p);
    expect(r).toMatchObject({ status: 200, file: p.join(dir, 'index.html') });
    expect(r.headers).toMatchObject({ 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'X-Content-Type-Options': 'nosniff' });
    expect(resolveAppRequest('app://hearth/', 'GET', dir, p).file).toBe(p.join(dir, 'index.html'));
    expect(resolveAppRequest('app://hearth/app.js?v=1#x', 'HEAD', dir, p)).toMatchObject({ status: 200, file: p.join(dir, 'app.js'), headers: { 'Content-Type': 'text/javascript; charset=utf-8' } });
    expect(resolveAppRequest('app://hearth/fonts/KaTeX_Main-Regular.woff2', 'GET', dir, p)).toMatchObject({ status: 200, file: p.join(dir, 'fonts', 'KaTeX_Main-Regular.woff2') });
    expect(resolveAppRequest('app://hearth/my%20file.css', 'GET', dir, p).file).toBe(p.join(dir, 'my file.css'));
  });

  test('traversal, absolute paths, device names and foreign hosts get 404, with the CSP', () => {
    // dot segments are resolved by the URL parser (as Chromium does) and cannot climb above the root
    for (const url of ['app://hearth/../../../etc/passwd.js', 'app://hearth/%2e%2e/%2e%2e/etc/passwd.js', 'app://hearth/fonts/../../etc/./passwd.js']) {
      expect([url, resolveAppRequest(url, 'GET', dir, p).file]).toEqual([url, p.join(dir, 'etc', 'passwd.js')]);
    }
    const refused = [
      'app://hearth/..%2F..%2Fsecret.js',
      'app://hearth/..%5C..%5Csecret.js',
      'app://hearth/fonts/..%2f..%2f..%2fapp.js',
      'app://hearth/%2Fetc%2Fpasswd.js',
      'app://hearth/C:%5CWindows%5Cwin.ini.js',
      'app://hearth/C:/Windows/system.ini.js',
      'app://hearth/%5C%5Cserver%5Cshare%5Cx.js',
      'app://hearth//server/share/x.js',
      'app://hearth/app.js%00.html',
      'app://hearth/app.js::$DATA',
      'app://hearth/app.js.',
      'app://hearth/app.js%20',
      'app://hearth/CON.js',
      'app://hearth/fonts/nul.css',
      'app://hearth/.env',
      'app://hearth/%',
      'app://hearth/%E0%A4%A',
      'app://hearth/fonts/',
      'app://hearth/main.ts',
      'app://hearth/hearth.node',
      'app://hearth/noext',
      'app://evil/index.html',
      'app://hearth.evil.com/index.html',
      'file:///etc/passwd',
      'not a url',
    ];
    for (const url of refused) {
      const r = resolveAppRequest(url, 'GET', dir, p);
      expect([url, r.status, r.file]).toEqual([url, 404, undefined]);
      expect(r.headers['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY);
    }
  });

  test('only GET and HEAD', () => {
    for (const m of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'get']) expect(resolveAppRequest('app://hearth/index.html', m, dir, p)).toMatchObject({ status: 405, headers: { Allow: 'GET, HEAD' } });
  });
});

test('file:// requests are refused, with the CSP', () => {
  expect(refuseFileRequest()).toMatchObject({ status: 403, headers: { 'Content-Security-Policy': CONTENT_SECURITY_POLICY } });
});

describe('serving from disk (a temporary renderer folder)', () => {
  const dir = tempDir('hearth-scheme-');
  beforeAll(() => {
    fs.mkdirSync(path.join(dir, 'renderer', 'fonts'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'renderer', 'index.html'), '<!doctype html><title>Hearth</title>');
    fs.writeFileSync(path.join(dir, 'renderer', 'fonts', 'a.woff2'), Buffer.from([0, 1, 2]));
    fs.writeFileSync(path.join(dir, 'secret.js'), 'outside');
    fs.mkdirSync(path.join(dir, 'renderer', 'folder.js'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const read = (f: string) => fs.promises.readFile(f);
  const serve = (url: string, method = 'GET') => serveAppRequest({ url, method }, path.join(dir, 'renderer'), read);

  test('files inside are served with the CSP; missing files, folders and files outside are 404', async () => {
    const page = await serve('app://hearth/index.html');
    expect(page.status).toBe(200);
    expect(Buffer.from(page.body!).toString()).toContain('<title>Hearth</title>');
    expect(page.headers['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(await serve('app://hearth/fonts/a.woff2')).toMatchObject({ status: 200, body: Buffer.from([0, 1, 2]), headers: { 'Content-Type': 'font/woff2' } });
    expect(await serve('app://hearth/index.html', 'HEAD')).toMatchObject({ status: 200, body: null });
    for (const url of ['app://hearth/missing.js', 'app://hearth/folder.js', 'app://hearth/../secret.js', 'app://hearth/%2e%2e%2fsecret.js', 'app://hearth/..%2Fsecret.js']) {
      const r = await serve(url);
      expect([url, r.status, r.body]).toEqual([url, 404, null]);
      expect(r.headers['Content-Security-Policy']).toBe(CONTENT_SECURITY_POLICY);
    }
  });
});
