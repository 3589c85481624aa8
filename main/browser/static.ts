/**
 * The renderer bundle over HTTP: files from one folder, streamed (a client that stops reading holds
 * at most a stream's buffer), with the page's CSP. The bundle holds no secret, so no token is needed.
 */
import fs from 'fs';
import http from 'http';
import path from 'path';
import { pipeline } from 'stream';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

/** Headers every response carries. */
export const BASE_HEADERS: http.OutgoingHttpHeaders = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  // the page's address holds the token until the page removes it: never send it elsewhere
  'referrer-policy': 'no-referrer',
};

/** The page's CSP: everything from its own origin; the WebSocket only to this same host and port. */
export function contentSecurityPolicy(hostHeader: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    `connect-src 'self' ws://${hostHeader}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A short plain-text response (errors, refusals). Does nothing once a response has started. */
export function sendText(res: http.ServerResponse, status: number, body: string, extra: http.OutgoingHttpHeaders = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

/**
 * Serves `urlPath` (decoded, from parseTarget) out of `root`; `/` is index.html. Paths that leave the
 * folder, folders and missing files are 404.
 */
export function serveStatic(req: http.IncomingMessage, res: http.ServerResponse, root: string, urlPath: string): void {
  const rel = urlPath === '/' ? 'index.html' : urlPath.replace(/^\/+/, '');
  const base = path.resolve(root);
  const file = path.resolve(base, rel);
  if (!file.startsWith(base + path.sep)) return sendText(res, 404, 'not found');
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return sendText(res, 404, 'not found');
    const headers: http.OutgoingHttpHeaders = {
      ...BASE_HEADERS,
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': st.size,
    };
    if (path.extname(file) === '.html') headers['content-security-policy'] = contentSecurityPolicy(req.headers.host ?? '');
    if (res.destroyed) return;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return void res.end();
    // pipeline destroys both ends on any error (a client gone mid-file, a read failure)
    pipeline(fs.createReadStream(file), res, () => undefined);
  });
}
