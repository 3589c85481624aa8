/**
 * The updater against a local HTTP server hosting a feed made by the real `node scripts/release`
 * (test key pair, fake installers): the real electron-updater (its AppImageUpdater, the Linux path,
 * with APPIMAGE set to a temp file) driven by main/app/updater.ts and the controller.
 *
 * Doubles, at the boundary only (no Electron binary exists here): jest.mock('electron') gives
 * electron-updater an `app` (version, isPackaged, paths, quit), the `autoUpdater` event emitter its
 * install touches, `session.fromPartition`, and `net.request` implemented on Node's http.request, so
 * electron-updater's ElectronHttpExecutor makes real HTTP requests to the server. The install is
 * real: the downloaded "AppImage" (a shell script) replaces APPIMAGE and is started; it writes its
 * version to a file. What an install waits for (a reply generating) is the controller's Activity,
 * set by the test.
 */
import { installFailureFile } from '../../main/updates/install-failure';
import fs from 'fs';
import os from 'os';
import path from 'path';

jest.mock('electron', () => {
  const http = require('http') as typeof import('http');
  const { EventEmitter } = require('events') as typeof import('events');
  const app = Object.assign(new EventEmitter(), {
    version: '0.0.0',
    userData: '',
    appPath: '',
    quits: 0,
    getVersion() {
      return app.version;
    },
    getName: () => 'Hearth',
    isPackaged: true,
    getPath: () => app.userData,
    getAppPath: () => app.appPath,
    whenReady: () => Promise.resolve(),
    quit() {
      app.quits++;
    },
    relaunch() {},
  });
  return {
    app,
    autoUpdater: new EventEmitter(),
    session: { fromPartition: () => ({}) },
    // Electron's net.request, on Node's http: the options electron-updater passes are URL parts and headers
    net: {
      request: (o: { protocol?: string; hostname?: string; port?: number | string; path?: string; method?: string; headers?: Record<string, string> }) =>
        http.request({ protocol: o.protocol, hostname: o.hostname, port: o.port, path: o.path, method: o.method ?? 'GET', headers: o.headers }),
    },
  };
});

import { AppImageUpdater, NsisUpdater, type AppUpdater } from 'electron-updater';
import { electronUpdaterPort, UPDATER_CACHE_DIR_NAME, relaunchOptions } from '../../main/app/updater';
import type { UpdateChannel, UpdateMode, UpdateStateDTO } from '../../main/ipc/updates';
import { silentLogger } from '../../main/logging';
import type { Timers } from '../../main/models/download-transfer';
import { feedFileName } from '../../main/updates/channels';
import { INSTALL_QUIT_DEADLINE_MS, UPDATE_CHECK_DEADLINE_MS, UPDATE_CHECK_INTERVAL_MS, UpdateController, type Blocker } from '../../main/updates/controller';
import { LATEST_VERSION } from '../../main/store/migrations';
import { FEED_FILE_MAX_BYTES } from '../../main/updates/feed';
import { SIGNATURE_MAX_BYTES } from '../../main/updates/signature';
import { releaseInto, serveFeed, testKeys, type FeedServer, type TestKeys } from '../helpers/update-feed';

const electronApp = (jest.requireMock('electron') as { app: { version: string; userData: string; appPath: string; quits: number } }).app;

const STABLE = '1.4.0';
const BETA = '1.5.0-beta.2';
const NIGHTLY = '1.6.0-alpha.20261127';

let root: string;
let feed: string;
let keys: TestKeys;
let server: FeedServer;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-updates-'));
  keys = testKeys(root);
  await releaseInto(path.join(root, 'feed'), root, keys, 'stable', STABLE, 'Stable notes');
  await releaseInto(path.join(root, 'feed'), root, keys, 'beta', BETA, 'Beta notes');
  await releaseInto(path.join(root, 'feed'), root, keys, 'nightly', NIGHTLY);
  // the CUDA build's folder: the same names, signed by the same key
  await releaseInto(path.join(root, 'feed'), root, keys, 'stable', STABLE, 'Stable notes', 'cuda');
  // the CPU build's folder (scripts/release --gpu cpu); the server serves it at its root
  feed = path.join(root, 'feed', 'cpu');
  server = await serveFeed(feed);
}, 120_000);

afterAll(async () => {
  await server?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

/** Manual time: the test fires the scheduled checks. */
function manualTimers(): Timers & { pending: { fn: () => void; ms: number }[] } {
  const pending: { fn: () => void; ms: number }[] = [];
  return {
    pending,
    now: () => Date.now(),
    setTimeout: (fn, ms) => {
      const t = { fn, ms };
      pending.push(t);
      return t;
    },
    clearTimeout: (h) => {
      const i = pending.indexOf(h as (typeof pending)[number]);
      if (i >= 0) pending.splice(i, 1);
    },
  };
}

interface Harness {
  c: UpdateController;
  states: UpdateStateDTO[];
  settings: { channel: UpdateChannel | null; mode: UpdateMode };
  busy: Blocker[];
  notify: () => void;
  timers: ReturnType<typeof manualTimers>;
  appImage: string;
  installed: string;
  events: string[];
  /** the relaunch double's calls (Electron's app.relaunch + app.exit: a boundary) */
  relaunches: number;
}

let n = 0;
interface HarnessOptions {
  feedDeadlineMs?: number;
  downloadStallMs?: number;
  checkDeadlineMs?: number;
  dataSchemaVersion?: number;
  /** the install's GPU build (default cpu, the served folder's) */
  gpu?: string;
  /** the running AppImage's path (default a file in the run's folder) */
  appImage?: string;
  /** where a failed install leaves its reason for the next run (default a file in the run's folder) */
  noteFile?: string;
}

function harness(version: string, settings: { channel: UpdateChannel | null; mode: UpdateMode }, opts: HarnessOptions = {}): Harness {
  const dir = path.join(root, `run-${++n}`);
  fs.mkdirSync(dir, { recursive: true });
  electronApp.version = version;
  electronApp.userData = path.join(dir, 'data');
  electronApp.quits = 0;
  // the running "AppImage" (a name without a version: the update replaces it in place)
  const appImage = opts.appImage ?? path.join(dir, 'Hearth.AppImage');
  if (!opts.appImage) fs.writeFileSync(appImage, `running ${version}`);
  process.env.APPIMAGE = appImage;
  process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
  const installed = path.join(dir, 'installed.txt');
  process.env.HEARTH_TEST_INSTALLED = installed;
  const states: UpdateStateDTO[] = [];
  const events: string[] = [];
  let listener: (() => void) | null = null;
  const h: Harness = {
    states, settings, busy: [], timers: manualTimers(), appImage, installed, events, relaunches: 0,
    notify: () => listener?.(),
    c: null as unknown as UpdateController,
  };
  const port = electronUpdaterPort({ feedUrl: server.url, publicKeyPem: keys.publicKeyPem, configDir: path.join(dir, 'updater'), logger: silentLogger, makeUpdater: () => new AppImageUpdater(),
    feedDeadlineMs: opts.feedDeadlineMs, downloadStallMs: opts.downloadStallMs,
  });
  const install = port.install;
  port.install = (onFailure) => {
    events.push('quitAndInstall');
    install(onFailure);
  };
  h.c = new UpdateController({
    current: version,
    port,
    settings: () => h.settings,
    activity: {
      busy: () => h.busy,
      onChange: (l) => {
        listener = l;
        return () => (listener = null);
      },
    },
    beforeInstall: async () => {
      events.push('services closed', 'engine host closed');
    },
    relaunch: () => {
      events.push('relaunch');
      h.relaunches++;
    },
    gpu: opts.gpu ?? 'cpu',
    emit: (s) => states.push(s),
    logger: silentLogger,
    timers: h.timers,
    checkDeadlineMs: opts.checkDeadlineMs,
    dataSchemaVersion: () => opts.dataSchemaVersion ?? null,
    installFailure: installFailureFile(opts.noteFile ?? path.join(dir, 'updater', 'install-failed.json')),
  });
  return h;
}

async function until<T>(f: () => T | undefined | null | false, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const feedOf = (c: UpdateChannel) => `/${feedFileName(c, 'linux', process.arch)}`;

describe('channels', () => {
  test('the release step wrote each feed with the newest release its channel sees, each signed', () => {
    const text = (c: UpdateChannel) => fs.readFileSync(path.join(feed, feedOf(c).slice(1)), 'utf8');
    expect(text('stable')).toMatch(/^version: 1\.4\.0$/m);
    expect(text('beta')).toMatch(/^version: 1\.5\.0-beta\.2$/m);
    expect(text('nightly')).toMatch(/^version: 1\.6\.0-alpha\.20261127$/m);
    for (const c of ['stable', 'beta', 'nightly'] as const) expect(fs.existsSync(path.join(feed, `${feedOf(c).slice(1)}.sig`))).toBe(true);
    for (const v of [STABLE, BETA, NIGHTLY]) expect(fs.existsSync(path.join(feed, `Hearth-${v}.AppImage.sig`))).toBe(true);
  });

  test('stable sees only stable, beta sees beta and stable, nightly sees all', async () => {
    // a user on 1.3.0 following each channel is offered that channel's newest
    const offered: Record<string, string | undefined> = {};
    for (const channel of ['stable', 'beta', 'nightly'] as const) {
      const h = harness('1.3.0', { channel, mode: 'check' });
      const s = await h.c.check();
      expect(s.phase).toBe('available');
      offered[channel] = s.update?.version;
      expect(s.update?.downgrade).toBe(false);
    }
    expect(offered).toEqual({ stable: STABLE, beta: BETA, nightly: NIGHTLY });
    // the feeds a stable user reads are the stable one only
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    server.requests.length = 0;
    await h.c.check();
    expect(server.requests.filter((p) => p.endsWith('.yml'))).toEqual([feedOf('stable')]);
    // and a stable user on the newest stable is up to date, whatever beta and nightly hold
    const current = harness(STABLE, { channel: null, mode: 'check' });
    expect((await current.c.check()).phase).toBe('none');
    expect(current.c.state().channel).toBe('stable');
  });

  test('the release notes and date come from the signed feed', async () => {
    const h = harness('1.3.0', { channel: 'beta', mode: 'check' });
    const s = await h.c.check();
    expect(s.update).toMatchObject({ version: BETA, channel: 'beta', releaseNotes: 'Beta notes' });
    expect(Date.parse(s.update!.releaseDate!)).toBeGreaterThan(0);
  });
});

describe('downgrades', () => {
  test('moving from nightly to stable offers the older stable as a downgrade, downloaded only when confirmed', async () => {
    const h = harness(NIGHTLY, { channel: null, mode: 'auto' });
    expect((await h.c.check()).phase).toBe('none'); // on nightly: up to date
    h.settings = { channel: 'stable', mode: 'auto' };
    h.c.settingsChanged();
    await until(() => h.c.state().phase === 'available', 'the downgrade offered');
    expect(h.c.state().update).toMatchObject({ version: STABLE, downgrade: true, channel: 'stable' });
    // mode auto does not download a downgrade by itself, and a download without confirmation is refused
    await new Promise((r) => setTimeout(r, 200));
    expect(h.c.state().phase).toBe('available');
    await expect(h.c.download(false)).rejects.toMatchObject({ code: 'needs_confirmation' });
    const s = await h.c.download(true);
    expect(s.phase).toBe('downloaded');
  });

  test('a user on the channel of their build is never offered an older release', async () => {
    const h = harness('1.4.5', { channel: 'stable', mode: 'check' });
    expect((await h.c.check()).phase).toBe('none');
  });
});

describe('refusals: the app stays on its version', () => {
  test('a tampered artifact (sha512 mismatch) is refused and nothing is installed', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    server.replace.set(`/Hearth-${STABLE}.AppImage`, Buffer.from('#!/bin/sh\necho evil > "$HEARTH_TEST_INSTALLED"\n'));
    try {
      expect((await h.c.check()).phase).toBe('available');
      const s = await h.c.download(false);
      expect(s.phase).toBe('error');
      expect(s.error?.code).toBe('update_checksum_mismatch');
      expect(() => h.c.install()).toThrow(/no update is downloaded/);
    } finally {
      server.replace.clear();
    }
    expect(h.events).toEqual([]);
    expect(fs.readFileSync(h.appImage, 'utf8')).toBe('running 1.3.0');
  });

  test('a feed whose signature does not verify is refused', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'auto' });
    const yml = fs.readFileSync(path.join(feed, feedOf('stable').slice(1)), 'utf8');
    // a feed that points at another release (its sha512 would match that file): only the signature catches it
    server.replace.set(feedOf('stable'), Buffer.from(yml.replace('releaseNotes: Stable notes', 'releaseNotes: Stable notes!')));
    try {
      const s = await h.c.check();
      expect(s.phase).toBe('error');
      expect(s.error?.code).toBe('update_bad_signature');
      expect(s.update).toBeNull();
    } finally {
      server.replace.clear();
    }
    expect(h.events).toEqual([]);
  });

  test('a feed signed by another key is refused', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    const other = testKeys(fs.mkdtempSync(path.join(root, 'other-')));
    const { signBytes } = await import('../../main/updates/signature');
    const yml = fs.readFileSync(path.join(feed, feedOf('stable').slice(1)));
    server.replace.set(`${feedOf('stable')}.sig`, Buffer.from(signBytes(feedOf('stable').slice(1), yml, other.privateKeyPem)));
    try {
      expect((await h.c.check()).error?.code).toBe('update_bad_signature');
    } finally {
      server.replace.clear();
    }
  });

  test('a feed without its .sig is refused', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    server.hide.add(`${feedOf('stable')}.sig`);
    try {
      const s = await h.c.check();
      expect(s.error).toMatchObject({ code: 'update_bad_signature' });
      expect(s.error?.message).toMatch(/no signature/);
    } finally {
      server.hide.clear();
    }
  });

  test('an artifact whose own .sig does not verify is refused after the download (and deleted)', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    server.replace.set(`/Hearth-${STABLE}.AppImage.sig`, Buffer.from(`${Buffer.alloc(64).toString('base64')}\n`));
    try {
      await h.c.check();
      const s = await h.c.download(false);
      expect(s.phase).toBe('error');
      expect(s.error?.code).toBe('update_bad_signature');
    } finally {
      server.replace.clear();
    }
    const cached = path.join(process.env.XDG_CACHE_HOME!, 'hearth-updater', 'pending', `Hearth-${STABLE}.AppImage`);
    expect(fs.existsSync(cached)).toBe(false);
    expect(h.events).toEqual([]);
  });
});

describe('install', () => {
  test('waits while a reply generates, installs when it ends: services and the engine host closed first', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'auto' });
    await h.c.check();
    await until(() => h.c.state().phase === 'downloaded', 'the background download');
    // progress went out while downloading, and the last says all of it
    const progress = h.states.filter((s) => s.phase === 'downloading' && s.progress);
    expect(progress.length).toBeGreaterThan(0);
    h.busy = ['generation'];
    expect(h.c.install()).toMatchObject({ phase: 'waiting', waitingFor: ['generation'] });
    h.notify(); // still generating
    expect(h.c.state().phase).toBe('waiting');
    expect(h.events).toEqual([]);
    h.busy = [];
    h.notify(); // the reply ended
    await until(() => electronApp.quits > 0, 'the app quitting to install');
    expect(h.events).toEqual(['services closed', 'engine host closed', 'quitAndInstall']);
    // the real AppImage install: the running file replaced by the new one, which was started
    expect(fs.readFileSync(h.appImage, 'utf8')).toContain(`echo ${STABLE}`);
    await until(() => fs.existsSync(h.installed), 'the new version started');
    expect(fs.readFileSync(h.installed, 'utf8').trim()).toBe(STABLE);
  });

  test('cancelInstall leaves a waiting install', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    await h.c.check();
    await h.c.download(false);
    h.busy = ['download'];
    expect(h.c.install().phase).toBe('waiting');
    expect(h.c.cancelInstall()).toMatchObject({ phase: 'downloaded', waitingFor: [] });
    h.busy = [];
    h.notify();
    await new Promise((r) => setTimeout(r, 100));
    expect(h.events).toEqual([]);
    expect(electronApp.quits).toBe(0);
  });
});

describe('modes', () => {
  test('check: checks at start and on the schedule, downloads only when asked', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    server.requests.length = 0;
    h.c.start();
    await until(() => h.c.state().phase === 'available', 'the first check');
    expect(h.timers.pending.map((t) => t.ms)).toEqual([UPDATE_CHECK_INTERVAL_MS]);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.c.state().phase).toBe('available'); // not downloading
    expect(server.requests.filter((p) => p.endsWith('.AppImage'))).toEqual([]);
    const due = h.timers.pending.shift()!; // time passes: the scheduled check runs
    due.fn();
    await until(() => server.requests.filter((p) => p === feedOf('stable')).length === 2, 'the scheduled check');
    // the check ends (its deadline timer goes) and the next one is scheduled
    await until(() => !h.timers.pending.some((t) => t.ms === UPDATE_CHECK_DEADLINE_MS), 'the scheduled check to end');
    expect(h.timers.pending.map((t) => t.ms)).toEqual([UPDATE_CHECK_INTERVAL_MS]);
    h.c.close();
  });

  test('off: no check at start, none scheduled, and a change to off stops the schedule; updates.check still works', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'off' });
    server.requests.length = 0;
    h.c.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(server.requests).toEqual([]);
    expect(h.timers.pending).toEqual([]);
    expect(h.c.state().phase).toBe('idle');
    expect((await h.c.check()).phase).toBe('available'); // the manual check
    // from auto to off: the schedule stops
    const a = harness('1.4.0', { channel: 'stable', mode: 'auto' });
    a.c.start();
    // the schedule (the first check's deadline is pending too while it runs)
    expect(a.timers.pending.filter((t) => t.ms === UPDATE_CHECK_INTERVAL_MS)).toHaveLength(1);
    await until(() => a.c.state().phase === 'none', 'the first check');
    a.settings = { channel: 'stable', mode: 'off' };
    a.c.settingsChanged();
    expect(a.timers.pending).toEqual([]);
    expect(a.c.state().mode).toBe('off');
    a.c.close();
  });
});

function resetServer(): void {
  server.replace.clear();
  server.hide.clear();
  server.delay.clear();
  server.drip.clear();
  server.stall.clear();
}

/** Serves `yml` and `sig` as the stable channel file and checks: the refusal (phase error with `code`, nothing found, no installer asked for). */
async function refusedAsStable(h: Harness, yml: Buffer, sig: Buffer | string, code: string): Promise<UpdateStateDTO> {
  server.replace.set(feedOf('stable'), yml);
  server.replace.set(`${feedOf('stable')}.sig`, Buffer.from(sig));
  server.requests.length = 0;
  let s: UpdateStateDTO;
  try {
    s = await h.c.check();
  } finally {
    resetServer();
  }
  expect(s.phase).toBe('error');
  expect(s.error?.code).toBe(code);
  expect(s.update).toBeNull();
  await new Promise((r) => setTimeout(r, 100));
  expect(server.requests.filter((p) => p.endsWith('.AppImage'))).toEqual([]);
  return s;
}

describe('a signed file under another name or channel', () => {
  test('the signed nightly feed (and its .sig) served as the stable feed is refused: a signature binds the file name', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'auto' });
    const alpha = feedOf('nightly').slice(1);
    await refusedAsStable(h, fs.readFileSync(path.join(feed, alpha)), fs.readFileSync(path.join(feed, `${alpha}.sig`)), 'update_bad_signature');
    expect(h.events).toEqual([]);
  });

  test('a feed signed for the stable name that offers a nightly version is refused (update_wrong_channel), nothing downloaded', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'auto' });
    const { signBytes } = await import('../../main/updates/signature');
    const nightlyYml = fs.readFileSync(path.join(feed, feedOf('nightly').slice(1)));
    // the signing key itself signed a nightly's channel file under the stable name (a release-step mistake, or a key misuse)
    const s = await refusedAsStable(h, nightlyYml, signBytes(feedOf('stable').slice(1), nightlyYml, keys.privateKeyPem), 'update_wrong_channel');
    expect(s.error?.message).toContain(NIGHTLY);
  });
});

describe('the data schema', () => {
  test('each channel file says the data schema its release opens', () => {
    for (const c of ['stable', 'beta', 'nightly'] as const) {
      expect(fs.readFileSync(path.join(feed, feedOf(c).slice(1)), 'utf8')).toMatch(new RegExp(`^schemaVersion: ${LATEST_VERSION}$`, 'm'));
    }
  });

  test('a downgrade that cannot open the database (its schema is newer) is offered blocked and never downloaded', async () => {
    const h = harness(NIGHTLY, { channel: 'stable', mode: 'auto' }, { dataSchemaVersion: LATEST_VERSION + 1 });
    server.requests.length = 0;
    const s = await h.c.check();
    expect(s.phase).toBe('available');
    expect(s.update).toMatchObject({ version: STABLE, downgrade: true });
    expect(s.update?.blocked).toBe(`${STABLE} cannot open your data: this version changed how it is stored (schema ${LATEST_VERSION + 1}; ${STABLE} reads up to ${LATEST_VERSION})`);
    await expect(h.c.download(true)).rejects.toMatchObject({ code: 'update_cannot_open_data' });
    expect(server.requests.filter((p) => p.endsWith('.AppImage'))).toEqual([]);
    // the same downgrade over data it can open is not blocked
    const ok = harness(NIGHTLY, { channel: 'stable', mode: 'check' }, { dataSchemaVersion: LATEST_VERSION });
    expect((await ok.c.check()).update).toMatchObject({ version: STABLE, downgrade: true, blocked: null });
  });
});

describe('stalled and oversized answers', () => {
  test('a feed dripping a byte every 50 ms is cancelled at its deadline (update_timeout), and the next check runs', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' }, { feedDeadlineMs: 400 });
    server.drip.add(feedOf('stable'));
    try {
      const s = await h.c.check();
      expect(s.phase).toBe('error');
      expect(s.error?.code).toBe('update_timeout');
    } finally {
      resetServer();
    }
    expect((await h.c.check()).phase).toBe('available');
  });

  test('a check that never settles ends in error at the controller deadline (its late result dropped)', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' }, { feedDeadlineMs: 60_000 });
    server.stall.add(feedOf('stable'));
    try {
      const pending = h.c.check();
      await until(() => server.requests.includes(feedOf('stable')), 'the feed asked for');
      const deadline = await until(() => h.timers.pending.find((t) => t.ms !== UPDATE_CHECK_INTERVAL_MS), 'the check deadline');
      expect(h.c.state().phase).toBe('checking');
      deadline.fn(); // the deadline passes
      const s = await pending;
      expect(s.phase).toBe('error');
      expect(s.error?.code).toBe('update_timeout');
    } finally {
      resetServer();
    }
  });

  test('a download that stalls is cancelled by the watchdog (update_timeout)', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' }, { downloadStallMs: 1500 });
    server.stall.add(`/Hearth-${STABLE}.AppImage`);
    try {
      expect((await h.c.check()).phase).toBe('available');
      const s = await h.c.download(false);
      expect(s.phase).toBe('error');
      expect(s.error?.code).toBe('update_timeout');
    } finally {
      resetServer();
    }
    expect(h.events).toEqual([]);
  });

  test('a channel file over 1 MiB and a .sig over 1 KiB are refused unread past the cap (update_too_large)', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    const yml = fs.readFileSync(path.join(feed, feedOf('stable').slice(1)));
    server.replace.set(feedOf('stable'), Buffer.concat([yml, Buffer.alloc(FEED_FILE_MAX_BYTES, 0x23)]));
    try {
      expect((await h.c.check()).error?.code).toBe('update_too_large');
      server.replace.clear();
      server.replace.set(`${feedOf('stable')}.sig`, Buffer.alloc(SIGNATURE_MAX_BYTES + 1, 0x41));
      expect((await h.c.check()).error?.code).toBe('update_too_large');
    } finally {
      resetServer();
    }
  });

  test('a download larger than the signed size is cancelled (update_too_large)', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    const real = fs.readFileSync(path.join(feed, `Hearth-${STABLE}.AppImage`));
    server.replace.set(`/Hearth-${STABLE}.AppImage`, Buffer.concat([real, Buffer.alloc(4 * 1024 * 1024)]));
    try {
      expect((await h.c.check()).phase).toBe('available');
      const s = await h.c.download(false);
      expect(s.phase).toBe('error');
      expect(s.error?.code).toBe('update_too_large');
    } finally {
      resetServer();
    }
  });
});

describe('a channel switch during a check', () => {
  test('the old channel\'s late result is dropped; the new channel\'s is shown', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    server.delay.set(feedOf('stable'), 400);
    try {
      const first = h.c.check();
      await until(() => server.requests.includes(feedOf('stable')), 'the stable feed asked for');
      h.settings = { channel: 'nightly', mode: 'check' };
      h.c.settingsChanged();
      await first;
      await until(() => h.c.state().phase === 'available', 'the nightly check');
      expect(h.c.state().update).toMatchObject({ version: NIGHTLY, channel: 'nightly' });
      expect(h.states.filter((s) => s.update?.version === STABLE)).toEqual([]);
    } finally {
      resetServer();
    }
  });
});

describe('a channel switch during a download', () => {
  test('no check runs while it downloads; once done, the old channel\'s build is dropped (never "downloaded") and the new channel is checked', async () => {
    const h = harness('1.3.0', { channel: 'nightly', mode: 'check' });
    expect((await h.c.check()).update).toMatchObject({ version: NIGHTLY });
    server.delay.set(`/Hearth-${NIGHTLY}.AppImage`, 400);
    try {
      const download = h.c.download(false);
      await until(() => server.requests.includes(`/Hearth-${NIGHTLY}.AppImage`), 'the nightly download asked for');
      h.settings = { channel: 'stable', mode: 'check' };
      h.c.settingsChanged();
      server.requests.length = 0;
      // "Check now" while it downloads: electron-updater keeps one update, so none is looked for
      expect((await h.c.check()).phase).toBe('downloading');
      expect(server.requests).toEqual([]);
      await download;
      await until(() => h.c.state().phase === 'available', 'the stable check after the drop');
      expect(h.c.state().update).toMatchObject({ version: STABLE, channel: 'stable' });
      expect(h.states.filter((st) => st.phase === 'downloaded')).toEqual([]);
      expect(() => h.c.install()).toThrow(/no update is downloaded/);
    } finally {
      resetServer();
    }
  });
});

describe('the download checked again before install', () => {
  test('a download changed in the cache after its check is refused before anything closes, and deleted', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    await h.c.check();
    expect((await h.c.download(false)).phase).toBe('downloaded');
    const cached = path.join(process.env.XDG_CACHE_HOME!, 'hearth-updater', 'pending', `Hearth-${STABLE}.AppImage`);
    expect(fs.existsSync(cached)).toBe(true);
    fs.writeFileSync(cached, '#!/bin/sh\necho evil > "$HEARTH_TEST_INSTALLED"\n');
    h.c.install();
    await until(() => h.c.state().phase === 'error', 'the refusal');
    expect(h.c.state().error?.code).toBe('update_bad_signature');
    expect(h.events).toEqual([]);
    expect(fs.existsSync(cached)).toBe(false);
    expect(fs.readFileSync(h.appImage, 'utf8')).toBe('running 1.3.0');
    expect(electronApp.quits).toBe(0);
  });
});

describe('the GPU build', () => {
  test('each channel file says the GPU build it is', () => {
    for (const c of ['stable', 'beta', 'nightly'] as const) expect(fs.readFileSync(path.join(feed, feedOf(c).slice(1)), 'utf8')).toMatch(/^gpu: cpu$/m);
    expect(fs.readFileSync(path.join(root, 'feed', 'cuda', feedOf('stable').slice(1)), 'utf8')).toMatch(/^gpu: cuda$/m);
  });

  test('the CUDA build\'s signed feed served to a CPU install is refused (update_wrong_build), nothing downloaded', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'auto' });
    const cuda = path.join(root, 'feed', 'cuda');
    const name = feedOf('stable').slice(1);
    const s = await refusedAsStable(h, fs.readFileSync(path.join(cuda, name)), fs.readFileSync(path.join(cuda, `${name}.sig`)), 'update_wrong_build');
    expect(s.error?.message).toMatch(/of the cuda build; this is the cpu build/);
    // the same feed is the CUDA install's own
    const cudaInstall = harness('1.3.0', { channel: 'stable', mode: 'check' }, { gpu: 'cuda' });
    server.replace.set(feedOf('stable'), fs.readFileSync(path.join(cuda, name)));
    server.replace.set(`${feedOf('stable')}.sig`, fs.readFileSync(path.join(cuda, `${name}.sig`)));
    try {
      expect((await cudaInstall.c.check()).update).toMatchObject({ version: STABLE });
    } finally {
      resetServer();
    }
  });

  test('a signed feed that does not say its build is refused too', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'auto' });
    const { signBytes } = await import('../../main/updates/signature');
    const name = feedOf('stable').slice(1);
    const yml = Buffer.from(fs.readFileSync(path.join(feed, name), 'utf8').replace(/^gpu: cpu\n/m, ''));
    const s = await refusedAsStable(h, yml, signBytes(name, yml, keys.privateKeyPem), 'update_wrong_build');
    expect(s.error?.message).toMatch(/without saying which build/);
  });
});

describe('fresh from the origin', () => {
  test('the channel file and its .sig are both asked for with a noCache query (GenericProvider\'s), as is the artifact\'s .sig', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    server.urls.length = 0;
    await h.c.check();
    await h.c.download(false);
    const asked = (p: string) => server.urls.filter((u) => u.split('?')[0] === p);
    for (const p of [feedOf('stable'), `${feedOf('stable')}.sig`, `/Hearth-${STABLE}.AppImage.sig`]) {
      expect(asked(p)).toHaveLength(1);
      expect(asked(p)[0]).toMatch(/\?noCache=[0-9a-v]+$/);
    }
  });
});

describe('after a failed install', () => {
  test('the app is started again from the AppImage file itself (its mount is gone once this process exits), elsewhere as Electron would', () => {
    expect(relaunchOptions({ APPIMAGE: '/home/u/Hearth.AppImage' }, ['/tmp/.mount_HeartXYZ/hearth', '--data-dir', '/d'])).toEqual({ execPath: '/home/u/Hearth.AppImage', args: ['--data-dir', '/d'] });
    expect(relaunchOptions({}, ['/opt/Hearth/hearth'])).toBeUndefined();
  });

  test('a run without an updater (browser mode, hearth serve) leaves the note for the app', () => {
    const note = path.join(root, 'note-kept.json');
    fs.writeFileSync(note, JSON.stringify({ version: STABLE, message: 'the installer failed', at: 1 }));
    const c = new UpdateController({
      current: '1.3.0', port: null, settings: () => ({ channel: null, mode: 'auto' }), activity: { busy: () => [], onChange: () => () => undefined },
      beforeInstall: async () => undefined, relaunch: () => undefined, emit: () => undefined, logger: silentLogger, installFailure: installFailureFile(note),
    });
    expect(c.state().phase).toBe('unsupported');
    expect(fs.existsSync(note)).toBe(true);
  });
});

describe('a failed install', () => {
  test('an AppImage install that fails (APPIMAGE in a folder that does not exist) sets phase error and relaunches the app', async () => {
    const note = path.join(root, 'install-failed.json');
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' }, { appImage: path.join(root, 'no-such-folder', 'Hearth.AppImage'), noteFile: note });
    await h.c.check();
    expect((await h.c.download(false)).phase).toBe('downloaded');
    h.c.install();
    await until(() => h.relaunches > 0, 'the relaunch');
    expect(h.events).toEqual(['services closed', 'engine host closed', 'quitAndInstall', 'relaunch']);
    expect(h.c.state().phase).toBe('error');
    expect(h.c.state().error?.code).toBe('update_install_failed');
    expect(h.c.state().error?.message).toMatch(/the installer failed: .*ENOENT/);
    // the error state went out before the relaunch; the deadline is cleared; the app never quit to install
    expect(h.states.at(-1)?.phase).toBe('error');
    expect(h.timers.pending.filter((t) => t.ms === INSTALL_QUIT_DEADLINE_MS)).toEqual([]);
    expect(electronApp.quits).toBe(0);
    // the relaunched app says it once (the reason was kept for it), then forgets it
    expect(JSON.parse(fs.readFileSync(note, 'utf8'))).toMatchObject({ version: STABLE });
    const relaunched = harness('1.3.0', { channel: 'stable', mode: 'check' }, { noteFile: note });
    expect(relaunched.c.state()).toMatchObject({ phase: 'error', error: { code: 'update_install_failed', message: expect.stringMatching(new RegExp(`^Hearth could not install ${STABLE.replace(/\./g, '\\.')} and is still on 1\\.3\\.0: the installer failed: .*ENOENT`)) } });
    expect(fs.existsSync(note)).toBe(false);
    expect(harness('1.3.0', { channel: 'stable', mode: 'check' }, { noteFile: note }).c.state().phase).toBe('idle');
  });

  test('an app still running INSTALL_QUIT_DEADLINE_MS after the installer started relaunches', async () => {
    const h = harness('1.3.0', { channel: 'stable', mode: 'check' });
    await h.c.check();
    await h.c.download(false);
    h.c.install();
    await until(() => electronApp.quits > 0, 'quitAndInstall asking the app to quit');
    // the app double does not exit: as if a quit was cancelled
    const deadline = await until(() => h.timers.pending.find((t) => t.ms === INSTALL_QUIT_DEADLINE_MS), 'the install deadline');
    expect(h.relaunches).toBe(0);
    deadline.fn();
    expect(h.relaunches).toBe(1);
    expect(h.c.state().error).toMatchObject({ code: 'update_install_failed', message: expect.stringMatching(/had not quit 120 s after/) });
  });
});

/** An electron-updater double (the port's boundary) that records quitAndInstall's arguments. */
function updaterDouble(): AppUpdater & { calls: unknown[][]; configPath: string | null } {
  const { EventEmitter } = require('events') as typeof import('events');
  const d = Object.assign(new EventEmitter(), {
    calls: [] as unknown[][],
    configPath: null as string | null,
    logger: null,
    autoDownload: true,
    autoInstallOnAppQuit: true,
    setFeedURL: () => undefined,
    quitAndInstall: (...args: unknown[]) => {
      d.calls.push(args);
    },
    set updateConfigPath(p: string) {
      d.configPath = p;
    },
  });
  return d as unknown as AppUpdater & { calls: unknown[][]; configPath: string | null };
}

describe('the port', () => {
  test('Windows installs silently and runs the app after (quitAndInstall(true, true)); elsewhere electron-updater\'s defaults', () => {
    const win = updaterDouble();
    electronUpdaterPort({ publicKeyPem: keys.publicKeyPem, configDir: path.join(root, 'port-win'), logger: silentLogger, makeUpdater: () => win, platform: 'win32' }).install(() => undefined);
    expect(win.calls).toEqual([[true, true]]);
    for (const platform of ['linux', 'darwin'] as const) {
      const d = updaterDouble();
      electronUpdaterPort({ publicKeyPem: keys.publicKeyPem, configDir: path.join(root, `port-${platform}`), logger: silentLogger, makeUpdater: () => d, platform }).install(() => undefined);
      expect(d.calls).toEqual([[]]);
    }
  });

  test('an error electron-updater reports later (Squirrel.Mac) reaches the install\'s onFailure once', () => {
    const mac = updaterDouble();
    const failures: string[] = [];
    electronUpdaterPort({ publicKeyPem: keys.publicKeyPem, configDir: path.join(root, 'port-mac'), logger: silentLogger, makeUpdater: () => mac, platform: 'darwin' }).install((e) => failures.push(e.message));
    expect(failures).toEqual([]);
    mac.emit('error', new Error('Squirrel: code signature invalid'));
    mac.emit('error', new Error('again'));
    expect(failures).toEqual(['Squirrel: code signature invalid']);
  });

  test('a packaged app\'s resources/app-update.yml is the config (NsisUpdater reads its publisherName); without one the port writes its own', async () => {
    const resources = path.join(root, 'resources');
    fs.mkdirSync(resources, { recursive: true });
    fs.writeFileSync(path.join(resources, 'app-update.yml'), `provider: generic\nurl: https://updates.hearth.app/\nupdaterCacheDirName: ${UPDATER_CACHE_DIR_NAME}\npublisherName:\n  - Hearth Project\n`);
    const configDir = path.join(root, 'port-packaged');
    const nsis = new NsisUpdater();
    electronUpdaterPort({ publicKeyPem: keys.publicKeyPem, configDir, logger: silentLogger, makeUpdater: () => nsis, resourcesPath: resources, platform: 'win32' });
    const config = await (nsis as unknown as { configOnDisk: { value: Promise<Record<string, unknown>> } }).configOnDisk.value;
    expect(config).toMatchObject({ publisherName: ['Hearth Project'], updaterCacheDirName: UPDATER_CACHE_DIR_NAME });
    expect(fs.existsSync(path.join(configDir, 'app-update.yml'))).toBe(false);
    // a development or test run: no resources/app-update.yml
    const devDir = path.join(root, 'port-dev');
    const dev = new NsisUpdater();
    electronUpdaterPort({ publicKeyPem: keys.publicKeyPem, configDir: devDir, logger: silentLogger, makeUpdater: () => dev, resourcesPath: path.join(root, 'no-resources'), platform: 'win32' });
    const own = await (dev as unknown as { configOnDisk: { value: Promise<Record<string, unknown>> } }).configOnDisk.value;
    expect(own).toEqual({ provider: 'custom', updaterCacheDirName: UPDATER_CACHE_DIR_NAME });
    expect(fs.existsSync(path.join(devDir, 'app-update.yml'))).toBe(true);
  });
});
