/**
 * A release feed for the updater's tests: fake installers (tiny shell scripts, so an AppImage install
 * really runs them) put into a feed folder by the real `node scripts/release … --artifacts DIR` with a
 * test key pair, and a local HTTP server (loopback) serving that folder, whose files a test can
 * replace (tampering) or hide (404).
 */
import { execFile } from 'child_process';
import fs from 'fs';
import http from 'http';
import type { AddressInfo } from 'net';
import path from 'path';
import { promisify } from 'util';
import type { UpdateChannel } from '../../main/ipc/updates';
import { generateSigningKeys, SIGNING_KEY_ENV } from '../../main/updates/signature';
import { REPO_ROOT } from './models';

const run = promisify(execFile);

export interface TestKeys {
  privateKeyPem: string;
  publicKeyPem: string;
  publicKeyFile: string;
}

export function testKeys(dir: string): TestKeys {
  const k = generateSigningKeys();
  const publicKeyFile = path.join(dir, 'test-signing.pub');
  fs.writeFileSync(publicKeyFile, k.publicKeyPem);
  return { ...k, publicKeyFile };
}

/** The fake installer of `version`: a script that writes its version to $HEARTH_TEST_INSTALLED when run. */
export function fakeInstaller(dir: string, version: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `Hearth-${version}.AppImage`);
  fs.writeFileSync(file, `#!/bin/sh\necho ${version} > "$HEARTH_TEST_INSTALLED"\n`, { mode: 0o755 });
  return file;
}

/** Runs the real release CLI; resolves with its exit code, stdout and stderr. */
export async function release(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [path.join(REPO_ROOT, 'scripts', 'release'), ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/**
 * Releases `version` on `channel` into `feed`'s `gpu` folder (`feed/<gpu>`: a Linux feed for this
 * machine's arch; the folder an install of that GPU build reads), signed with `keys`.
 */
export async function releaseInto(feed: string, work: string, keys: TestKeys, channel: UpdateChannel, version: string, notes?: string, gpu = 'cpu'): Promise<void> {
  const artifacts = path.join(work, `artifacts-${version}`);
  fakeInstaller(artifacts, version);
  const extra: string[] = [];
  if (notes) {
    fs.writeFileSync(path.join(work, `notes-${version}.md`), notes);
    extra.push('--notes', path.join(work, `notes-${version}.md`));
  }
  const r = await release(
    ['--channel', channel, '--version', version, '--platform', 'linux', '--arch', process.arch, '--gpu', gpu, '--out', feed, '--artifacts', artifacts, '--public-key', keys.publicKeyFile, ...extra],
    { [SIGNING_KEY_ENV]: keys.privateKeyPem },
  );
  if (r.code !== 0) throw new Error(`release ${channel} ${version} failed (${r.code}): ${r.stderr}`);
}

export interface FeedServer {
  url: string;
  /** the paths asked for, in order */
  requests: string[];
  /** the same requests with their query (`/latest-linux.yml?noCache=…`) */
  urls: string[];
  /** serve these bytes for a path instead of the folder's file */
  replace: Map<string, Buffer>;
  /** answer 404 for these paths */
  hide: Set<string>;
  /** answer these paths after this many ms */
  delay: Map<string, number>;
  /** a hostile slow server: send the headers, then one byte every 50 ms, never the end (the socket never idles) */
  drip: Set<string>;
  /** a stalled transfer: the headers and the first 16 bytes, then nothing */
  stall: Set<string>;
  close(): Promise<void>;
}

export async function serveFeed(dir: string): Promise<FeedServer> {
  const requests: string[] = [];
  const urls: string[] = [];
  const replace = new Map<string, Buffer>();
  const hide = new Set<string>();
  const delay = new Map<string, number>();
  const drip = new Set<string>();
  const stall = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    try {
      const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      requests.push(p);
      urls.push(req.url ?? '/');
      const body = replace.get(p) ?? (hide.has(p) ? null : readIn(dir, p));
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      const answer = () => {
        res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
        if (stall.has(p)) {
          res.write(body.subarray(0, 16));
          return;
        }
        if (drip.has(p)) {
          let i = 0;
          const t = setInterval(() => {
            if (res.destroyed || i >= body.length - 1) return; // never the last byte
            res.write(body.subarray(i, ++i));
          }, 50);
          timers.add(t);
          res.on('close', () => {
            clearInterval(t);
            timers.delete(t);
          });
          return;
        }
        res.end(body);
      };
      const ms = delay.get(p);
      if (ms) {
        const t = setTimeout(() => {
          timers.delete(t);
          answer();
        }, ms);
        timers.add(t);
      } else answer();
    } catch {
      res.writeHead(500).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests, urls, replace, hide, delay, drip, stall,
    close: () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

function readIn(dir: string, p: string): Buffer | null {
  // the folders under dir as the URL's path (a GPU build's feed folder), never outside it
  const file = path.resolve(dir, `.${path.posix.normalize(p)}`);
  if (!file.startsWith(path.resolve(dir) + path.sep)) return null;
  try {
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}
