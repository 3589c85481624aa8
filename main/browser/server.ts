/**
 * Browser mode: an HTTP server serving the renderer build (no secret in it, so no token), `/api/*`
 * and a WebSocket at `/ws` carrying the IPC contract, both requiring the random token of the printed
 * URL. Requests with a foreign Host or Origin header are refused (DNS rebinding, cross-site pages).
 * It binds loopback unless told `allowRemote`. No input ends the process: every listener catches its
 * own errors, every socket has an error handler, and a malformed request gets an error answer.
 */
import crypto from 'crypto';
import http from 'http';
import { Duplex } from 'stream';
import { WebSocketServer } from 'ws';
import { contract } from '../ipc/contract';
import { IMAGE_CALLS_IN_FLIGHT, MAX_IMAGE_CHARS, MAX_IMAGES } from '../params';
import { Services } from '../services';
import type { Logger } from '../logging';
import { Guard, hostHeaderOf, isLoopbackHost, isWildcardHost, parseTarget } from './guard';
import { BASE_HEADERS, sendText, serveStatic } from './static';
import { attachSocket } from './ws-bridge';

/**
 * The largest frame either way: an image to store (images.store: MAX_IMAGE_CHARS of base64, its name
 * with every character escaped as \uXXXX at worst, the frame's JSON) or a stored image read back
 * (images.read: a data: URL of as much base64). Every other request is far smaller.
 */
const IMAGE_FRAME_BYTES = MAX_IMAGE_CHARS + 6 * (contract['images.store'].request.shape.name.maxLength ?? 0) + 1024;

/** Bounds of what one client can make the server hold. */
export const LIMITS = {
  /** largest WebSocket message accepted: an image to store */
  maxPayloadBytes: IMAGE_FRAME_BYTES,
  /** unsent output a WebSocket may hold before it is dropped: room for the image replies a socket may have running, and events */
  maxBufferedBytes: IMAGE_CALLS_IN_FLIGHT * IMAGE_FRAME_BYTES + 2 * 1024 * 1024,
  /** image requests (channels images.* and docs.store) one socket runs at once; the others wait in its queue */
  imageCallsInFlight: IMAGE_CALLS_IN_FLIGHT,
  /** image requests one socket may have waiting (one message's images), and their frames' bytes (one image to store): past either, `busy` */
  imageCallsQueued: MAX_IMAGES,
  imageQueueBytes: IMAGE_FRAME_BYTES,
  /** time to receive a request's headers, and the whole request */
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
} as const;

/** The bounds a server runs with: LIMITS, some overridden (tests use small ones). */
export type ServerLimits = Record<keyof typeof LIMITS, number>;

/** Answers a connection outside the request/response cycle (upgrade, CONNECT, parse errors) and closes it. */
function refuse(socket: Duplex, status: number): void {
  socket.on('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export interface BrowserServerOptions {
  services: Services;
  host: string;
  port: number;
  /** folder with index.html and the bundle */
  rendererDir: string;
  token?: string;
  logger: Logger;
  /** bind a non-loopback address; without it listen() refuses one */
  allowRemote?: boolean;
  /** overrides of LIMITS (tests use small ones) */
  limits?: Partial<ServerLimits>;
}

export class BrowserServer {
  readonly token: string;
  /** true when bound beyond loopback */
  readonly remote: boolean;
  private readonly guard: Guard;
  private readonly limits: ServerLimits;
  private server: http.Server | undefined;
  private wss: WebSocketServer | undefined;
  private boundPort = 0;
  private services: Services;

  constructor(private readonly opts: BrowserServerOptions) {
    this.services = opts.services;
    this.token = opts.token ?? crypto.randomBytes(24).toString('base64url');
    this.remote = !isLoopbackHost(opts.host);
    this.guard = new Guard({ host: opts.host, token: this.token, remote: this.remote });
    this.limits = { ...LIMITS, ...opts.limits };
  }

  get port(): number {
    return this.boundPort;
  }

  /** The URL to open on this machine (a wildcard bind is reached through loopback). */
  get url(): string {
    const h = this.opts.host;
    const local = h === '0.0.0.0' ? '127.0.0.1' : isWildcardHost(h) ? '::1' : h;
    return this.urlFor(local);
  }

  /** The URL through one of this machine's addresses or names. */
  urlFor(host: string): string {
    return `http://${hostHeaderOf(host, this.boundPort)}/?token=${this.token}`;
  }

  async listen(): Promise<void> {
    if (this.remote && !this.opts.allowRemote) {
      throw new Error(`${this.opts.host} is not a loopback address: serving beyond this machine must be allowed explicitly`);
    }
    const server = http.createServer({ headersTimeout: this.limits.headersTimeoutMs, requestTimeout: this.limits.requestTimeoutMs }, (req, res) =>
      this.guarded('request', () => this.onRequest(req, res), () => sendText(res, 500, 'internal error')),
    );
    const wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxPayloadBytes, perMessageDeflate: false });
    wss.on('error', (e) => this.opts.logger.warn(`browser websocket server: ${e.message}`));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      this.guarded('upgrade', () => this.onUpgrade(wss, req, socket, head), () => socket.destroy()),
    );
    // CONNECT (a proxy request): Node would drop the connection without a word
    server.on('connect', (_req: http.IncomingMessage, socket: Duplex) =>
      this.guarded('connect', () => refuse(socket, 405), () => socket.destroy()),
    );
    // malformed HTTP (bad request line, headers too large, timeouts): answered like Node's default
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) =>
      this.guarded(
        'client error',
        () => {
          // as Node does: no status line into the middle of a response already under way
          const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse | null })._httpMessage;
          if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) return void socket.destroy();
          refuse(socket, err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400);
        },
        () => socket.destroy(),
      ),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.opts.logger.error(`browser server: ${e.message}`));
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.port;
    this.guard.setPort(this.boundPort);
    this.server = server;
    this.wss = wss;
  }

  /** Runs one listener's work; an exception is logged and answered by `fail`, never thrown. */
  private guarded(what: string, work: () => void, fail: () => void): void {
    try {
      work();
    } catch (e) {
      this.opts.logger.error(`browser server ${what}: ${(e as Error).stack ?? String(e)}`);
      try {
        fail();
      } catch {
        // the connection is beyond answering
      }
    }
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    if (!this.guard.headersOk(req)) return sendText(res, 403, 'forbidden: foreign Host or Origin');
    const target = parseTarget(req.url);
    if (!target) return sendText(res, 400, 'bad request target');
    const api = target.path === '/ws' || target.path.startsWith('/api/');
    if (api && !this.guard.tokenOk(req, target)) return sendText(res, 401, 'unauthorized: open the URL Hearth printed (it carries the token)');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'method not allowed', { allow: 'GET, HEAD' });
    if (target.path === '/api/info') {
      this.services.handle('app.info', {}).then(
        (info) => this.sendJson(res, 200, info),
        (e: unknown) => this.sendJson(res, 500, { error: (e as Error | null)?.message ?? String(e) }),
      ).catch(() => res.destroy());
      return;
    }
    if (api) return sendText(res, target.path === '/ws' ? 426 : 404, target.path === '/ws' ? 'upgrade required' : 'not found');
    serveStatic(req, res, this.opts.rendererDir, target.path);
  }

  private sendJson(res: http.ServerResponse, status: number, body: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { ...BASE_HEADERS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private onUpgrade(wss: WebSocketServer, req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node removes its own error handler from an upgraded socket: without this a reset would throw
    socket.on('error', () => socket.destroy());
    if (!this.guard.headersOk(req)) return refuse(socket, 403);
    const target = parseTarget(req.url);
    if (!target) return refuse(socket, 400);
    if (target.path !== '/ws') return refuse(socket, 404);
    if (!this.guard.tokenOk(req, target)) return refuse(socket, 401);
    wss.handleUpgrade(req, socket, head, (ws) =>
      this.guarded('socket', () => attachSocket(ws, this.services, this.opts.logger, this.limits), () => ws.terminate()),
    );
  }

  /**
   * Serves another App's services from now (browser mode's restart): the open pages' sockets close,
   * and the pages reconnect to the new ones.
   */
  setServices(services: Services): void {
    this.services = services;
    for (const c of this.wss?.clients ?? []) c.close(1012, 'Hearth restarted');
  }

  async close(): Promise<void> {
    for (const c of this.wss?.clients ?? []) c.terminate();
    this.wss?.close();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
