/**
 * Who may talk to the local server: the request target parsed without throwing, the Host and Origin
 * checks (DNS rebinding, cross-site pages), the token check, and the loopback rule for binding.
 */
import crypto from 'crypto';
import http from 'http';
import net from 'net';
import os from 'os';

/** A request target as the server uses it: the decoded path and the query. */
export interface Target {
  /** percent-decoded, dot-segments resolved; never contains NUL or other control characters */
  path: string;
  query: URLSearchParams;
}

/**
 * Parses an origin-form request target (`/path?query`). Returns null for anything else: an absolute
 * or authority form, a malformed percent escape, a control character after decoding.
 */
export function parseTarget(raw: string | undefined): Target | null {
  if (!raw || raw[0] !== '/') return null;
  try {
    // a fixed authority in front, so a target like `//host/x` stays a path
    const u = new URL(`http://target${raw}`);
    if (u.host !== 'target') return null;
    const decoded = decodeURIComponent(u.pathname);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f\\]/.test(decoded)) return null;
    return { path: decoded, query: u.searchParams };
  } catch {
    return null;
  }
}

/** True for names and addresses that only reach this machine: localhost, 127.0.0.0/8, ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1].startsWith('127.');
  }
  return false;
}

/** True for the addresses that mean "every interface". */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** `host:port` as it appears in a Host header (IPv6 in brackets, lower case). */
export function hostHeaderOf(host: string, port: number): string {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** The machine's own addresses (every interface, without IPv6 zone ids) and its host name. */
export function machineNames(): string[] {
  const names = new Set<string>([os.hostname().toLowerCase()]);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) names.add(a.address.replace(/%.*$/, '').toLowerCase());
  }
  return [...names];
}

export interface GuardOptions {
  /** the address or name the server was told to bind */
  host: string;
  /** the secret every /ws and /api/* request must carry */
  token: string;
  /** bound beyond loopback (then the machine's own addresses are valid Host names too) */
  remote: boolean;
}

export class Guard {
  private port = 0;

  constructor(private readonly opts: GuardOptions) {}

  /** Called once the server is bound: Host headers name this port. */
  setPort(port: number): void {
    this.port = port;
  }

  /** Host names a request may carry: loopback names, the configured host, and on a remote bind the machine's addresses. */
  allowedHosts(): Set<string> {
    const names = ['127.0.0.1', 'localhost', '::1'];
    if (!isWildcardHost(this.opts.host)) names.push(this.opts.host);
    if (this.opts.remote) names.push(...machineNames());
    const allowed = new Set<string>();
    for (const n of names) {
      allowed.add(hostHeaderOf(n, this.port));
      // browsers leave out the default port
      if (this.port === 80) allowed.add(hostHeaderOf(n, this.port).replace(/:80$/, ''));
    }
    return allowed;
  }

  /** Host must be ours; Origin, when sent, must be this same http origin. */
  headersOk(req: http.IncomingMessage): boolean {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!this.allowedHosts().has(host)) return false;
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    try {
      const o = new URL(origin);
      return o.protocol === 'http:' && o.host === host;
    } catch {
      return false;
    }
  }

  /** The token from `?token=` or `Authorization: Bearer`, compared in constant time. */
  tokenOk(req: http.IncomingMessage, target: Target): boolean {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const given = Buffer.from(target.query.get('token') ?? bearer ?? '');
    const expected = Buffer.from(this.opts.token);
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  }
}
