/**
 * Fit verdicts for files on the hub from their headers alone (main/models/remote-fit.ts): the header
 * read with HTTP Range requests from a local Hugging Face hub (test/helpers/hf-server.ts) serving real
 * generated GGUF files, a header-only file estimated by llama.cpp through the real engine host, and
 * the same estimate made again on the file once downloaded. No internet.
 */
import fs from 'fs';
import path from 'path';
import type { EngineClient } from '../../main/engine/client';
import type { Estimate } from '../../main/engine/protocol';
import { DownloadManager } from '../../main/models/downloads';
import { HubClient, type HubQuantFile } from '../../main/models/hub';
import { bestFit, FIT_VERDICTS, readRemoteHeader, remoteFit, REMOTE_CHUNK } from '../../main/models/remote-fit';
import { readGgufHeader } from '../../main/gguf/read';
import { Store } from '../../main/store';
import { errorOf, makeEngine } from '../helpers/engine';
import { TINY_HUB_REPO, tinyHubRepo } from '../helpers/hf-server';
import { sha, useLocalHub } from '../helpers/local-hub';
import { TINY_SPM } from '../helpers/models';

const TOKEN = 'hf_test_token';
const REPO = TINY_HUB_REPO;
const hf = useLocalHub('hearth-remote-fit-', ({ spm, embed }) => ({
  token: TOKEN,
  repos: [
    tinyHubRepo(spm, embed),
    { id: 'meta/gated-GGUF', gated: true, files: [{ path: 'gated-Q4_0.gguf', data: spm }] },
  ],
}));
let engine: EngineClient;

beforeAll(() => {
  engine = makeEngine();
});

afterAll(async () => {
  await engine?.close();
});

async function model(repo: string, name: string, token?: string): Promise<HubQuantFile> {
  const groups = await new HubClient({ hubUrl: hf.server.url, ...(token ? { token } : {}) }).ggufFiles(repo);
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
  const before = hf.server.log.length;
  const r = await readRemoteHeader({ hubUrl: hf.server.url }, REPO, 'tiny-Q8_0.gguf', hf.spm.length);
  const local = await readGgufHeader(TINY_SPM);
  expect(r.header.dataOffset).toBe(local.dataOffset);
  expect(r.header.tensors.map((t) => [t.name, t.typeName, t.nBytes])).toEqual(local.tensors.map((t) => [t.name, t.typeName, t.nBytes]));
  expect(r.bytes.equals(hf.spm.subarray(0, r.bytes.length))).toBe(true);
  const cdn = hf.server.log.slice(before).filter((e) => e.path.startsWith('/cdn/'));
  // every request to the bytes asked for a range and got one (206), none the whole file
  expect(cdn.length).toBe(r.count.requests);
  expect(cdn.every((e) => e.status === 206 && e.range !== null)).toBe(true);
  expect(cdn.reduce((s, e) => s + e.bytesSent, 0)).toBe(r.count.bytes);
  expect(r.count.bytes).toBeLessThanOrEqual(r.header.dataOffset + REMOTE_CHUNK);
  expect(r.count.bytes).toBeLessThan(hf.spm.length / 4);
});

test('a verdict from the header alone; llama.cpp’s estimate of the header-only file equals its estimate of the file once downloaded', async () => {
  const m = await model(REPO, 'tiny-Q8_0.gguf');
  const before = hf.server.log.length;
  const fit = await remoteFit(engine, REPO, m, { hub: { hubUrl: hf.server.url }, params: { contextSize: 2048 }, tmpDir: hf.dir });
  const cdn = hf.server.log.slice(before).filter((e) => e.path.startsWith('/cdn/'));
  const fetchedBytes = cdn.reduce((s, e) => s + e.bytesSent, 0);
  expect(FIT_VERDICTS).toContain(fit.verdict);
  // this machine's devices decide the verdict: without a GPU a model this small runs on the CPU
  if (fit.estimate.devices.every((d) => d.type !== 'gpu' && d.type !== 'igpu')) expect(fit.verdict).toBe('cpu-only');
  expect(fit.fetched.bytes).toBe(fetchedBytes);
  expect(fit.estimate.host.model + fit.estimate.devices.reduce((s, d) => s + d.model, 0)).toBeGreaterThan(0);
  // the temporary header-only file is gone
  expect(fs.readdirSync(hf.dir)).toEqual([]);
  process.stdout.write(`${JSON.stringify({ remoteFitFetch: { file: `${REPO}/tiny-Q8_0.gguf`, fileBytes: hf.spm.length, headerBytes: fit.headerBytes, requests: fit.fetched.requests, bytesFetched: fetchedBytes, verdict: fit.verdict } })}\n`);

  // the same file downloaded through the download manager, then estimated with the same parameters
  const store = Store.open(path.join(hf.dir, 'hearth.db'));
  const models = path.join(hf.dir, 'models');
  fs.mkdirSync(models);
  const dm = new DownloadManager({ downloads: store.downloads, modelsDir: models, hub: { hubUrl: hf.server.url }, reserveBytes: 0 });
  try {
    const done = new Promise<string>((resolve, reject) => dm.on((e) => {
      if (e.type === 'done') resolve(e.path);
      if (e.type === 'state' && e.download.state === 'failed') reject(new Error(e.download.error?.message));
    }));
    dm.add({ repo: REPO, file: 'tiny-Q8_0.gguf', sha256: sha(hf.spm), size: hf.spm.length });
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
    fs.rmSync(path.join(hf.dir, 'hearth.db'), { force: true });
    for (const f of fs.readdirSync(hf.dir)) fs.rmSync(path.join(hf.dir, f), { recursive: true, force: true });
  }
});

test('the best fit is the largest model that fits, projectors aside; it stops once nothing smaller can do better', async () => {
  const models = (await new HubClient({ hubUrl: hf.server.url }).ggufFiles(REPO)).flatMap((g) => g.files);
  expect(models.some((m) => m.projector)).toBe(true);
  const { best, tried } = await bestFit(engine, REPO, models, { hub: { hubUrl: hf.server.url }, params: { contextSize: 2048 } });
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
  const e = await errorOf(remoteFit(engine, REPO, m, { hub: { hubUrl: hf.server.url, fetch: noRange } }));
  expect(e.code).toBe('hub_bad_response');
  expect(e.message).toMatch(/asked for a byte range, the hub answered 200/);

  const gated = await model('meta/gated-GGUF', 'gated-Q4_0.gguf', TOKEN);
  expect((await errorOf(remoteFit(engine, 'meta/gated-GGUF', gated, { hub: { hubUrl: hf.server.url } }))).code).toBe('hub_unauthorized');
  const ok = await remoteFit(engine, 'meta/gated-GGUF', gated, { hub: { hubUrl: hf.server.url, token: TOKEN }, params: { contextSize: 2048 } });
  expect(FIT_VERDICTS).toContain(ok.verdict);
});
