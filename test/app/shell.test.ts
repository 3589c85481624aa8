/**
 * The Electron shell's plain parts. Electron itself cannot run here (its binary cannot be
 * downloaded), so main/app/main.ts is only typechecked; these functions are what it is built from.
 */
import { SIGNING_KEY_ENV } from '../../main/updates/signature';
import fs from 'fs';
import path from 'path';
import { ALLOWED_PERMISSIONS, DEFAULT_BOUNDS, DEV_ONLY_ENV, linkAction, menuTemplate, parseBounds, permissionAllowed, replaceEnv, shellLayout, spellcheckEnabled, windowOptions } from '../../main/app/security';
import { addonPath } from '../../main/engine/addon';
import { dataDirFlag, defaultDataDir, resolveDataDir } from '../../main/paths';
import { checkKnownFlags, parseArgs, UsageError } from '../../main/cli/args';
import { REPO_ROOT } from '../helpers/models';

test('windows are sandboxed, context-isolated and without Node', () => {
  const o = windowOptions('/app/preload.js', { width: 1000, height: 700 });
  expect(o.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webviewTag: false, preload: '/app/preload.js' });
  expect(o.width).toBe(1000);
});

test('saved window bounds are validated; a corrupt or odd window.json gives the default size', () => {
  expect(parseBounds('{"x":10,"y":-20,"width":1000,"height":700}')).toEqual({ x: 10, y: -20, width: 1000, height: 700 });
  expect(parseBounds('{"width":1000,"height":700,"x":5}')).toStrictEqual({ width: 1000, height: 700 });
  for (const text of [undefined, '', 'not json', 'null', '[]', '{"width":100,"height":700}', '{"x":"evil","width":1000,"height":700}', '{"width":1e300,"height":700}', '{"width":1000.5,"height":700}']) {
    expect([text, parseBounds(text)]).toEqual([text, DEFAULT_BOUNDS]);
  }
});

test('spellcheck only where it downloads nothing: macOS yes, Windows and Linux no', () => {
  expect(spellcheckEnabled('darwin')).toBe(true);
  expect(spellcheckEnabled('win32')).toBe(false);
  expect(spellcheckEnabled('linux')).toBe(false);
  expect(windowOptions('/p.js', { width: 800, height: 600 }, 'win32').webPreferences.spellcheck).toBe(false);
  expect(windowOptions('/p.js', { width: 800, height: 600 }, 'darwin').webPreferences.spellcheck).toBe(true);
});

test('only https links open in the system browser; every other link is only shown', () => {
  expect(linkAction('https://example.com/a?b#c')).toBe('open');
  expect(linkAction('HTTPS://EXAMPLE.COM/')).toBe('open');
  for (const url of ['http://example.com/', 'mailto:a@b.c', 'file:///etc/passwd', 'file://C:/Windows/System32/calc.exe', 'javascript:alert(1)',
    'smb://host/share', 'ms-msdt:/id', 'vscode://x', 'data:text/html,hi', 'app://hearth/index.html', 'https//no-colon', '', 'not a url']) {
    expect([url, linkAction(url)]).toEqual([url, 'show']);
  }
});

test('permissions: everything denied but clipboard writes from the app page', () => {
  expect([...ALLOWED_PERMISSIONS]).toEqual(['clipboard-sanitized-write']);
  // the check handler gets an origin, the request handler a URL
  expect(permissionAllowed('clipboard-sanitized-write', 'app://hearth')).toBe(true);
  expect(permissionAllowed('clipboard-sanitized-write', 'app://hearth/index.html')).toBe(true);
  for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fullscreen', 'midi', 'hid', 'serial', 'usb', 'fileSystem', 'pointerLock', 'unknown']) {
    expect([p, permissionAllowed(p, 'app://hearth/index.html')]).toEqual([p, false]);
  }
  for (const origin of ['https://example.com', 'file:///', 'app://evil', 'app://hearth.evil.com', 'http://127.0.0.1:1420', 'null', '', undefined]) {
    expect([origin, permissionAllowed('clipboard-sanitized-write', origin)]).toEqual([origin, false]);
  }
});

test('a packaged app takes its addon from resources/native and drops the development overrides (Windows and macOS paths)', () => {
  const env = { PATH: '/usr/bin', APPDATA: 'C:\\Users\\a\\AppData\\Roaming', HEARTH_DATA_DIR: 'D:\\data', HEARTH_ADDON: 'C:\\evil\\hearth.node', HEARTH_HOST_SCRIPT: 'C:\\evil\\host.js', HEARTH_BACKENDS: 'vulkan', HEARTH_TEST_HOOKS: '1', HEARTH_TEST_CRASH_BACKEND: 'cpu' };
  const win = shellLayout({ packaged: true, env, appRoot: 'C:\\Program Files\\Hearth\\resources\\app.asar', resourcesPath: 'C:\\Program Files\\Hearth\\resources' }, path.win32);
  expect(win.env).toEqual({ PATH: '/usr/bin', APPDATA: env.APPDATA, HEARTH_DATA_DIR: 'D:\\data', HEARTH_ADDON: 'C:\\Program Files\\Hearth\\resources\\native\\hearth.node' });
  expect(win.hostScript).toBe('C:\\Program Files\\Hearth\\resources\\app.asar\\dist\\engine-host.js');
  expect(win.rendererDir).toBe('C:\\Program Files\\Hearth\\resources\\app.asar\\dist\\renderer');
  expect(win.preload).toBe('C:\\Program Files\\Hearth\\resources\\app.asar\\dist\\app\\preload.js');
  const mac = shellLayout({ packaged: true, env: { HEARTH_ADDON: '/tmp/evil.node' }, appRoot: '/Applications/Hearth.app/Contents/Resources/app.asar', resourcesPath: '/Applications/Hearth.app/Contents/Resources' }, path.posix);
  expect(mac.env).toEqual({ HEARTH_ADDON: '/Applications/Hearth.app/Contents/Resources/native/hearth.node' });
  expect(env.HEARTH_ADDON).toBe('C:\\evil\\hearth.node'); // the input is not modified
  // main/engine's addonPath() then finds the packaged addon through HEARTH_ADDON
  const saved = process.env.HEARTH_ADDON;
  try {
    process.env.HEARTH_ADDON = mac.env.HEARTH_ADDON;
    expect(addonPath()).toBe('/Applications/Hearth.app/Contents/Resources/native/hearth.node');
  } finally {
    if (saved === undefined) delete process.env.HEARTH_ADDON;
    else process.env.HEARTH_ADDON = saved;
  }
  // a development run honours the overrides
  const devEnv = { HEARTH_ADDON: '/x/hearth.node', HEARTH_TEST_HOOKS: '1' };
  expect(shellLayout({ packaged: false, env: devEnv, appRoot: '/src/hearth', resourcesPath: '/unused' }, path.posix).env).toEqual(devEnv);
});

function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

test('every HEARTH_* variable the code reads (TypeScript and the addon) is a development override or the data folder', () => {
  // a new override added anywhere in main/ fails here until it is classified
  const read = new Set<string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      // code, not comments (which also name build options such as HEARTH_CPU_ALL_VARIANTS)
      else if (f.endsWith('.ts')) for (const m of withoutComments(fs.readFileSync(f, 'utf8')).matchAll(/\b(HEARTH_[A-Z_]+)\b/g)) read.add(m[1]);
      // the addon's own environment reads (its HEARTH_* macros are compile-time, not variables)
      else if (/\.(cpp|h)$/.test(f)) for (const m of fs.readFileSync(f, 'utf8').matchAll(/getenv\("(HEARTH_[A-Z_]+)"\)/g)) read.add(m[1]);
    }
  };
  walk(path.join(REPO_ROOT, 'main'));
  walk(path.join(REPO_ROOT, 'native', 'src'));
  // data, not code: the documented override of the data folder, and how much the logs say
  const honoured = new Set(['HEARTH_DATA_DIR', 'HEARTH_LOG_LEVEL']);
  // named in main/updates but read only by scripts/release (the signing key), never by the app
  honoured.add(SIGNING_KEY_ENV);
  const unclassified = [...read].filter((v) => !honoured.has(v) && !(DEV_ONLY_ENV as readonly string[]).includes(v));
  expect(unclassified).toEqual([]);
  expect(read.has('HEARTH_ADDON')).toBe(true);
});

test('replaceEnv makes process.env exactly the layout environment', () => {
  const target: NodeJS.ProcessEnv = { A: '1', HEARTH_ADDON: '/evil', B: '2' };
  replaceEnv(target, { A: '1', HEARTH_ADDON: '/good' });
  expect(target).toEqual({ A: '1', HEARTH_ADDON: '/good' });
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
  // the desktop app reads the flag from its own command line, in either spelling
  expect(dataDirFlag(['/opt/Hearth/hearth', '--data-dir', '/tmp/h3'])).toBe('/tmp/h3');
  expect(dataDirFlag(['/usr/bin/electron', '.', '--no-sandbox', '--data-dir=/tmp/h4'])).toBe('/tmp/h4');
  expect(dataDirFlag(['/opt/Hearth/hearth'])).toBeUndefined();
  expect(dataDirFlag(['/opt/Hearth/hearth', '--data-dir'])).toBeUndefined();
  expect(resolveDataDir(dataDirFlag(['hearth', '--data-dir=/tmp/h4']), { HEARTH_DATA_DIR: '/tmp/h1' })).toBe('/tmp/h4');
});

test('the CLI argument parser', () => {
  const a = parseArgs(['run', 'm.gguf', '-p', 'hi there', '-n', '5', '--json', '--temp=0.5'], new Set(['json']), { p: 'prompt', n: 'n-predict' });
  expect(a.positional).toEqual(['run', 'm.gguf']);
  expect(a.flags).toEqual({ prompt: 'hi there', 'n-predict': '5', json: true, temp: '0.5' });
  // an option without its value is reported after unknown options, so a typo is named as one
  const missing = parseArgs(['--port'], new Set());
  expect(missing.missingValue).toBe('port');
  expect(() => checkKnownFlags(missing, new Set(['port']), 'serve')).toThrow(new UsageError('--port needs a value (see hearth --help)'));
  expect(() => checkKnownFlags(parseArgs(['--prot'], new Set()), new Set(['port']), 'serve')).toThrow(new UsageError('hearth serve has no option --prot: see hearth --help'));
});
