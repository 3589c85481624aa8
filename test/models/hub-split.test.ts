/**
 * A model split over two files on the hub (gguf-split's `-00001-of-00002` names), end to end through
 * IPC as composeApp builds the app: hub.files lists it as one model, hub.fit's verdict reads only
 * the parts' headers and equals models.estimate of the files once downloaded, each part downloads
 * through the manager, the library lists the parts as one model, and it loads and answers.
 * Real HTTP on loopback (test/helpers/hf-server.ts), the real engine; no double.
 */
import fs from 'fs';
import type { EventName } from '../../main/ipc/contract';
import { chatApp, nextDone, type ChatApp } from '../helpers/chat';
import { tempDir, untilValue } from '../helpers/engine';
import { sha, useLocalHub } from '../helpers/local-hub';
import { TINY_SPM, writeSplitModel } from '../helpers/models';

jest.setTimeout(120_000);

const REPO = 'hearth/split-GGUF';
const parts: Buffer[] = [];
// before the hub starts (beforeAll hooks run in the order registered): the split files it serves
beforeAll(async () => {
  const dir = tempDir('hearth-hub-split-src-');
  try {
    for (const f of await writeSplitModel(TINY_SPM, dir, 'tiny-split-Q8_0', 2)) parts.push(fs.readFileSync(f));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
const hf = useLocalHub('hearth-hub-split-', () => ({
  repos: [{ id: REPO, files: parts.map((data, i) => ({ path: `Q8_0/tiny-split-Q8_0-0000${i + 1}-of-00002.gguf`, data })) }],
}));

let a: ChatApp;
afterAll(async () => {
  await a?.close();
});

test('a split model: one entry on the hub, a verdict from its headers, both parts downloaded, one model in the library that loads and answers', async () => {
  a = chatApp({ model: null, compose: { env: { HF_ENDPOINT: hf.server.url } } });
  a.setChatDefaults({ maxTokens: 4 });
  const seen: EventName[] = [];
  a.app.services.subscribe((name) => seen.push(name));
  const total = parts[0].length + parts[1].length;

  const files = await a.call('hub.files', { repo: REPO });
  expect(files.groups).toHaveLength(1);
  const [model] = files.groups[0].files;
  expect(model).toMatchObject({ name: 'tiny-split-Q8_0.gguf', quant: 'Q8_0', size: total, projector: false });
  expect(model.parts.map((p: { path: string; sha256: string }) => [p.path, p.sha256])).toEqual(parts.map((d, i) => [`Q8_0/tiny-split-Q8_0-0000${i + 1}-of-00002.gguf`, sha(d)]));

  // the verdict reads each part's header (a few hundred KB at most), not the tensor data
  const fit = await a.call('hub.fit', { repo: REPO, file: model.parts[0].path });
  expect(fit).toMatchObject({ verdict: 'cpu-only', size: total, quant: 'Q8_0' });
  expect(fit.fetched.requests).toBeGreaterThanOrEqual(2);
  expect(fit.fetched.bytes).toBeLessThan(total);

  // each part through the download manager (what the hub page's Download does)
  const ds = [];
  for (const p of model.parts) ds.push(await a.call('downloads.add', { repo: REPO, file: p.path, sha256: p.sha256, size: p.size }));
  await untilValue(async () => (await a.call('downloads.list')).length === 0, 'both parts downloaded');
  for (const [i, d] of ds.entries()) expect(sha(fs.readFileSync(d.target))).toBe(sha(parts[i]));

  // one model in the library: the first part's path, the parts' sizes summed
  const listed = await untilValue(async () => {
    const ms = await a.call('models.list');
    return ms.length === 1 && ms[0].fileSize === total ? ms : undefined;
  }, 'the split model in the library');
  expect(listed).toEqual([{ path: ds[0].target, name: 'tiny-split-Q8_0', fileSize: total, origin: 'folder', source: null, missing: false, pooling: 'none', role: 'model' }]);
  expect(seen).toContain('models.changed');

  // the remote verdict's estimate is the local one's, byte for byte
  const local = await a.call('models.estimate', { path: ds[0].target, settings: { contextSize: fit.contextSize, gpuLayers: fit.gpuLayers } });
  const figures = (e: { devices: { name: string; model: number; context: number; compute: number }[]; host: { model: number; context: number; compute: number } }) =>
    [...e.devices.map((x) => [x.name, x.model, x.context, x.compute]), ['host', e.host.model, e.host.context, e.host.compute]];
  expect(figures(fit.estimate)).toEqual(figures(local));
  process.stdout.write(`${JSON.stringify({ splitFit: { size: total, fetched: fit.fetched, verdict: fit.verdict, host: figures(fit.estimate).pop() } })}\n`);

  await a.call('models.load', { path: ds[0].target, force: true });
  const thread = await a.call('threads.create', { modelPath: ds[0].target });
  const reply = nextDone(a.app, thread.id);
  await a.call('chat.send', { threadId: thread.id, content: 'Hello' });
  const message = await reply;
  expect(message.status).toBe('done');
  expect(message.metrics!.generatedTokens).toBeGreaterThan(0);
});
