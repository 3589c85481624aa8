/** Plain pieces of the Electron shell, unit-tested without Electron: window options, CSP, URL rules, menu template. */
import path from 'path';

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

export interface WindowBounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
}

export function windowOptions(preload: string, bounds: WindowBounds) {
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
      spellcheck: true,
    },
  };
}

/** The renderer is loaded from this file URL; anything else is navigation away from the app. */
export function isAppUrl(url: string, rendererIndex: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'file:' && path.normalize(decodeURIComponent(u.pathname)) === path.normalize(rendererIndex);
  } catch {
    return false;
  }
}

/** Links the user clicks open in the system browser, but only web links. */
export function isExternalLink(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:' || u.protocol === 'mailto:';
  } catch {
    return false;
  }
}

export type MenuItem = { role?: string; label?: string; submenu?: MenuItem[]; type?: 'separator'; accelerator?: string; id?: string };

export function menuTemplate(platform: NodeJS.Platform): MenuItem[] {
  const mac = platform === 'darwin';
  return [
    ...(mac ? [{ role: 'appMenu' }] : []),
    { role: 'fileMenu' },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
    { role: 'help', submenu: [{ id: 'shortcuts', label: 'Keyboard Shortcuts', accelerator: 'CmdOrCtrl+/' }] },
  ];
}
