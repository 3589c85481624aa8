/**
 * The hub client (main/models/hub.ts) and the download manager (main/models/downloads.ts) against a
 * local Hugging Face hub (test/helpers/hf-server.ts) serving real generated GGUF files over real HTTP,
 * with the real store (SQLite) and real files. No internet.
 */
import fs from 'fs';
import path from 'path';
import { DownloadManager, stoppedByError, type DownloadEvent, type DownloadManagerOptions, type DownloadView } from '../../main/models/downloads';
import { groupGgufFiles, HubClient, HubError, quantOf, type HubFile } from '../../main/models/hub';
import { MAX_SPLIT_PARTS } from '../../main/gguf/split-name';
import { Store } from '../../main/store';
import { recordFsOrder } from '../helpers/fs-order';
import { sha, useLocalHub } from '../helpers/local-hub';

const TOKEN = 'hf_test_token';
const hf = useLocalHub('hearth-dl-', ({ spm, embed }) => ({
  token: TOKEN,
  repos: [
    {
      id: 'hearth/tiny-GGUF', downloads: 500, likes: 7, lastModified: '2026-03-01T00:00:00.000Z',
      files: [
        { path: 'tiny-Q4_K_M.gguf', data: embed },
        { path: 'tiny-Q8_0.gguf', data: spm },
        { path: 'tiny-F16.gguf', data: embed },
        { path: 'tiny-Q2_K.gguf', data: spm },
        { path: 'big/tiny-Q6_K-00001-of-00002.gguf', data: embed.subarray(0, 1_000_000) },
        { path: 'big/tiny-Q6_K-00002-of-00002.gguf', data: embed.subarray(1_000_000) },
        { path: 'mmproj-tiny-f16.gguf', data: embed.subarray(0, 4096) },
        { path: 'README.md', data: Buffer.from('# tiny\n') },
      ],
    },
    { id: 'meta/gated-GGUF', gated: true, downloads: 900, likes: 50, files: [{ path: 'gated-Q4_0.gguf', data: embed }] },
    { id: 'other/small-GGUF', downloads: 10, likes: 1, files: [{ path: 'small-IQ2_XXS.gguf', data: embed }] },
    { id: 'other/not-gguf', downloads: 99999, files: [{ path: 'model.safetensors', data: Buffer.alloc(10) }] },
  ],
}));
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(hf.dir, 'case-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the hub client', () => {
  test('searches GGUF repositories through @huggingface/hub, across pages, sorted, with name, author, downloads, likes, last update', async () => {
    const hub = new HubClient({ hubUrl: hf.server.url });
    const all = await hub.search({ sort: 'downloads' });
    // the non-GGUF repository is not listed; 3 results over pages of 2 (Link: rel="next" followed)
    expect(all.map((m) => m.id)).toEqual(['meta/gated-GGUF', 'hearth/tiny-GGUF', 'other/small-GGUF']);
    expect(all[1]).toEqual({
      id: 'hearth/tiny-GGUF', author: 'hearth', name: 'tiny-GGUF', downloads: 500, likes: 7,
      lastModified: Date.parse('2026-03-01T00:00:00.000Z'), gated: false,
    });
    expect(all[0].gated).toBe('manual');
    const searches = hf.server.log.filter((e) => e.path.startsWith('/api/models?'));
    expect(searches.some((e) => e.path.includes('cursor=2'))).toBe(true);
    expect(searches[0].path).toContain('filter=gguf');
    expect((await hub.search({ query: 'small' })).map((m) => m.id)).toEqual(['other/small-GGUF']);
    expect((await hub.search({ author: 'hearth' })).map((m) => m.id)).toEqual(['hearth/tiny-GGUF']);
    await expect(hub.search({ limit: 0 })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  test('lists a repository’s GGUF files by quantization, split parts as one model with their total size, each with its LFS sha256', async () => {
    const hub = new HubClient({ hubUrl: hf.server.url });
    const groups = await hub.ggufFiles('hearth/tiny-GGUF');
    expect(groups.map((g) => g.quant)).toEqual(['F16', 'Q2_K', 'Q4_K_M', 'Q6_K', 'Q8_0']);
    const q6 = groups.find((g) => g.quant === 'Q6_K')!.files;
    expect(q6).toHaveLength(1);
    expect(q6[0].name).toBe('tiny-Q6_K.gguf');
    expect(q6[0].size).toBe(hf.embed.length);
    expect(q6[0].parts.map((p) => p.path)).toEqual(['big/tiny-Q6_K-00001-of-00002.gguf', 'big/tiny-Q6_K-00002-of-00002.gguf']);
    expect(q6[0].parts[0].sha256).toBe(sha(hf.embed.subarray(0, 1_000_000)));
    const q4 = groups.find((g) => g.quant === 'Q4_K_M')!.files[0];
    expect(q4).toMatchObject({ name: 'tiny-Q4_K_M.gguf', size: hf.embed.length, projector: false });
    expect(q4.parts[0].sha256).toBe(sha(hf.embed));
    // the projector's name says F16 too: grouped there, marked as a projector
    expect(groups.find((g) => g.quant === 'F16')!.files.map((f) => [f.name, f.projector])).toEqual([
      ['mmproj-tiny-f16.gguf', true], ['tiny-F16.gguf', false],
    ]);
    await expect(hub.ggufFiles('nobody/nothing')).rejects.toMatchObject({ code: 'hub_not_found' });
    await expect(hub.ggufFiles('../etc')).rejects.toMatchObject({ code: 'invalid_input' });
  });

  test('reads quantizations from file names and drops a split model with a part missing, or in more parts than the engine loads', () => {
    expect(quantOf('Llama-3-8B-Instruct-Q4_K_M.gguf')).toBe('Q4_K_M');
    expect(quantOf('model.IQ2_XXS.gguf')).toBe('IQ2_XXS');
    expect(quantOf('qwen2.5-7b-instruct-q5_k_m-00001-of-00002.gguf')).toBe('Q5_K_M');
    expect(quantOf('gemma-bf16.gguf')).toBe('BF16');
    expect(quantOf('model.gguf')).toBeNull();
    const f = (p: string): HubFile => ({ path: p, size: 10, sha256: null });
    expect(groupGgufFiles([f('a-Q4_0-00001-of-00003.gguf'), f('a-Q4_0-00003-of-00003.gguf'), f('b.gguf')]))
      .toEqual([{ quant: null, files: [{ name: 'b.gguf', quant: null, size: 10, parts: [f('b.gguf')], projector: false }] }]);
    const split = (of: number) => Array.from({ length: of }, (_, i) => f(`m-Q8_0-${String(i + 1).padStart(5, '0')}-of-${String(of).padStart(5, '0')}.gguf`));
    expect(groupGgufFiles(split(MAX_SPLIT_PARTS))).toHaveLength(1); // as many as the engine loads: offered
    expect(groupGgufFiles(split(MAX_SPLIT_PARTS + 1))).toEqual([]);
  });
});

describe('the download manager', () => {
  let store: Store;
  let models: string;
  let events: DownloadEvent[];
  let managers: DownloadManager[];

  const open = (o: Partial<DownloadManagerOptions> = {}, token?: string) => {
    const m = new DownloadManager({
      downloads: store.downloads, modelsDir: models, hub: { hubUrl: hf.server.url, ...(token ? { token } : {}) },
      retryBaseMs: 20, reserveBytes: 0, progressIntervalMs: 20, ...o,
    });
    m.on((e) => events.push(e));
    managers.push(m);
    return m;
  };
  const settled = (m: DownloadManager, id: string) => new Promise<DownloadEvent>((resolve) => {
    const off = m.on((e) => {
      if ((e.type === 'done' && e.id === id) || (e.type === 'state' && e.download.id === id && stoppedByError(e.download))) {
        off();
        resolve(e);
      }
    });
  });
  const reached = (m: DownloadManager, id: string, bytes: number) => new Promise<void>((resolve) => {
    const off = m.on((e) => {
      if (e.type === 'progress' && e.id === id && e.bytes >= bytes) {
        off();
        resolve();
      }
    });
  });
  const req = (file: string, data: Buffer, repo = 'hearth/tiny-GGUF') => ({ repo, file, sha256: sha(data), size: data.length });

  beforeEach(() => {
    store = Store.open(path.join(dir, 'hearth.db'));
    models = path.join(dir, 'models');
    fs.mkdirSync(models);
    events = [];
    managers = [];
    hf.server.inFlight(true);
  });
  afterEach(async () => {
    await Promise.all(managers.map((m) => m.close()));
    store.close();
  });

  test('a download completes, its sha256 matches, the .part is renamed into place and the record is gone', async () => {
    const m = open();
    const v = m.add(req('tiny-Q4_K_M.gguf', hf.embed));
    expect(store.downloads.get(v.id)).toMatchObject({ state: 'downloading', sha256: sha(hf.embed), size: hf.embed.length });
    const end = await settled(m, v.id);
    expect(end).toMatchObject({ type: 'done', path: path.join(models, 'tiny-Q4_K_M.gguf') });
    expect(sha(fs.readFileSync(path.join(models, 'tiny-Q4_K_M.gguf')))).toBe(sha(hf.embed));
    expect(fs.readdirSync(models)).toEqual(['tiny-Q4_K_M.gguf']);
    expect(store.downloads.list()).toEqual([]);
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress[progress.length - 1]).toMatchObject({ bytes: hf.embed.length, size: hf.embed.length });
    // the hub's redirect was followed to the CDN, one request each
    expect(hf.server.log.filter((e) => e.file === 'hearth/tiny-GGUF/tiny-Q4_K_M.gguf').map((e) => e.status)).toEqual([302, 200]);
    expect(() => m.add(req('tiny-Q4_K_M.gguf', hf.embed))).toThrow(HubError);
  });

  test('a finished download is flushed, renamed, its folder flushed, and only then is its record deleted and done emitted', async () => {
    const log: string[] = [];
    recordFsOrder(log, (p) => path.relative(dir, p));
    const m = open();
    const v = m.add(req('tiny-Q4_K_M.gguf', hf.embed));
    const del = store.downloads.delete.bind(store.downloads);
    jest.spyOn(store.downloads, 'delete').mockImplementation((id) => {
      log.push('record deleted');
      return del(id);
    });
    m.on((e) => {
      if (e.type === 'done') log.push('done');
    });
    expect((await settled(m, v.id)).type).toBe('done');
    jest.restoreAllMocks();
    expect(log).toEqual([
      'sync models/tiny-Q4_K_M.gguf.part',
      'rename models/tiny-Q4_K_M.gguf.part → models/tiny-Q4_K_M.gguf',
      'sync models',
      'record deleted',
      'done',
    ]);
  });

  test('a connection dropped mid-file resumes from the byte it reached and completes', async () => {
    const file = 'tiny-Q8_0.gguf';
    const drop = 3_000_001;
    hf.server.fault('hearth/tiny-GGUF', file, { dropAfter: drop, times: 1 });
    const m = open();
    const partSizes: number[] = [];
    m.on((e) => {
      if (e.type === 'retry') partSizes.push(fs.statSync(path.join(models, `${file}.part`)).size);
    });
    const v = m.add(req(file, hf.spm));
    const end = await settled(m, v.id);
    hf.server.fault('hearth/tiny-GGUF', file, null);
    expect(end.type).toBe('done');
    const cdn = hf.server.cdnLog('hearth/tiny-GGUF', file);
    expect(cdn).toHaveLength(2);
    expect(cdn[0].bytesSent).toBe(drop);
    expect(cdn[0].range).toBeNull();
    // the second request starts at exactly the bytes on disk when it was made: what the first delivered
    // (the server wrote `drop` bytes; those still in flight when the connection dropped never arrived)
    expect(cdn[1].rangeStart).toBe(partSizes[0]);
    expect(cdn[1].rangeStart).toBeGreaterThan(0);
    expect(cdn[1].rangeStart).toBeLessThanOrEqual(drop);
    expect(cdn[1].status).toBe(206);
    expect(cdn[1].bytesSent).toBe(hf.spm.length - cdn[1].rangeStart!);
    const total = cdn.reduce((s, e) => s + e.bytesSent, 0);
    expect(sha(fs.readFileSync(path.join(models, file)))).toBe(sha(hf.spm));
    const retry = events.find((e) => e.type === 'retry');
    expect(retry).toMatchObject({ attempt: 1, offset: partSizes[0] });
    console.log(JSON.stringify({ resume: { fileBytes: hf.spm.length, bytesBeforeDrop: cdn[0].bytesSent, rangeStart: cdn[1].rangeStart, partBytesAtRetry: partSizes[0], totalFetched: total, requests: cdn.length } }));
  });

  test('wrong bytes: the file is deleted, nothing is registered, and the error says so', async () => {
    const file = 'tiny-F16.gguf';
    hf.server.fault('hearth/tiny-GGUF', file, { corrupt: true });
    const m = open();
    const v = m.add(req(file, hf.embed));
    const end = await settled(m, v.id);
    hf.server.fault('hearth/tiny-GGUF', file, null);
    expect(end.type).toBe('state');
    const failed = (end as { download: DownloadView }).download;
    expect(failed.state).toBe('failed');
    expect(failed.error?.code).toBe('checksum_mismatch');
    expect(failed.error?.message).toMatch(/SHA-256 .* is not the hub's .*deleted/);
    expect(fs.readdirSync(models)).toEqual([]);
    expect(events.some((e) => e.type === 'done')).toBe(false);
    expect(store.downloads.get(v.id)).toMatchObject({ state: 'failed', error: { code: 'checksum_mismatch' } });
  });

  test('slow hf.server: pause keeps the bytes, resume asks for the rest with Range, cancel removes the .part', async () => {
    const file = 'tiny-Q2_K.gguf';
    hf.server.fault('hearth/tiny-GGUF', file, { bytesPerSecond: 400_000 });
    const m = open();
    const part = path.join(models, `${file}.part`);
    const v = m.add(req(file, hf.spm));
    await reached(m, v.id, 100_000);
    const paused = await m.pause(v.id);
    expect(paused.state).toBe('paused');
    const onDisk = fs.statSync(part).size;
    expect(paused.bytes).toBe(onDisk);
    expect(store.downloads.get(v.id)!.state).toBe('paused');
    const before = hf.server.cdnLog('hearth/tiny-GGUF', file).length;
    m.resume(v.id);
    await reached(m, v.id, onDisk + 50_000);
    const cdn = hf.server.cdnLog('hearth/tiny-GGUF', file);
    expect(cdn).toHaveLength(before + 1);
    expect(cdn[cdn.length - 1].rangeStart).toBe(onDisk);
    const speed = events.filter((e): e is Extract<DownloadEvent, { type: 'progress' }> => e.type === 'progress' && e.speed > 0);
    expect(speed.length).toBeGreaterThan(0);
    expect(speed[speed.length - 1].etaSeconds).toBeGreaterThan(0);
    await m.cancel(v.id);
    expect(fs.existsSync(part)).toBe(false);
    expect(fs.readdirSync(models)).toEqual([]);
    expect(store.downloads.get(v.id)).toBeNull();
    expect(m.get(v.id)).toBeNull();
    expect(events[events.length - 1]).toEqual({ type: 'removed', id: v.id });
    hf.server.fault('hearth/tiny-GGUF', file, null);
  });

  test('a gated repository answers 401 without a token (no retries) and downloads with it', async () => {
    const file = 'gated-Q4_0.gguf';
    const without = open();
    const v = without.add(req(file, hf.embed, 'meta/gated-GGUF'));
    const end = await settled(without, v.id);
    expect((end as { download: DownloadView }).download.error?.code).toBe('hub_unauthorized');
    const resolves = hf.server.log.filter((e) => e.file === `meta/gated-GGUF/${file}`);
    expect(resolves.map((e) => [e.status, e.authorization])).toEqual([[401, null]]);
    await without.cancel(v.id);

    const withToken = open({}, TOKEN);
    const w = withToken.add(req(file, hf.embed, 'meta/gated-GGUF'));
    expect((await settled(withToken, w.id)).type).toBe('done');
    expect(sha(fs.readFileSync(path.join(models, file)))).toBe(sha(hf.embed));
    expect(hf.server.log.filter((e) => e.file === `meta/gated-GGUF/${file}`).slice(1).map((e) => [e.status, e.authorization]))
      .toEqual([[302, `Bearer ${TOKEN}`], [200, `Bearer ${TOKEN}`]]);
  });

  test('a manager restarted over the same store resumes a paused download from its bytes on disk', async () => {
    const file = 'tiny-Q8_0.gguf';
    hf.server.fault('hearth/tiny-GGUF', file, { bytesPerSecond: 400_000 });
    const first = open();
    const v = first.add(req(file, hf.spm));
    await reached(first, v.id, 100_000);
    await first.pause(v.id);
    await first.close();
    const onDisk = fs.statSync(path.join(models, `${file}.part`)).size;
    hf.server.fault('hearth/tiny-GGUF', file, null);

    // the app restarts: a new store connection and a new manager
    store.close();
    store = Store.open(path.join(dir, 'hearth.db'));
    const second = open();
    const restored = await second.restore();
    expect(restored).toEqual([expect.objectContaining({ id: v.id, state: 'paused', bytes: onDisk, size: hf.spm.length })]);
    const done = settled(second, v.id);
    second.resume(v.id);
    expect((await done).type).toBe('done');
    const cdn = hf.server.cdnLog('hearth/tiny-GGUF', file);
    expect(cdn[cdn.length - 1].rangeStart).toBe(onDisk);
    expect(sha(fs.readFileSync(path.join(models, file)))).toBe(sha(hf.spm));
    expect(store.downloads.list()).toEqual([]);
  });

  test('a download running when the manager closed goes on by itself at restore', async () => {
    const file = 'tiny-Q4_K_M.gguf';
    hf.server.fault('hearth/tiny-GGUF', file, { bytesPerSecond: 400_000 });
    const first = open();
    const v = first.add(req(file, hf.embed));
    await reached(first, v.id, 50_000);
    await first.close();
    expect(store.downloads.get(v.id)!.state).toBe('downloading');
    hf.server.fault('hearth/tiny-GGUF', file, null);
    const second = open();
    const done = settled(second, v.id);
    await second.restore();
    expect((await done).type).toBe('done');
    expect(sha(fs.readFileSync(path.join(models, file)))).toBe(sha(hf.embed));
  });

  test('the app died between the rename and the record’s delete: restore finds the file whole, drops the record and says done, with no request', async () => {
    const file = 'tiny-Q4_K_M.gguf';
    const target = path.join(models, file);
    const rec = store.downloads.add({ repo: 'hearth/tiny-GGUF', revision: 'main', file, target, size: hf.embed.length, sha256: sha(hf.embed) });
    fs.writeFileSync(target, hf.embed);
    const requests = hf.server.log.length;
    const m = open();
    expect(await m.restore()).toEqual([]);
    expect(events).toEqual([expect.objectContaining({ type: 'done', id: rec.id, path: target })]);
    expect(store.downloads.list()).toEqual([]);
    expect(hf.server.log.length).toBe(requests);
    expect(fs.readdirSync(models)).toEqual([file]);
    expect(sha(fs.readFileSync(target))).toBe(sha(hf.embed));
  });

  test('a kept download whose name is taken by another file in the folder fails and says so; the file is never replaced', async () => {
    const file = 'tiny-Q4_K_M.gguf';
    const target = path.join(models, file);
    const rec = store.downloads.add({ repo: 'hearth/tiny-GGUF', revision: 'main', file, target, size: hf.embed.length, sha256: sha(hf.embed) });
    const other = Buffer.from(hf.embed);
    other[other.length - 1] ^= 0xff;
    fs.writeFileSync(target, other);
    const requests = hf.server.log.length;
    const m = open();
    const end = settled(m, rec.id);
    await m.restore();
    const { state, error } = ((await end) as { download: DownloadView }).download;
    expect(state).toBe('failed');
    expect(error).toEqual({ code: 'invalid_input', message: `${file} is already in the models folder and is not this download (hearth/tiny-GGUF: ${file}); it was left as it is: move or delete it, then resume` });
    expect(hf.server.log.length).toBe(requests);
    expect(fs.readFileSync(target).equals(other)).toBe(true);
    expect(store.downloads.get(rec.id)!.state).toBe('failed');
  });

  test('no more downloads run at once than the limit; the rest wait in the queue', async () => {
    const files = ['tiny-Q4_K_M.gguf', 'tiny-F16.gguf', 'tiny-Q8_0.gguf'];
    for (const f of files) hf.server.fault('hearth/tiny-GGUF', f, { bytesPerSecond: 4_000_000 });
    const m = open({ concurrency: 2 });
    let running = 0;
    let most = 0;
    m.on((e) => {
      if (e.type !== 'state') return;
      if (e.download.state === 'downloading') most = Math.max(most, ++running);
    });
    m.on((e) => {
      if (e.type === 'done') running--;
    });
    const views = files.map((f) => m.add(req(f, f === 'tiny-Q8_0.gguf' ? hf.spm : hf.embed)));
    expect(m.list().map((d) => d.state)).toEqual(['downloading', 'downloading', 'queued']);
    const ends = await Promise.all(views.map((v) => settled(m, v.id)));
    for (const f of files) hf.server.fault('hearth/tiny-GGUF', f, null);
    expect(ends.map((e) => e.type)).toEqual(['done', 'done', 'done']);
    expect(most).toBe(2);
    expect(hf.server.inFlight().max).toBeLessThanOrEqual(2);
    expect(fs.readdirSync(models).sort()).toEqual([...files].sort());
  });

  test('too little free disk space: the download does not start, is paused, and says why', async () => {
    const m = open({ freeBytes: async () => 1000 });
    const requests = hf.server.log.length;
    const v = m.add(req('tiny-Q4_K_M.gguf', hf.embed));
    const end = await settled(m, v.id);
    const { state, error } = (end as { download: DownloadView }).download;
    expect(state).toBe('paused');
    expect(error?.code).toBe('disk_full');
    expect(error?.message).toContain(`needs ${hf.embed.length} bytes free on the disk of ${models}`);
    expect(hf.server.log.length).toBe(requests);
    expect(fs.readdirSync(models)).toEqual([]);
  });

  test('the disk fills up mid-download: paused with disk_full naming the folder, the .part kept, no retries; space freed → resume goes on from that byte', async () => {
    const file = 'tiny-Q2_K.gguf';
    // the size-limit hook: free space is plenty until the watch has run a few times, then 1000 bytes
    let free = Number.MAX_SAFE_INTEGER;
    let checks = 0;
    const diskCheckBytes = 256 * 1024;
    const m = open({
      diskCheckBytes,
      freeBytes: async () => {
        if (++checks === 4) free = 1000;
        return free;
      },
    });
    // the hub's log is the suite's: this test's requests are those after `before`
    const before = hf.server.cdnLog('hearth/tiny-GGUF', file).length;
    const v = m.add(req(file, hf.spm));
    const end = await settled(m, v.id);
    expect(end.type).toBe('state');
    const paused = (end as { download: DownloadView }).download;
    expect(paused.state).toBe('paused');
    expect(paused.error?.code).toBe('disk_full');
    expect(paused.error?.message).toContain(models);
    expect(store.downloads.get(v.id)).toMatchObject({ state: 'paused', error: { code: 'disk_full' } });
    // stopped at the 3rd watch after the start's check: at least 3 × diskCheckBytes written, all kept
    const part = path.join(models, `${file}.part`);
    const kept = fs.statSync(part).size;
    expect(kept).toBe(paused.bytes);
    expect(kept).toBeGreaterThanOrEqual(3 * diskCheckBytes);
    expect(kept).toBeLessThan(hf.spm.length);
    expect(fs.readFileSync(part).equals(hf.spm.subarray(0, kept))).toBe(true);
    expect(fs.readdirSync(models)).toEqual([`${file}.part`]);
    // no retry: a full disk waits for the user
    expect(events.some((e) => e.type === 'retry')).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(hf.server.cdnLog('hearth/tiny-GGUF', file)).toHaveLength(before + 1);

    free = Number.MAX_SAFE_INTEGER;
    m.resume(v.id);
    const done = await settled(m, v.id);
    expect(done).toMatchObject({ type: 'done', path: path.join(models, file) });
    const cdn = hf.server.cdnLog('hearth/tiny-GGUF', file).slice(before);
    expect(cdn).toHaveLength(2);
    expect(cdn[0].range).toBeNull();
    expect(cdn[1].rangeStart).toBe(kept);
    expect(cdn[1].status).toBe(206);
    expect(sha(fs.readFileSync(path.join(models, file)))).toBe(sha(hf.spm));
    expect(store.downloads.list()).toEqual([]);
  });

  test('a real ENOSPC on write (the .part is /dev/full): paused with disk_full naming the folder, not retried', async () => {
    const file = 'tiny-Q4_K_M.gguf';
    const target = path.join(models, file);
    // a download the store holds as waiting (as after a restart) whose .part is the kernel's always-full device
    const rec = store.downloads.add({ repo: 'hearth/tiny-GGUF', revision: 'main', file, target, size: hf.embed.length, sha256: sha(hf.embed) });
    store.downloads.setState(rec.id, 'queued');
    fs.symlinkSync('/dev/full', `${target}.part`);
    const m = open();
    const end = settled(m, rec.id);
    await m.restore();
    const { state, error } = ((await end) as { download: DownloadView }).download;
    expect(state).toBe('paused');
    expect(error).toEqual({ code: 'disk_full', message: `the disk of ${models} is full at byte 0 of ${file}` });
    expect(events.some((e) => e.type === 'retry')).toBe(false);
    expect(fs.existsSync(target)).toBe(false);
  });
});
