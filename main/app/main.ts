/**
 * Electron main: lifecycle, the window, menus, IPC registration, and the engine host as a
 * utilityProcess. Only this folder imports electron.
 */
import { app, BrowserWindow, ipcMain, Menu, session, shell, utilityProcess } from 'electron';
import fs from 'fs';
import path from 'path';
import { EngineClient, HostProcess } from '../engine/client';
import { logLevelFrom, logUncaught, openFileLogger } from '../logging';
import { IpcError } from '../ipc/contract';
import { ensureDataDir, resolveDataDir } from '../paths';
import { composeApp } from '../compose';
import { CONTENT_SECURITY_POLICY, isAppUrl, isExternalLink, menuTemplate, MenuItem, WindowBounds, windowOptions } from './security';

const root = path.join(__dirname, '..', '..');
const rendererIndex = path.join(root, 'dist', 'renderer', 'index.html');

function utilitySpawner(script: string, env: NodeJS.ProcessEnv): HostProcess {
  // stderr piped: the client keeps its tail (a native abort's reason) for the crash log
  const child = utilityProcess.fork(script, [], { env, serviceName: 'Hearth Engine', stdio: ['ignore', 'inherit', 'pipe'] });
  return {
    get pid() {
      return child.pid;
    },
    send: (m) => child.postMessage(m),
    onMessage: (fn) => child.on('message', fn),
    onExit: (fn) => child.on('exit', (code) => fn(code, null)),
    kill: () => {
      child.kill();
    },
    onStderr: (fn) => child.stderr?.on('data', (b: Buffer) => fn(b.toString('utf8'))),
  };
}

function loadBounds(file: string): WindowBounds {
  try {
    const b = JSON.parse(fs.readFileSync(file, 'utf8')) as WindowBounds;
    if (b.width >= 400 && b.height >= 300) return b;
  } catch {
    /* first run */
  }
  return { width: 1200, height: 800 };
}

// packaged: the addon and the backend modules are in resources/native (see electron-builder.yml)
if (app.isPackaged && !process.env.HEARTH_ADDON) process.env.HEARTH_ADDON = path.join(process.resourcesPath, 'native', 'hearth.node');

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  const paths = ensureDataDir(resolveDataDir(process.env.HEARTH_DATA_DIR));
  app.setPath('userData', paths.root);
  const logger = openFileLogger(paths.logs, 'main', { level: logLevelFrom() });
  logUncaught(logger);
  logger.info('Hearth started', { version: app.getVersion(), platform: process.platform, arch: process.arch, electron: process.versions.electron });
  const engine = new EngineClient({ spawner: utilitySpawner, hostScript: path.join(root, 'dist', 'engine-host.js'), logger, logDir: paths.logs });
  const hearth = composeApp({ paths, engine, appVersion: app.getVersion(), logger });
  const services = hearth.services;
  // Help → "Open logs folder" (About); only the app has a file manager to open it in
  services.register({
    'app.openLogsFolder': async () => {
      const failed = await shell.openPath(paths.logs);
      if (failed) throw new IpcError('internal', `could not open the logs folder: ${failed}`);
      return { ok: true as const };
    },
  });
  let win: BrowserWindow | undefined;
  const boundsFile = path.join(paths.root, 'window.json');

  const createWindow = () => {
    win = new BrowserWindow(windowOptions(path.join(__dirname, 'preload.js'), loadBounds(boundsFile)));
    win.once('ready-to-show', () => win?.show());
    win.on('close', () => {
      if (win) fs.writeFileSync(boundsFile, JSON.stringify(win.getBounds()));
    });
    win.webContents.on('will-navigate', (e, url) => {
      if (!isAppUrl(url, rendererIndex)) e.preventDefault();
    });
    win.webContents.setWindowOpenHandler(({ url }) => {
      if (isExternalLink(url)) void shell.openExternal(url);
      return { action: 'deny' };
    });
    void win.loadFile(rendererIndex);
  };

  app.on('second-instance', () => {
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });

  app.whenReady().then(() => {
    session.defaultSession.webRequest.onHeadersReceived((details, cb) => {
      cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY] } });
    });
    Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(process.platform) as Electron.MenuItemConstructorOptions[] & MenuItem[]));
    ipcMain.handle('hearth:invoke', async (event, channel: unknown, payload: unknown) => {
      const frame = event.senderFrame;
      if (!frame || !isAppUrl(frame.url, rendererIndex)) throw new IpcError('forbidden', 'IPC from a foreign frame');
      if (typeof channel !== 'string') throw new IpcError('invalid_input', 'channel must be a string');
      return services.handle(channel, payload);
    });
    services.subscribe((event, payload) => {
      for (const w of BrowserWindow.getAllWindows()) w.webContents.send('hearth:event', event, payload);
    });
    void engine.start();
    createWindow();
  });

  app.on('window-all-closed', () => {
    void hearth.close().then(() => engine.close()).then(() => app.quit());
  });
}
