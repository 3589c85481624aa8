/**
 * The Electron shell's plain parts. Electron itself cannot run here (its binary cannot be
 * downloaded), so main/app/main.ts is only typechecked; these functions are what it is built from.
 */
import path from 'path';
import { CONTENT_SECURITY_POLICY, isAppUrl, isExternalLink, menuTemplate, windowOptions } from '../../main/app/security';
import { defaultDataDir, resolveDataDir } from '../../main/paths';
import { parseArgs, UsageError } from '../../main/cli/args';

test('windows are sandboxed, context-isolated and without Node', () => {
  const o = windowOptions('/app/preload.js', { width: 1000, height: 700 });
  expect(o.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webviewTag: false, preload: '/app/preload.js' });
  expect(o.width).toBe(1000);
});

test('the CSP allows only the app itself', () => {
  expect(CONTENT_SECURITY_POLICY).toContain("default-src 'self'");
  expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
  expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-eval|\*/);
  expect(CONTENT_SECURITY_POLICY).toContain("object-src 'none'");
});

test('navigation stays on the app page; only web links open outside', () => {
  const index = path.resolve('/opt/hearth/dist/renderer/index.html');
  expect(isAppUrl(`file://${index}`, index)).toBe(true);
  expect(isAppUrl(`file://${index}?x=1#y`, index)).toBe(true);
  expect(isAppUrl('file:///etc/passwd', index)).toBe(false);
  expect(isAppUrl('https://example.com/', index)).toBe(false);
  expect(isExternalLink('https://example.com/a')).toBe(true);
  expect(isExternalLink('file:///etc/passwd')).toBe(false);
  expect(isExternalLink('javascript:alert(1)')).toBe(false);
});

test('the menu uses the standard roles, with an app menu only on macOS', () => {
  const roles = (p: NodeJS.Platform) => menuTemplate(p).map((m) => m.role);
  expect(roles('darwin')[0]).toBe('appMenu');
  expect(roles('linux')).toEqual(['fileMenu', 'editMenu', 'viewMenu', 'windowMenu', 'help']);
});

test('the data folder: flag over HEARTH_DATA_DIR over the platform default', () => {
  expect(defaultDataDir('linux', { XDG_CONFIG_HOME: '/x/cfg' })).toBe('/x/cfg/Hearth');
  expect(defaultDataDir('darwin', {})).toMatch(/Library\/Application Support\/Hearth$/);
  expect(defaultDataDir('win32', { APPDATA: 'C:\\Users\\a\\AppData\\Roaming' })).toContain('Hearth');
  expect(resolveDataDir(undefined, { HEARTH_DATA_DIR: '/tmp/h1' })).toBe('/tmp/h1');
  expect(resolveDataDir('/tmp/h2', { HEARTH_DATA_DIR: '/tmp/h1' })).toBe('/tmp/h2');
});

test('the CLI argument parser', () => {
  const a = parseArgs(['run', 'm.gguf', '-p', 'hi there', '-n', '5', '--json', '--temp=0.5'], new Set(['json']), { p: 'prompt', n: 'n-predict' });
  expect(a.positional).toEqual(['run', 'm.gguf']);
  expect(a.flags).toEqual({ prompt: 'hi there', 'n-predict': '5', json: true, temp: '0.5' });
  expect(() => parseArgs(['--port'], new Set())).toThrow(UsageError);
});
