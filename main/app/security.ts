/**
 * Plain pieces of the Electron shell, unit-tested without Electron: window options, link and
 * permission rules, what a packaged app takes from the environment, the menu template.
 */
import path from 'path';
import { z } from 'zod';
import { isAppUrl } from './scheme';

const Coordinate = z.number().int().min(-100_000).max(100_000);
const WindowBoundsFile = z.object({ x: Coordinate.optional(), y: Coordinate.optional(), width: z.number().int().min(400).max(100_000), height: z.number().int().min(300).max(100_000) });
export type WindowBounds = z.infer<typeof WindowBoundsFile>;
export const DEFAULT_BOUNDS: WindowBounds = { width: 1200, height: 800 };

/** The saved window bounds (window.json), or the default for a missing, corrupt or odd file. */
export function parseBounds(text: string | undefined): WindowBounds {
  try {
    const b = WindowBoundsFile.safeParse(JSON.parse(text ?? ''));
    if (!b.success) return DEFAULT_BOUNDS;
    const { x, y, width, height } = b.data;
    // a position only as a pair, and no undefined keys in BrowserWindow's options
    return x !== undefined && y !== undefined ? { x, y, width, height } : { width, height };
  } catch {
    return DEFAULT_BOUNDS;
  }
}

/**
 * Spellcheck only where it needs no download: macOS checks with the system's dictionaries; on
 * Windows and Linux Chromium fetches Hunspell dictionaries from Google's CDN, so it stays off there.
 */
export function spellcheckEnabled(platform: NodeJS.Platform): boolean {
  return platform === 'darwin';
}

export function windowOptions(preload: string, bounds: WindowBounds, platform: NodeJS.Platform = process.platform) {
  return {
    ...bounds,
    minWidth: 720,
    minHeight: 480,
    title: 'Hearth',
    show: false,
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      spellcheck: spellcheckEnabled(platform),
    },
  };
}

/** A link the user clicked: https opens in the system browser, anything else is only shown. */
export function linkAction(url: string): 'open' | 'show' {
  try {
    return new URL(url).protocol === 'https:' ? 'open' : 'show';
  } catch {
    return 'show';
  }
}

/** Permissions the page may use: writing text to the clipboard (the Copy buttons use navigator.clipboard.writeText). */
export const ALLOWED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write']);

/** The permission request and check handlers: everything denied but ALLOWED_PERMISSIONS for the app's own page. */
export function permissionAllowed(permission: string, requestingUrl: unknown): boolean {
  return ALLOWED_PERMISSIONS.has(permission) && isAppUrl(requestingUrl);
}

/**
 * Variables that point Hearth at other code or turn test hooks on. A development run honours
 * them; a packaged app drops them, so nothing outside the installed files decides what it loads.
 */
export const DEV_ONLY_ENV = [
  'HEARTH_ADDON',
  'HEARTH_HOST_SCRIPT',
  'HEARTH_BACKENDS',
  'HEARTH_TEST_HOOKS',
  'HEARTH_TEST_CRASH_BACKEND',
  'HEARTH_TEST_FAIL',
  'HEARTH_TEST_TASK_BOUNDS',
  'HEARTH_TEST_IO_PIECE',
  'HEARTH_TEST_IO_DELAY_MS',
  'HEARTH_TEST_LOAD_GATE',
  'HEARTH_ENGINE_LOG_DIR',
  // main hands each engine host a folder of its own for render marks (main/engine/render-marks.ts)
  'HEARTH_RENDER_MARKS',
  // main hands the engine host the remote devices that answered its probe (main/engine/rpc.ts): one
  // from outside would reach the host unprobed, and ggml-rpc ends the process on one that does not answer
  'HEARTH_RPC_SERVERS',
  // `hearth rpc-server` ties the rpc-server it starts to itself (main/engine/rpc.ts spawnRpcServer sets it
  // in that child's environment alone; native/rpc/parent_watch.cpp reads it): no Hearth process reads it
  'HEARTH_RPC_PARENT_STDIN',
] as const;

export interface ShellLayout {
  /** the environment main and every process it starts run with (main/engine reads HEARTH_ADDON from it) */
  env: NodeJS.ProcessEnv;
  hostScript: string;
  rendererDir: string;
  preload: string;
}

/**
 * Where the shell's files are. `appRoot` holds dist/ (the repository, or app.asar when packaged).
 * A packaged app's addon is resources/native/hearth.node (electron-builder.yml) whatever the
 * environment says; a development run keeps main/engine's default (build/bin) or HEARTH_ADDON.
 */
export function shellLayout(o: { packaged: boolean; env: NodeJS.ProcessEnv; appRoot: string; resourcesPath: string }, p: path.PlatformPath = path): ShellLayout {
  const env = { ...o.env };
  if (o.packaged) {
    for (const k of DEV_ONLY_ENV) delete env[k];
    env.HEARTH_ADDON = p.join(o.resourcesPath, 'native', 'hearth.node');
  }
  const dist = p.join(o.appRoot, 'dist');
  return { env, hostScript: p.join(dist, 'engine-host.js'), rendererDir: p.join(dist, 'renderer'), preload: p.join(dist, 'app', 'preload.js') };
}

/** Makes `target` (process.env) exactly `next`. */
export function replaceEnv(target: NodeJS.ProcessEnv, next: NodeJS.ProcessEnv): void {
  for (const k of Object.keys(target)) if (!(k in next)) delete target[k];
  Object.assign(target, next);
}

export type MenuItem = { role?: string; label?: string; submenu?: MenuItem[]; type?: 'separator'; accelerator?: string; id?: string; click?: () => void };

/** What the app's own menu items do (main/app/main.ts tells the page). */
export interface MenuActions {
  /** Help → Keyboard Shortcuts: the page opens its shortcuts dialog */
  shortcuts(): void;
}

/** The menu items the page carries out, as events to it (`app.menu`). */
export function pageMenuActions(services: { emit(event: 'app.menu', payload: { item: 'shortcuts' }): void }): MenuActions {
  return { shortcuts: () => services.emit('app.menu', { item: 'shortcuts' }) };
}

export function menuTemplate(platform: NodeJS.Platform, actions?: MenuActions): MenuItem[] {
  const mac = platform === 'darwin';
  return [
    ...(mac ? [{ role: 'appMenu' }] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
    { role: 'help', submenu: [{ id: 'shortcuts', label: 'Keyboard Shortcuts', accelerator: 'CmdOrCtrl+/', click: () => actions?.shortcuts() }] },
  ];
}
