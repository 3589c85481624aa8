/**
 * Electron main: lifecycle, the window served from app://hearth, permissions, menus, IPC
 * registration, and the engine host and backend probes as utilityProcesses. Only this folder
 * imports electron; the decisions are plain functions in scheme.ts, security.ts, links.ts, ipc.ts,
 * spawners.ts.
 */
import { app, BrowserWindow, clipboard, dialog, ipcMain, Menu, protocol, safeStorage, session, shell, utilityProcess } from 'electron';
import fs from 'fs';
import path from 'path';
import { App, composeApp } from '../compose';
import { EngineClient } from '../engine/client';
import { IpcError } from '../ipc/contract';
import { logLevelFrom, logUncaught, openFileLogger } from '../logging';
import { dataDirFlag, ensureDataDir, resolveDataDir, type DataPaths } from '../paths';
import { readRegularFileSync } from '../regular-file';
import { registerIpc } from './ipc';
import { LinkOpener, reportLinkNotices, windowOpenHandler } from './links';
import { closeBeforeQuit, relaunchingRestart } from './lifecycle';
import { APP_INDEX_URL, APP_SCHEME, APP_SCHEME_PRIVILEGES, isAppUrl, refuseFileRequest, serveAppRequest } from './scheme';
import { menuTemplate, MenuItem, pageMenuActions, parseBounds, permissionAllowed, replaceEnv, shellLayout, spellcheckEnabled, WindowBounds, windowOptions } from './security';
import { utilityHostSpawner, utilityProbeSpawner } from './spawners';
import { keychainCipher } from './secrets';
import { startErrorBox } from './start-error';
import { electronUpdaterPort, packageTypeOf, relaunchOptions, unsupportedReason, UPDATE_FEED_URL } from './updater';
import { feedUrlOf, readBuildInfo } from '../updates/build-info';
import { readCarriedPublicKey } from '../updates/verify';

// a packaged app ignores HEARTH_ADDON and the other development overrides; every process main
// starts (the probes, the engine host) inherits this environment
const layout = shellLayout({ packaged: app.isPackaged, env: process.env, appRoot: path.join(__dirname, '..', '..'), resourcesPath: process.resourcesPath });
replaceEnv(process.env, layout.env);

// before ready: app://hearth is a standard, secure origin the page and its CSP live in
protocol.registerSchemesAsPrivileged([APP_SCHEME_PRIVILEGES]);

function loadBounds(file: string): WindowBounds {
  try {
    // a regular file only, bounded (null: none yet, or not a file Hearth wrote)
    return parseBounds(readRegularFileSync(file, 64 * 1024)?.toString('utf8'));
  } catch {
    return parseBounds(undefined); // first run
  }
}

function toResponse(r: { status: number; headers: Record<string, string>; body: Uint8Array | null }): Response {
  return new Response(r.body as BodyInit | null, { status: r.status, headers: r.headers });
}

/** The data folder, made if missing, or why there is none (a moved folder that is not there: startErrorBox says what to do). */
function openStartFolder(): DataPaths | Error {
  try {
    // --data-dir wins over HEARTH_DATA_DIR, which wins over the platform's folder (as for the CLI)
    return ensureDataDir(resolveDataDir(dataDirFlag(process.argv)));
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

let started: DataPaths | Error | undefined;
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else if ((started = openStartFolder()) instanceof Error) {
  const failure = started;
  void app.whenReady().then(() => {
    const box = startErrorBox(failure);
    dialog.showErrorBox(box.title, box.content);
    app.quit();
  });
} else {
  const paths = started;
  app.setPath('userData', paths.root);
  const logger = openFileLogger(paths.logs, 'main', { level: logLevelFrom() });
  logUncaught(logger);
  logger.info('Hearth started', { version: app.getVersion(), platform: process.platform, arch: process.arch, electron: process.versions.electron });
  let win: BrowserWindow | undefined;
  let engine: EngineClient | undefined;
  let hearth: App | undefined;
  const boundsFile = path.join(paths.root, 'window.json');
  const links = new LinkOpener(
    {
      showMessageBox: (o) => (win && !win.isDestroyed() ? dialog.showMessageBox(win, o) : dialog.showMessageBox(o)),
      openExternal: (url) => shell.openExternal(url),
      writeClipboard: (text) => clipboard.writeText(text),
    },
    // dropped requests and links the system would not open: in the log and as a message in the page
    { report: reportLinkNotices({ logger, emit: (p) => hearth?.services.emit('app.notice', p) }) },
  );

  const createWindow = () => {
    win = new BrowserWindow(windowOptions(layout.preload, loadBounds(boundsFile)));
    win.once('ready-to-show', () => win?.show());
    win.on('close', () => {
      try {
        if (win) fs.writeFileSync(boundsFile, JSON.stringify(win.getBounds()));
      } catch {
        /* a full or read-only disk: the next start uses the default size */
      }
    });
    win.webContents.on('will-navigate', (e, url) => {
      if (!isAppUrl(url)) e.preventDefault();
    });
    // a link opens only when the user says so in a dialog (main/app/links.ts)
    win.webContents.setWindowOpenHandler(windowOpenHandler(links));
    void win.loadURL(APP_INDEX_URL);
  };

  app.on('second-instance', () => {
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });

  const onReady = () => {
    protocol.handle(APP_SCHEME, async (req) => toResponse(await serveAppRequest(req, layout.rendererDir, (f) => fs.promises.readFile(f))));
    protocol.handle('file', () => toResponse({ ...refuseFileRequest(), body: null }));
    const ses = session.defaultSession;
    ses.setPermissionRequestHandler((_wc, permission, callback, details) => callback(permissionAllowed(permission, details.requestingUrl)));
    ses.setPermissionCheckHandler((_wc, permission, requestingOrigin) => permissionAllowed(permission, requestingOrigin));
    ses.setDevicePermissionHandler(() => false);
    ses.setSpellCheckerEnabled(spellcheckEnabled(process.platform));
    // utilityProcess.fork works only once the app is ready, so the engine (whose first start probes) is built here
    engine = new EngineClient({
      spawner: utilityHostSpawner(utilityProcess.fork),
      probeSpawner: utilityProbeSpawner(utilityProcess.fork),
      hostScript: layout.hostScript,
      logger,
      logDir: paths.logs,
    });
    // the Hugging Face token is encrypted with the OS keychain where Electron has a real one (else a plain file, with a warning)
    const secrets = keychainCipher(safeStorage, process.platform);
    // the updater: a packaged app of a kind electron-updater replaces; closing everything comes before its install
    const build = readBuildInfo(app.getAppPath());
    const noUpdates = unsupportedReason({ packaged: app.isPackaged, platform: process.platform, env: process.env, packageType: packageTypeOf(process.resourcesPath), build });
    const updates = noUpdates === null && build
      ? {
          port: electronUpdaterPort({ feedUrl: feedUrlOf(UPDATE_FEED_URL, build.gpu), publicKeyPem: readCarriedPublicKey(app.getAppPath()), configDir: path.join(paths.root, 'updater'), resourcesPath: process.resourcesPath, logger }),
          beforeInstall: closeAll,
          // a failed install leaves the services and the engine host closed: start again on this version
          relaunch: () => {
            app.relaunch(relaunchOptions(process.env, process.argv));
            app.exit(0);
          },
          gpu: build.gpu,
        }
      : undefined;
    // a restore, a move of the data folder or an erase of everything: everything closes, the files are swapped, Hearth starts again
    const restart = relaunchingRestart(app, closeAll, { relaunchOptions: relaunchOptions(process.env, process.argv), log: (m) => logger.info(m) });
    hearth = composeApp({ paths, engine, appVersion: app.getVersion(), logger, secrets, updates, updatesUnsupported: noUpdates ?? undefined, restart });
    // the app's own menu items (Help → Keyboard Shortcuts) are carried out by the page
    Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(process.platform, pageMenuActions(hearth.services)) as Electron.MenuItemConstructorOptions[] & MenuItem[]));
    // Help → "Open logs folder" (About); only the app has a file manager to open it in
    hearth.services.register({
      'app.openLogsFolder': async () => {
        const failed = await shell.openPath(paths.logs);
        if (failed) throw new IpcError('internal', `could not open the logs folder: ${failed}`);
        return { ok: true as const };
      },
    });
    registerIpc(ipcMain, hearth.services, () => BrowserWindow.getAllWindows().flatMap((w) => (w.isDestroyed() ? [] : [w.webContents])));
    // a failed start is reported by the first request that needs the engine (About shows it)
    engine.start().catch(() => undefined);
    createWindow();
    // the first check (modes auto and check) and the schedule
    hearth.updates.start();
    // the daily backup (now if the newest is a day old, then hourly checks)
    hearth.backups.start();
    // the local API server, when the settings page's toggle left it on (a failed start shows there)
    hearth.api.startIfEnabled().catch((e: Error) => logger.warn(`api: ${e.message}`));
  };

  app
    .whenReady()
    .then(onReady)
    .catch((e: Error) => {
      // e.g. the data folder's database cannot be opened (or an update's migration failed and it was restored): say so rather than run without a window
      const box = startErrorBox(e);
      dialog.showErrorBox(box.title, box.content);
      app.quit();
    });

  // the app's services, then the engine host: before quitting, and before an update installs (once)
  let closing: Promise<void> | undefined;
  function closeAll(): Promise<void> {
    return (closing ??= (async () => {
      await hearth?.close();
      await engine?.close();
    })());
  }
  closeBeforeQuit(app, closeAll);
  app.on('window-all-closed', () => app.quit());
}
