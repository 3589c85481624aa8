/**
 * Fit verdicts for files on the hub from their headers alone (main/models/remote-fit.ts): the header
 * read with HTTP Range requests from a local Hugging Face hub (test/helpers/hf-server.ts) serving real
 * generated GGUF files, a header-only file estimated by llama.cpp through the real engine host, and
 * the same estimate made again on the file once downloaded. No internet.
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import type { EngineClient } from '../../main/engine/client';
import type { Estimate } from '../../main/engine/protocol';
import { DownloadManager } from '../../main/models/downloads';
import { HubClient, type HubQuantFile } from '../../main/models/hub';
import { bestFit, FIT_VERDICTS, readRemoteHeader, remoteFit, REMOTE_CHUNK } from '../../main/models/remote-fit';
import { readGgufHeader } from '../../main/gguf/read';
import { Store } from '../../main/store';
import { errorOf, makeEngine, tempDir } from '../helpers/engine';
import { startHfServer, TINY_HUB_REPO, tinyHubRepo, type HfServer } from '../helpers/hf-server';
import { TINY_EMBED, TINY_SPM } from '../helpers/models';

const TOKEN = 'hf_test_token';
const REPO = TINY_HUB_REPO;
let server: HfServer;
let engine: EngineClient;
let spm: Buffer;
let embed: Buffer;
let dir: string;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  spm = fs.readFileSync(TINY_SPM);
  embed = fs.readFileSync(TINY_EMBED);
  server = await startHfServer({
    token: TOKEN,
    repos: [
      tinyHubRepo(spm, embed),
      { id: 'meta/gated-GGUF', gated: true, files: [{ path: 'gated-Q4_0.gguf', data: spm }] },
    ],
  });
  engine = makeEngine();
  dir = tempDir('hearth-remote-fit-');
});

afterAll(async () => {
  await engine?.close();
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function model(repo: string, name: string, token?: string): Promise<HubQuantFile> {
  const groups = await new HubClient({ hubUrl: server.url, ...(token ? { token } : {}) }).ggufFiles(repo);
  return groups.flatMap((g) => g.files).find((f) => f.name === name)!;
}

/** Each figure of `remote` minus the same figure of `local`, per device and for the host. */
function difference(remote: Estimate, local: Estimate) {
  const parts = (e: Estimate) => [...e.devices.map((d) => ({ device: d.name, model: d.model, context: d.context, compute: d.compute })),
    { device: 'host', model: e.host.model, context: e.host.context, compute: e.host.compute }];
  const l = parts(local);
  return parts(remote).map((r, i) => ({ device: r.device, model: r.model - l[i].model, context: r.context - l[i].context, compute: r.compute - l[i].compute }));
}

test('the header comes from Range requests of a few hundred KB, parsed by the project’s reader, equal to the local header', async () => {
  const before = server.log.length;
  const r = await readRemoteHeader({ hubUrl: server.url }, REPO, 'tiny-Q8_0.gguf', spm.length);
  const local = await readGgufHeader(TINY_SPM);
  expect(r.header.dataOffset).toBe(local.dataOffset);
  expect(r.header.tensors.map((t) => [t.name, t.typeName, t.nBytes])).toEqual(local.tensors.map((t) => [t.name, t.typeName, t.nBytes]));
  expect(r.bytes.equals(spm.subarray(0, r.bytes.length))).toBe(true);
  const cdn = server.log.slice(before).filter((e) => e.path.startsWith('/cdn/'));
  // every request to the bytes asked for a range and got one (206), none the whole file
  expect(cdn.length).toBe(r.count.requests);
  expect(cdn.every((e) => e.status === 206 && e.range !== null)).toBe(true);
  expect(cdn.reduce((s, e) => s + e.bytesSent, 0)).toBe(r.count.bytes);
  expect(r.count.bytes).toBeLessThanOrEqual(r.header.dataOffset + REMOTE_CHUNK);
  expect(r.count.bytes).toBeLessThan(spm.length / 4);
});

test('a verdict from the header alone; llama.cpp’s estimate of the header-only file equals its estimate of the file once downloaded', async () => {
  const m = await model(REPO, 'tiny-Q8_0.gguf');
  const before = server.log.length;
  const fit = await remoteFit(engine, REPO, m, { hub: { hubUrl: server.url }, params: { contextSize: 2048 }, tmpDir: dir });
  const cdn = server.log.slice(before).filter((e) => e.path.startsWith('/cdn/'));
  const fetchedBytes = cdn.reduce((s, e) => s + e.bytesSent, 0);
  expect(FIT_VERDICTS).toContain(fit.verdict);
  // this machine's devices decide the verdict: without a GPU a model this small runs on the CPU
  if (fit.estimate.devices.every((d) => d.type !== 'gpu' && d.type !== 'igpu')) expect(fit.verdict).toBe('cpu-only');
  expect(fit.fetched.bytes).toBe(fetchedBytes);
  expect(fit.estimate.host.model + fit.estimate.devices.reduce((s, d) => s + d.model, 0)).toBeGreaterThan(0);
  // the temporary header-only file is gone
  expect(fs.readdirSync(dir)).toEqual([]);
  process.stdout.write(`${JSON.stringify({ remoteFitFetch: { file: `${REPO}/tiny-Q8_0.gguf`, fileBytes: spm.length, headerBytes: fit.headerBytes, requests: fit.fetched.requests, bytesFetched: fetchedBytes, verdict: fit.verdict } })}\n`);

  // the same file downloaded through the download manager, then estimated with the same parameters
  const store = Store.open(path.join(dir, 'hearth.db'));
  const models = path.join(dir, 'models');
  fs.mkdirSync(models);
  const dm = new DownloadManager({ downloads: store.downloads, modelsDir: models, hub: { hubUrl: server.url }, reserveBytes: 0 });
  try {
    const done = new Promise<string>((resolve, reject) => dm.on((e) => {
      if (e.type === 'done') resolve(e.path);
      if (e.type === 'state' && e.download.state === 'failed') reject(new Error(e.download.error?.message));
    }));
    dm.add({ repo: REPO, file: 'tiny-Q8_0.gguf', sha256: sha(spm), size: spm.length });
    const file = await done;
    const local = await engine.estimate(file, { contextSize: fit.contextSize, gpuLayers: fit.gpuLayers });
    const diff = difference(fit.estimate, local);
    process.stdout.write(`${JSON.stringify({ remoteVsLocalEstimate: { contextSize: fit.contextSize, gpuLayers: fit.gpuLayers, differenceBytes: diff } })}\n`);
    expect(local.layers).toBe(fit.layers);
    for (const d of diff) expect([d.model, d.context, d.compute]).toEqual([0, 0, 0]);
  } finally {
    await dm.close();
    store.close();
    fs.rmSync(models, { recursive: true, force: true });
    fs.rmSync(path.join(dir, 'hearth.db'), { force: true });
    for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  }
});

test('the best fit is the largest model that fits, projectors aside; it stops once nothing smaller can do better', async () => {
  const models = (await new HubClient({ hubUrl: server.url }).ggufFiles(REPO)).flatMap((g) => g.files);
  expect(models.some((m) => m.projector)).toBe(true);
  const { best, tried } = await bestFit(engine, REPO, models, { hub: { hubUrl: server.url }, params: { contextSize: 2048 } });
  expect(best?.name).toBe('tiny-Q8_0.gguf');
  expect(tried[0].name).toBe('tiny-Q8_0.gguf');
  expect(tried.some((t) => t.name.startsWith('mmproj'))).toBe(false);
});

test('a hub that ignores the Range (200, the whole file) is refused, not downloaded; a gated file needs the token', async () => {
  const m = await model(REPO, 'tiny-Q4_K_M.gguf');
  // a fetch that drops the Range header stands for a server that ignores it
  const noRange: typeof fetch = (input, init) => {
    const headers = { ...(init?.headers as Record<string, string>) };
    delete headers.Range;
    return fetch(input, { ...init, headers });
  };
  const e = await errorOf(remoteFit(engine, REPO, m, { hub: { hubUrl: server.url, fetch: noRange } }));
  expect(e.code).toBe('hub_bad_response');
  expect(e.message).toMatch(/asked for a byte range, the hub answered 200/);

  const gated = await model('meta/gated-GGUF', 'gated-Q4_0.gguf', TOKEN);
  expect((await errorOf(remoteFit(engine, 'meta/gated-GGUF', gated, { hub: { hubUrl: server.url } }))).code).toBe('hub_unauthorized');
  const ok = await remoteFit(engine, 'meta/gated-GGUF', gated, { hub: { hubUrl: server.url, token: TOKEN }, params: { contextSize: 2048 } });
  expect(FIT_VERDICTS).toContain(ok.verdict);
});
