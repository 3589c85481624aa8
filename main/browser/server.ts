/**
 * Browser mode: an HTTP server on loopback serving the renderer build, and a WebSocket carrying the
 * IPC contract. A random token in the printed URL is required for every request and the socket;
 * requests with a foreign Host or Origin header are refused (DNS rebinding, cross-site pages).
 */
import crypto from 'crypto';
import fs from 'fs';
import http from 'http';
import path from 'path';
import { WebSocketServer, WebSocket } from 'ws';
import { WsRequest, WsResponse } from '../ipc/contract';
import { Services } from '../services';
import type { Logger } from '../logging';

export interface BrowserServerOptions {
  services: Services;
  host: string;
  port: number;
  /** folder with index.html and the bundle */
  rendererDir: string;
  token?: string;
  logger: Logger;
}

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

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export class BrowserServer {
  readonly token: string;
  private server: http.Server | undefined;
  private wss: WebSocketServer | undefined;
  private boundPort = 0;

  constructor(private readonly opts: BrowserServerOptions) {
    this.token = opts.token ?? crypto.randomBytes(24).toString('base64url');
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    return `http://${host}:${this.boundPort}/?token=${this.token}`;
  }

  private allowedHosts(): Set<string> {
    const p = this.boundPort;
    const names = new Set([`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`]);
    const h = this.opts.host;
    if (h !== '0.0.0.0' && h !== '::') names.add(`${h.includes(':') ? `[${h}]` : h}:${p}`);
    return names;
  }

  /** Host must be ours; Origin, when sent, must be ours too. Binding to all interfaces also accepts any Host. */
  private headersOk(req: http.IncomingMessage): boolean {
    const wildcard = this.opts.host === '0.0.0.0' || this.opts.host === '::';
    const host = req.headers.host ?? '';
    if (!wildcard && !this.allowedHosts().has(host)) return false;
    const origin = req.headers.origin;
    if (origin !== undefined) {
      try {
        const o = new URL(origin);
        if (o.host !== host) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  private tokenOk(req: http.IncomingMessage): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    const given = url.searchParams.get('token') ?? (req.headers.authorization ?? '').replace(/^Bearer /, '') ?? '';
    const cookie = /(?:^|;\s*)hearth_token=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const candidate = given || cookie || '';
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.token);
    return a.length === b.length && crypto.timingSafeEqual(a, b);
  }

  async listen(): Promise<void> {
    const server = http.createServer((req, res) => this.onRequest(req, res));
    const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
    server.on('upgrade', (req, socket, head) => {
      if (!this.headersOk(req) || !this.tokenOk(req) || new URL(req.url ?? '/', 'http://x').pathname !== '/ws') {
        socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    this.server = server;
    this.wss = wss;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
      res.end(body);
    };
    if (!this.headersOk(req)) return send(403, 'forbidden: foreign Host or Origin');
    if (!this.tokenOk(req)) return send(401, 'unauthorized: open the URL Hearth printed (it carries the token)');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/api/info') {
      this.opts.services.handle('app.info', {}).then(
        (info) => send(200, JSON.stringify(info), 'application/json'),
        (e: Error) => send(500, JSON.stringify({ error: e.message }), 'application/json'),
      );
      return;
    }
    const rel = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const root = path.resolve(this.opts.rendererDir);
    const file = path.resolve(root, rel);
    if (!file.startsWith(root + path.sep)) return send(404, 'not found');
    fs.readFile(file, (err, data) => {
      if (err) return send(404, 'not found');
      const headers: http.OutgoingHttpHeaders = {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      };
      if (rel === 'index.html') {
        headers['content-security-policy'] = CSP;
        // the page's own requests (bundle, styles) carry the token as a same-site cookie
        headers['set-cookie'] = `hearth_token=${this.token}; Path=/; HttpOnly; SameSite=Strict`;
      }
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : data);
    });
  }

  private onSocket(ws: WebSocket): void {
    // every event main emits reaches every open page
    const unsubscribe = this.opts.services.subscribe((event, payload) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event, payload }));
    });
    ws.on('close', unsubscribe);
    ws.on('message', (data) => {
      let frame: unknown;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return;
      }
      const req = WsRequest.safeParse(frame);
      if (!req.success) return;
      const { id, channel, payload } = req.data;
      const reply = (r: WsResponse) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(r));
      };
      void this.opts.services.call(channel, payload).then((r) => reply({ id, ...r }));
    });
  }

  async close(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
