/**
 * The local API server: one fastify instance speaking OpenAI's, Anthropic's and Ollama's APIs on one
 * port (127.0.0.1:1337 by default). Before any route: the Host header must name this machine (DNS
 * rebinding), a request from a browser page must come from an allowed origin (CORS; none by default,
 * and a foreign Origin is refused outright, so a page cannot post a "simple" request either), and the
 * API key must match when one is set (always, beyond loopback). Bodies are capped and every route
 * checks its body with zod. No input ends the process: fastify answers what it cannot parse, and every
 * route's error becomes its dialect's error body.
 */
import crypto from 'crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { machineNames, isLoopbackHost, isWildcardHost } from '../browser/guard';
import { type ApiDialect, type ApiRequestLogDTO, type ApiServerSettings, keyNeeded } from '../ipc/api';
import { ApiError, errorBody, toApiError } from './errors';
import { jsonNestsWithin } from '../params';
import { MAX_BODY_DEPTH } from './http';
import type { GenerateDeps } from './generate';
import { registerAnthropic } from './anthropic';
import { registerInfill } from './infill';
import { registerLora } from './lora';
import { registerProps } from './props';
import { registerOllama } from './ollama';
import { registerOpenAi } from './openai';
import { registerRerank } from './rerank';

/** The requests the settings page lists, newest first. */
export const REQUEST_LOG_SIZE = 50;

/** What the routes of every dialect get. */
export interface RouteDeps extends GenerateDeps {
  /** Hearth's version (Ollama's /api/version, OpenAI's system_fingerprint) */
  version: string;
}

export interface ApiServerOptions extends RouteDeps {
  settings: ApiServerSettings;
  /** called after each answered request (the settings page's list) */
  onRequest?: (entry: ApiRequestLogDTO) => void;
}

/** Which dialect's error shape a path answers in. */
export function dialectOf(url: string, prefix: string): ApiDialect {
  const p = url.slice(prefix.length).split('?')[0];
  if (p.startsWith('/v1/messages')) return 'anthropic';
  if (p.startsWith('/api/')) return 'ollama';
  return 'openai';
}

/** Headers a browser page may send (CORS preflight), beside the ones it asks for. */
const CORS_HEADERS = 'authorization, content-type, x-api-key, anthropic-version, anthropic-beta, openai-organization, openai-project, x-stainless-os, x-stainless-lang';

export class ApiServer {
  private app: FastifyInstance | null = null;
  private boundPort = 0;
  private readonly log: ApiRequestLogDTO[] = [];
  /** the names a Host header may carry (without port) */
  private hosts = new Set<string>();
  private key: Buffer | null = null;
  /** the CORS origins, the allowed hosts and the key now (configure); the bind (host, port, prefix, body limit) is fixed at listen */
  private live: ApiServerSettings;

  constructor(private readonly opts: ApiServerOptions) {
    this.live = opts.settings;
    this.configure(opts.settings);
  }

  /** The settings a running server takes without a restart: the key, the allowed hosts and the CORS origins. */
  configure(s: ApiServerSettings): void {
    const bind = this.opts.settings;
    const remote = !isLoopbackHost(bind.host);
    const why = keyNeeded({ host: bind.host, corsOrigins: s.corsOrigins }, !remote);
    if (why && !s.apiKey) throw new ApiError(400, 'invalid_input', `${why} needs an API key`);
    this.key = s.apiKey ? digest(s.apiKey) : null;
    const names = ['localhost', '127.0.0.1', '::1', ...s.allowedHosts];
    if (!isWildcardHost(bind.host)) names.push(bind.host);
    if (remote) names.push(...machineNames());
    this.hosts = new Set(names.map((n) => n.toLowerCase().replace(/^\[(.*)\]$/, '$1')));
    this.live = s;
  }

  /** Whether `s` can be applied by configure (same bind) rather than a restart. */
  sameBind(s: ApiServerSettings): boolean {
    const b = this.opts.settings;
    return s.host === b.host && s.port === b.port && s.prefix === b.prefix && s.bodyLimitMiB === b.bodyLimitMiB;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The base URL clients use (OpenAI's clients add /v1 themselves; the page shows both). */
  get url(): string {
    const h = this.opts.settings.host;
    const host = isWildcardHost(h) ? '127.0.0.1' : h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
    return `http://${host}:${this.boundPort}${this.opts.settings.prefix}`;
  }

  /** The last requests answered, newest first. */
  requests(): ApiRequestLogDTO[] {
    return [...this.log];
  }

  private hostOk(req: FastifyRequest): boolean {
    const host = (req.headers.host ?? '').toLowerCase();
    // `name:port`, `[v6]:port`, or a name alone
    const m = /^(\[[^\]]+\]|[^:]+|[0-9a-f:]+)(?::(\d+))?$/.exec(host);
    if (!m) return false;
    const name = m[1].replace(/^\[(.*)\]$/, '$1');
    return this.hosts.has(name) || name.endsWith('.localhost');
  }

  private originAllowed(origin: string): boolean {
    const list = this.live.corsOrigins;
    return list.includes('*') || list.includes(origin.toLowerCase().replace(/\/$/, ''));
  }

  private keyOk(req: FastifyRequest): boolean {
    if (!this.key) return true;
    const auth = req.headers.authorization;
    const bearer = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() : undefined;
    const x = req.headers['x-api-key'];
    // digests of equal length: the comparison's time says nothing about the key, not even its length
    return crypto.timingSafeEqual(digest(bearer ?? (typeof x === 'string' ? x : '')), this.key);
  }

  private record(req: FastifyRequest, reply: FastifyReply, started: number): void {
    const raw = reply.raw;
    const status = raw.writableFinished ? raw.statusCode : 499;
    const n = req.apiNote;
    const entry: ApiRequestLogDTO = {
      at: Date.now() - (performance.now() - started),
      method: req.method,
      path: (req.raw.url ?? '').split('?')[0].slice(0, 300),
      status,
      ms: Math.round(performance.now() - started),
      model: n.model,
      tokens: n.tokens,
      error: status >= 400 ? (n.error ?? (status === 499 ? 'the client went away' : null)) : null,
    };
    req.apiLogEntry = entry;
    this.log.unshift(entry);
    if (this.log.length > REQUEST_LOG_SIZE) this.log.length = REQUEST_LOG_SIZE;
    this.opts.logger.info(`api: ${entry.method} ${entry.path} ${entry.status} ${entry.ms} ms`, { model: entry.model, tokens: entry.tokens });
    try {
      this.opts.onRequest?.(entry);
    } catch (e) {
      this.opts.logger.warn(`api: request listener failed: ${(e as Error).message}`);
    }
  }

  private build(): FastifyInstance {
    const s = this.opts.settings;
    const app = Fastify({
      logger: false,
      bodyLimit: s.bodyLimitMiB * 1024 * 1024,
      // the whole request (headers and body) within a minute: a client trickling bytes cannot hold a socket for ever
      requestTimeout: 60_000,
      forceCloseConnections: true,
      return503OnClosing: true,
      routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 500 },
    });
    app.decorateRequest('apiNote', null as unknown as never);
    app.decorateRequest('apiSignal', null as unknown as never);
    app.decorateRequest('apiLogEntry', null);
    // any body is read as JSON: curl without a content type, Ollama's clients and text/plain alike
    app.removeAllContentTypeParsers();
    // with fastify's own JSON parser (a body carrying __proto__ or constructor.prototype is refused)
    const json = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
      const text = String(body);
      if (text.trim() === '') return done(null, undefined);
      if (!jsonNestsWithin(text, MAX_BODY_DEPTH)) return done(new ApiError(400, 'invalid_request_error', `the body nests objects and arrays more than ${MAX_BODY_DEPTH} deep`), undefined);
      json(req, text, (err, value) => (err ? done(new ApiError(400, 'invalid_request_error', `the body is not JSON: ${err.message}`), undefined) : done(null, value)));
    });

    app.addHook('onRequest', async (req, reply) => {
      const started = performance.now();
      req.apiNote = { model: null, tokens: null, error: null };
      const ac = new AbortController();
      req.apiSignal = ac.signal;
      reply.raw.on('close', () => {
        // the response ended before its last byte: the client went away, its generation stops
        if (!reply.raw.writableFinished) ac.abort();
        this.record(req, reply, started);
      });
      if (!this.hostOk(req)) throw new ApiError(403, 'forbidden', `the Host header ${JSON.stringify(req.headers.host ?? '')} is not this server's; add it to the API server's allowed hosts`);
      const origin = req.headers.origin;
      if (origin !== undefined) {
        if (!this.originAllowed(origin)) throw new ApiError(403, 'forbidden', `requests from the page at ${origin} are not allowed; add its origin to the API server's CORS origins`);
        reply.header('access-control-allow-origin', origin);
        reply.header('vary', 'Origin');
        if (req.method === 'OPTIONS') {
          reply.header('access-control-allow-methods', 'GET, POST, DELETE, OPTIONS');
          const asked = req.headers['access-control-request-headers'];
          reply.header('access-control-allow-headers', typeof asked === 'string' ? `${CORS_HEADERS}, ${asked}` : CORS_HEADERS);
          reply.header('access-control-max-age', '600');
          return reply.code(204).send();
        }
      }
      if (req.method === 'OPTIONS') return reply.code(204).send();
      // a page's request that carries no Origin (an <img>, a <script>, a form: "no-cors", which browsers
      // send without asking) may not act here either: with no key on loopback, a GET such as /props would
      // load a model for any web page. Browsers say where such a request comes from (Sec-Fetch-Site);
      // clients that are no browser send no such header, and a page of an allowed origin sends its Origin.
      const site = req.headers['sec-fetch-site'];
      if (origin === undefined && (site === 'cross-site' || site === 'same-site')) {
        throw new ApiError(403, 'forbidden', `requests from another site's page (Sec-Fetch-Site: ${site}) are not allowed; a page calls the API with fetch from an origin in the API server's CORS origins`);
      }
      const path = (req.raw.url ?? '').slice(s.prefix.length).split('?')[0];
      if (path === '/health' || path === '/v1/health') return;
      if (!this.keyOk(req)) throw new ApiError(401, 'unauthorized', 'a valid API key is required: send it as "Authorization: Bearer <key>" (or x-api-key); Settings → Local API server shows it, and hearth serve --api prints it');
    });

    app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
      const e = fromFastify(err);
      if (e.status >= 500) this.opts.logger.error(`api: ${req.method} ${req.url}: ${e.message}`, { code: e.code });
      if (req.apiNote) req.apiNote.error = e.message;
      if (e.retryAfterS !== undefined) reply.header('retry-after', String(e.retryAfterS));
      // the official clients retry any 5xx: only a busy or restarting engine (429, 503) is worth it
      if (e.status >= 500 && e.status !== 503) reply.header('x-should-retry', 'false');
      void reply.code(e.status).send(errorBody(e, dialectOf(req.url, s.prefix)));
    });
    app.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0];
      // Ollama's model management is the app's: say where it is
      const manage = /\/api\/(pull|push|create|copy|delete)$/.test(path) ? ': Hearth downloads and deletes models in the app (Models) or with hearth pull, not through the API' : '';
      const e = new ApiError(404, 'not_found', `no route ${req.method} ${path}${manage}`);
      if (req.apiNote) req.apiNote.error = e.message;
      void reply.code(404).send(errorBody(e, dialectOf(req.url, s.prefix)));
    });

    void app.register(
      async (scope) => {
        scope.get('/health', async () => ({ status: 'ok' }));
        scope.get('/v1/health', async () => ({ status: 'ok' }));
        registerOpenAi(scope, this.opts);
        registerAnthropic(scope, this.opts);
        registerOllama(scope, this.opts);
        registerRerank(scope, this.opts);
        registerInfill(scope, this.opts);
        registerLora(scope, this.opts);
        registerProps(scope, this.opts);
      },
      { prefix: s.prefix },
    );
    return app;
  }

  async listen(): Promise<void> {
    const app = this.build();
    try {
      await app.listen({ host: this.opts.settings.host, port: this.opts.settings.port });
    } catch (e) {
      await app.close().catch(() => undefined);
      const err = e as NodeJS.ErrnoException;
      const what = err.code === 'EADDRINUSE' ? `port ${this.opts.settings.port} is in use (another server, or Hearth already running): pick another port` : err.message;
      throw new ApiError(500, 'invalid_input', `the API server could not listen on ${this.opts.settings.host}:${this.opts.settings.port}: ${what}`);
    }
    this.app = app;
    const addr = app.server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.opts.settings.port;
  }

  async close(): Promise<void> {
    const app = this.app;
    this.app = null;
    if (app) await app.close();
  }
}

const digest = (text: string) => crypto.createHash('sha256').update(text).digest();

/** fastify's own errors (a body too large, bad JSON, a wrong content type) as ApiErrors. */
function fromFastify(err: FastifyError | ApiError): ApiError {
  if (err instanceof ApiError) return err;
  const f = err as FastifyError;
  if (f.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new ApiError(413, 'too_large', 'the request body is larger than the API server accepts (its body limit in settings)');
  if (typeof f.statusCode === 'number' && f.statusCode >= 400 && f.statusCode < 500) return new ApiError(f.statusCode, 'invalid_request_error', f.message);
  return toApiError(err);
}
