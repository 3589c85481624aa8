/**
 * The hub's HTTP edge cases (main/models/hub-http.ts and its users: the hub client, the download
 * manager, remote fit's range reads, hub.fit's session cache) against the local hub
 * (test/helpers/hf-server.ts): 429/503 with Retry-After, a file changed on the hub between a pause
 * and a resume, a token not starting with hf_, a revision that needs URL-encoding, Windows file names.
 */
import fs from 'fs';
import path from 'path';
import { DownloadManager, stoppedByError, type DownloadEvent, type DownloadManagerOptions } from '../../main/models/downloads';
import { type Timers } from '../../main/models/download-transfer';
import { HubClient } from '../../main/models/hub';
import { retryAfterMs, RETRY_AFTER_MAX_MS, statusError } from '../../main/models/hub-http';
import { HubFits } from '../../main/models/hub-fit';
import { readRemoteHeader, REMOTE_CHUNK } from '../../main/models/remote-fit';
import { HfToken } from '../../main/ipc/contract';
import { downloadNameSchema } from '../../main/ipc/models';
import { Store } from '../../main/store';
import { sha, useLocalHub } from '../helpers/local-hub';

const REPO = 'hearth/http-GGUF';
const hf = useLocalHub('hearth-http-', ({ spm, embed }) => ({
  repos: [
    {
      id: REPO,
      files: [
        { path: 'a-Q8_0.gguf', data: spm },
        { path: 'b-Q4_K_M.gguf', data: embed },
        { path: 'c-Q2_K.gguf', data: spm },
        { path: 'd-Q6_K.gguf', data: spm },
      ],
    },
  ],
}));

describe('Retry-After and hub_busy', () => {
  test('Retry-After as seconds or an HTTP date, bounded; 429 and 5xx are hub_busy, 401/403/404 as before', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('86400', now)).toBe(RETRY_AFTER_MAX_MS);
    expect(retryAfterMs('soon', now)).toBeNull();
    expect(retryAfterMs(null, now)).toBeNull();
    expect(statusError(429, 'x', { retryAfter: '12' })).toMatchObject({ code: 'hub_busy', details: { status: 429, retryAfterMs: 12_000 } });
    expect(statusError(503, 'x')).toMatchObject({ code: 'hub_busy', details: { status: 503 } });
    expect(statusError(403, 'x')?.code).toBe('hub_unauthorized');
    expect(statusError(404, 'x')?.code).toBe('hub_not_found');
    expect(statusError(416, 'x')).toBeNull();
  });

  test('a download answered 429 with Retry-After waits that long (not the short backoff) before the retry, then completes', async () => {
    const dir = fs.mkdtempSync(path.join(hf.dir, 'busy-'));
    const store = Store.open(path.join(dir, 'hearth.db'));
    const waits: number[] = [];
    // the manager's timers: the delay asked is recorded and the wait itself is skipped
    const timers: Timers = { now: () => Date.now(), setTimeout: (fn, ms) => { waits.push(ms); return setTimeout(fn, 0); }, clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    hf.server.fault(REPO, 'a-Q8_0.gguf', { status: 429, retryAfter: '7', times: 1 });
    const m = new DownloadManager({ downloads: store.downloads, modelsDir: dir, hub: { hubUrl: hf.server.url }, retryBaseMs: 20, reserveBytes: 0, timers });
    const events: DownloadEvent[] = [];
    m.on((e) => events.push(e));
    try {
      const v = m.add({ repo: REPO, file: 'a-Q8_0.gguf', sha256: sha(hf.spm), size: hf.spm.length });
      await new Promise<void>((resolve) => m.on((e) => { if ((e.type === 'done' || (e.type === 'state' && stoppedByError(e.download))) && (e.type === 'done' ? e.id : e.download.id) === v.id) resolve(); }));
      const retry = events.find((e): e is Extract<DownloadEvent, { type: 'retry' }> => e.type === 'retry');
      expect(retry).toMatchObject({ attempt: 1, delayMs: 7000, error: { code: 'hub_busy' } });
      expect(waits).toContain(7000);
      expect(events.some((e) => e.type === 'done')).toBe(true);
    } finally {
      await m.close();
      store.close();
      hf.server.fault(REPO, 'a-Q8_0.gguf', null);
    }
  });

  test('a 503 from the file listing is hub_busy (not hub_unreachable)', async () => {
    hf.server.fault(REPO, '', { status: 503, times: 1 });
    await expect(new HubClient({ hubUrl: hf.server.url }).files(REPO)).rejects.toMatchObject({ code: 'hub_busy', details: { status: 503 } });
    expect((await new HubClient({ hubUrl: hf.server.url }).files(REPO)).length).toBe(4);
  });

  test('a fit answered 429 is hub_busy and is not kept for the session: the next ask goes to the hub again', async () => {
    const hub = new HubClient({ hubUrl: hf.server.url });
    // the engine is never reached: the header read fails first
    const fits = new HubFits({ engine: {} as never, hub: () => hub, marginMiB: () => 512 });
    hf.server.fault(REPO, 'c-Q2_K.gguf', { status: 429, retryAfter: '3', times: 2 });
    const resolves = () => hf.server.log.filter((e) => e.path.includes('/resolve/') && e.file === `${REPO}/c-Q2_K.gguf`).length;
    const before = resolves();
    const ask = { repo: REPO, revision: 'main', file: 'c-Q2_K.gguf' };
    await expect(fits.fit(ask)).rejects.toMatchObject({ code: 'hub_busy', details: { status: 429, retryAfterMs: 3000 } });
    await expect(fits.fit(ask)).rejects.toMatchObject({ code: 'hub_busy' });
    expect(resolves() - before).toBe(2);
    hf.server.fault(REPO, 'c-Q2_K.gguf', null);
  });

  test('a header read follows the redirect once, then asks the CDN directly with growing ranges', async () => {
    const before = hf.server.log.length;
    const r = await readRemoteHeader({ hubUrl: hf.server.url }, REPO, 'a-Q8_0.gguf', hf.spm.length);
    const reqs = hf.server.log.slice(before);
    expect(reqs.filter((e) => e.path.includes('/resolve/'))).toHaveLength(1);
    const cdn = reqs.filter((e) => e.path.startsWith('/cdn/'));
    expect(cdn.length).toBe(r.count.requests);
    const sizes = cdn.map((e) => { const m = /^bytes=(\d+)-(\d+)$/.exec(e.range!)!; return Number(m[2]) - Number(m[1]) + 1; });
    expect(sizes[0]).toBe(REMOTE_CHUNK);
    for (let i = 1; i < sizes.length - 1; i++) expect(sizes[i]).toBe(sizes[i - 1] * 2);
    expect(r.count.bytes).toBe(cdn.reduce((s, e) => s + e.bytesSent, 0));
    console.log(JSON.stringify({ headerRead: { headerBytes: r.header.dataOffset, requests: r.count.requests, bytes: r.count.bytes, ranges: sizes } }));
  });
});

describe('a download pinned to a commit', () => {
  let dir: string;
  let store: Store;
  let m: DownloadManager;
  const open = (o: Partial<DownloadManagerOptions> = {}) => {
    m = new DownloadManager({ downloads: store.downloads, modelsDir: dir, hub: { hubUrl: hf.server.url }, retryBaseMs: 20, reserveBytes: 0, progressIntervalMs: 20, ...o });
    return m;
  };
  const until = (pred: (e: DownloadEvent) => boolean) => new Promise<DownloadEvent>((resolve) => { const off = m.on((e) => { if (pred(e)) { off(); resolve(e); } }); });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(hf.dir, 'pin-'));
    store = Store.open(path.join(dir, 'hearth.db'));
  });
  afterEach(async () => {
    await m?.close();
    store.close();
  });

  test('the file changes on the hub between a pause and the resume: the resume asks the first commit and finishes with the old bytes (no splice)', async () => {
    const file = 'd-Q6_K.gguf';
    hf.server.fault(REPO, file, { bytesPerSecond: 400_000 });
    open();
    const first = hf.server.commitOf(REPO);
    const v = m.add({ repo: REPO, file, sha256: sha(hf.spm), size: hf.spm.length });
    await until((e) => e.type === 'progress' && e.id === v.id && e.bytes >= 100_000);
    await m.pause(v.id);
    // the record is pinned to the commit main was at
    expect(store.downloads.get(v.id)!.revision).toBe(first);
    const changed = Buffer.from(hf.spm);
    changed[50_000] ^= 0xff;
    const next = hf.server.replace(REPO, file, changed);
    expect(next).not.toBe(first);
    hf.server.fault(REPO, file, null);
    const log = hf.server.log.length;
    m.resume(v.id);
    const end = await until((e) => (e.type === 'done' && e.id === v.id) || (e.type === 'state' && e.download.id === v.id && stoppedByError(e.download)));
    expect(end.type).toBe('done');
    expect(sha(fs.readFileSync(path.join(dir, file)))).toBe(sha(hf.spm));
    expect(hf.server.log.slice(log).filter((e) => e.path.includes('/resolve/')).every((e) => e.path.includes(`/resolve/${first}/`))).toBe(true);
  });

  test('the hub serves another version than the one listed: stopped at the first answer with hub_file_changed, not retried, nothing kept', async () => {
    const file = 'b-Q4_K_M.gguf';
    const listed = sha(hf.embed);
    hf.server.replace(REPO, file, Buffer.concat([hf.embed.subarray(0, 100), Buffer.from('x'), hf.embed.subarray(101)]));
    open();
    const cdnBefore = hf.server.cdnLog(REPO, file).length;
    const v = m.add({ repo: REPO, file, sha256: listed, size: hf.embed.length });
    const end = await until((e) => e.type === 'state' && e.download.id === v.id && stoppedByError(e.download));
    expect(end).toMatchObject({ download: { state: 'failed', error: { code: 'hub_file_changed' } } });
    expect((end as Extract<DownloadEvent, { type: 'state' }>).download.error!.message).toMatch(/changed on the hub/);
    // one answer, its body cancelled, no retry
    expect(hf.server.cdnLog(REPO, file).length).toBe(cdnBefore + 1);
    expect(fs.existsSync(path.join(dir, `${file}.part`))).toBe(false);
  });
});

describe('the token and the revision', () => {
  test('a token not starting with hf_ is refused by the settings schema and, from HF_TOKEN, reported as hub_unauthorized saying so', async () => {
    expect(HfToken.safeParse('hf_abc').success).toBe(true);
    const bad = HfToken.safeParse('abc123');
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0].message).toMatch(/starts with hf_/);
    const hub = new HubClient({ hubUrl: hf.server.url, token: 'ghp_notahftoken' });
    await expect(hub.files(REPO)).rejects.toMatchObject({ code: 'hub_unauthorized', message: expect.stringMatching(/hf_/) });
    await expect(hub.search({})).rejects.toMatchObject({ code: 'hub_unauthorized' });
  });

  test('a revision with URL-special characters is encoded in the file listing', async () => {
    const before = hf.server.log.length;
    await new HubClient({ hubUrl: hf.server.url }).files(REPO, 'refs/pr/1');
    const tree = hf.server.log.slice(before).find((e) => e.path.includes('/tree/'))!;
    expect(tree.path).toContain('/tree/refs%2Fpr%2F1?');
    await expect(new HubClient({ hubUrl: hf.server.url }).files(REPO, 'a b')).rejects.toMatchObject({ code: 'invalid_input' });
  });
});

describe('file names on every OS', () => {
  test('download names Windows cannot hold are refused; a name that passes is one plain file name under path.win32 too', () => {
    for (const bad of ['CON.gguf', 'nul.gguf', 'Aux.Q4.gguf', 'COM1.gguf', 'lpt9.gguf', 'a:b.gguf', 'a<b.gguf', 'a|b.gguf', 'a?.gguf', 'a*.gguf', 'a".gguf', 'model.gguf.', 'model.gguf ', '.hidden.gguf', 'a\\b.gguf', 'a/b.gguf', 'x.bin']) {
      expect([bad, downloadNameSchema.safeParse(bad).success]).toEqual([bad, false]);
    }
    for (const good of ['Model-Q4_K_M.gguf', 'console.gguf', 'com10.gguf', 'nullish.gguf']) {
      expect(downloadNameSchema.safeParse(good).success).toBe(true);
      expect(path.win32.basename(good)).toBe(good);
      expect(path.win32.join('C:\\models', good)).toBe(`C:\\models\\${good}`);
    }
  });

  test('the manager refuses a repository file whose own name is unsafe, and compares targets case-insensitively on win32 and darwin', async () => {
    const dir = fs.mkdtempSync(path.join(hf.dir, 'names-'));
    const store = Store.open(path.join(dir, 'hearth.db'));
    const make = (platform: NodeJS.Platform) => new DownloadManager({
      downloads: store.downloads, modelsDir: path.join(dir, platform), hub: { hubUrl: hf.server.url }, reserveBytes: 0, concurrency: 1, platform,
    });
    const managers = (['win32', 'darwin', 'linux'] as const).map((p) => { fs.mkdirSync(path.join(dir, p)); return [p, make(p)] as const; });
    try {
      const req = { repo: REPO, file: 'a-Q8_0.gguf', sha256: sha(hf.spm), size: hf.spm.length };
      for (const [platform, m] of managers) {
        expect(() => m.add({ ...req, file: 'sub/NUL.gguf' })).toThrow(/device name/);
        const first = m.add({ ...req, name: 'Model.gguf' });
        await m.pause(first.id);
        const again = () => m.add({ ...req, name: 'model.gguf' });
        if (platform === 'linux') expect(again().target).toBe(path.join(dir, platform, 'model.gguf'));
        else expect(again).toThrow(/already being downloaded/);
      }
    } finally {
      await Promise.all(managers.map(([, m]) => m.close()));
      store.close();
    }
  });
});
