/**
 * The app:// scheme the Electron window loads the renderer from. A privileged standard + secure
 * scheme gives the page a real origin (`'self'` in the CSP means app://hearth) and responses main
 * writes itself, so the CSP header applies (file:// responses never pass webRequest). Plain
 * functions: unit-tested with path.win32 and path.posix, without Electron.
 */
import path from 'path';

export const APP_SCHEME = 'app';
export const APP_HOST = 'hearth';
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** For protocol.registerSchemesAsPrivileged, before the app is ready. */
export const APP_SCHEME_PRIVILEGES = { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } };

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/**
 * True for URLs of the app's own origin (app://hearth/…). Node's URL gives a custom scheme an
 * opaque origin (`new URL('app://x/').origin` is 'null' for every host), so the parts are compared.
 */
export function isAppUrl(url: unknown): boolean {
  if (typeof url !== 'string') return false;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return u.protocol === `${APP_SCHEME}:` && u.hostname === APP_HOST && u.port === '' && u.username === '' && u.password === '';
}

/** What dist/renderer holds; any other extension is not served. */
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

// Windows opens a device for these names whatever the folder or extension
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;

/** The decoded path segments of a request, or undefined for anything that is not a plain file name. */
function segments(pathname: string): string[] | undefined {
  const raw = pathname === '/' ? ['index.html'] : pathname.replace(/^\//, '').split('/');
  const out: string[] = [];
  for (const r of raw) {
    let s: string;
    try {
      s = decodeURIComponent(r);
    } catch {
      return undefined;
    }
    // no empty, dot or hidden names; no separators, drive or stream colons, NULs or control characters;
    // no trailing dot or space (Windows strips them, so "app.js." would name app.js)
    if (!s || s.startsWith('.') || /[\\/:*?"<>|\x00-\x1f\x7f]/.test(s) || /[. ]$/.test(s) || WINDOWS_DEVICE.test(s)) return undefined;
    out.push(s);
  }
  return out;
}

export interface AppResponse {
  status: 200 | 403 | 404 | 405;
  headers: Record<string, string>;
  /** the file to send (status 200 only) */
  file?: string;
}

/** Headers on every response of the scheme, errors included. */
function headers(contentType = 'text/plain; charset=utf-8'): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cache-Control': 'no-cache',
  };
}

/**
 * Resolves one request of the app scheme to a file strictly inside `rendererDir` (absolute), or an
 * error status. `p` is the path flavour of the platform (path.win32 or path.posix in tests).
 */
export function resolveAppRequest(url: string, method: string, rendererDir: string, p: path.PlatformPath = path): AppResponse {
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, headers: { ...headers(), Allow: 'GET, HEAD' } };
  if (!isAppUrl(url)) return { status: 404, headers: headers() };
  const parts = segments(new URL(url).pathname);
  if (!parts) return { status: 404, headers: headers() };
  const root = p.resolve(rendererDir);
  const file = p.resolve(root, ...parts);
  const rel = p.relative(root, file);
  if (!rel || p.isAbsolute(rel) || rel.split(p.sep)[0] === '..') return { status: 404, headers: headers() };
  const type = CONTENT_TYPES[p.extname(file).toLowerCase()];
  if (!type) return { status: 404, headers: headers() };
  return { status: 200, headers: headers(type), file };
}

/** The answer to every file:// request: Hearth's page never needs one. */
export function refuseFileRequest(): AppResponse {
  return { status: 403, headers: headers() };
}

/** Serves one request of the app scheme: the file's bytes, or an empty body with the error status. */
export async function serveAppRequest(
  req: { url: string; method: string },
  rendererDir: string,
  readFile: (file: string) => Promise<Uint8Array>,
  p: path.PlatformPath = path,
): Promise<{ status: number; headers: Record<string, string>; body: Uint8Array | null }> {
  const r = resolveAppRequest(req.url, req.method, rendererDir, p);
  if (!r.file) return { status: r.status, headers: r.headers, body: null };
  let body: Uint8Array;
  try {
    body = await readFile(r.file);
  } catch {
    return { status: 404, headers: headers(), body: null };
  }
  return { status: 200, headers: r.headers, body: req.method === 'HEAD' ? null : body };
}
