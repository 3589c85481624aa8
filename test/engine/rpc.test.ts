/**
 * Remote devices (llama.cpp's RPC backend): two real rpc-server processes on loopback (started here on
 * free ports, killed after), the real engine host registering them, a tiny model split across the
 * local CPU and both of them. Every wait is bounded.
 */
import net from 'net';
import { EngineClient } from '../../main/engine/client';
import { probeRpc, RPC_PROTOCOL, rpcLostLine } from '../../main/engine/rpc';
import { inAddon } from '../helpers/addon';
import { errorOf, makeEngine, untilValue } from '../helpers/engine';
import { TINY_BPE, TINY_PROJECTOR, TINY_SPM } from '../helpers/models';
import { RpcServer, startRpcServer, freePort } from '../helpers/rpc';

jest.setTimeout(120_000);

let a: RpcServer;
let b: RpcServer;
let local: EngineClient;
let remote: EngineClient;

/** the tiny model has 2 blocks: both go to the remote devices (one each), the embeddings and the output stay on the CPU */
const SPLIT = { contextSize: 2048, threads: 2, gpuLayers: 2, tensorSplit: [1, 1] };
const GREEDY = { prompt: 'Once upon a time', maxTokens: 32, ignoreEos: true, sampling: { temperature: 0, seed: 42 } } as const;

beforeAll(async () => {
  [a, b] = await Promise.all([startRpcServer(), startRpcServer()]);
  local = makeEngine();
  remote = makeEngine({}, undefined, { rpcServers: [a.endpoint, b.endpoint] });
});

afterAll(async () => {
  await Promise.all([local?.close(), remote?.close()]);
  await Promise.all([a?.kill(), b?.kill()]);
});

describe('remote devices over RPC', () => {
  test('the addon speaks the protocol the client probes with', async () => {
    const proto = await inAddon<{ major: number; minor: number }>('return addon.rpcProtocol;');
    expect(proto.major).toBe(RPC_PROTOCOL.major);
    expect(proto.minor).toBe(RPC_PROTOCOL.minor);
  });

  test('the rpc-servers are listed as devices with their memory, by endpoint', async () => {
    const devices = await remote.devices();
    const rpc = devices.filter((d) => d.backend === 'RPC');
    expect(rpc.map((d) => d.description).sort()).toEqual([a.endpoint, b.endpoint].sort());
    for (const d of rpc) {
      expect(d.type).toBe('gpu');
      expect(d.memoryTotal).toBeGreaterThan(0);
      expect(d.memoryFree).toBeGreaterThan(0);
      expect(d.memoryFree).toBeLessThanOrEqual(d.memoryTotal);
    }
    expect(devices.some((d) => d.type === 'cpu')).toBe(true);
    expect(remote.rpcServers).toEqual([
      { endpoint: a.endpoint, ok: true, devices: 1 },
      { endpoint: b.endpoint, ok: true, devices: 1 },
    ]);
    // the local engine, given none, has none
    expect((await local.devices()).filter((d) => d.backend === 'RPC')).toEqual([]);
  });

  test('the estimate puts layers on the remote devices', async () => {
    const est = await remote.estimate(TINY_SPM, SPLIT);
    const rpc = est.devices.filter((d) => d.backend === 'RPC');
    expect(rpc).toHaveLength(2);
    for (const d of rpc) expect(d.model).toBeGreaterThan(0);
    // nothing offloaded: nothing remote
    const none = await remote.estimate(TINY_SPM, { ...SPLIT, gpuLayers: 0 });
    for (const d of none.devices.filter((x) => x.backend === 'RPC')) expect(d.model).toBe(0);
  });

  test("a vision projector stays on this machine when the model's layers go to the rpc-servers (llama.cpp lists them first)", async () => {
    const params = { ...SPLIT, mmproj: TINY_PROJECTOR };
    const est = await remote.estimate(TINY_BPE, params);
    const rpc = est.devices.filter((d) => d.backend === 'RPC');
    expect(rpc.every((d) => d.model > 0)).toBe(true);
    for (const d of rpc) expect(d.projector).toBe(0);
    expect(est.host.projector).toBeGreaterThan(0); // no local GPU here: system RAM
    await remote.load('vision', TINY_BPE, params);
    const mem = await remote.memory('vision');
    for (const d of mem.devices.filter((x) => x.backend === 'RPC')) expect(d.projector).toBe(0);
    expect(mem.host.projector).toBe(est.host.projector);
    await remote.unload('vision');
  });

  test('a model split across the local CPU and both rpc-servers gives the same seeded greedy output as a local load', async () => {
    await local.load('m', TINY_SPM, { contextSize: 2048, threads: 2, gpuLayers: 0 });
    await remote.load('m', TINY_SPM, SPLIT);
    const mem = await remote.memory('m');
    const weights = Object.fromEntries(mem.devices.map((d) => [d.description, d.model]));
    expect(weights[a.endpoint]).toBeGreaterThan(0);
    expect(weights[b.endpoint]).toBeGreaterThan(0);
    expect(mem.host.model).toBeGreaterThan(0); // the embeddings and the output, on this machine
    const want = await local.complete('m', GREEDY);
    const got = await remote.complete('m', GREEDY);
    expect(want.tokens).toHaveLength(32);
    expect(got.tokens).toEqual(want.tokens);
    expect(got.text).toBe(want.text);
    // and a seeded sampled one
    const sampled = { ...GREEDY, sampling: { temperature: 0.8, topK: 40, seed: 7 } };
    expect((await remote.complete('m', sampled)).tokens).toEqual((await local.complete('m', sampled)).tokens);
  });

  test('an endpoint that refuses, and one that is no rpc-server, are left out with a clear reason; the engine runs without them', async () => {
    const closed = await freePort();
    // a TCP listener that accepts and never answers (not an rpc-server)
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const silentEp = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const e = makeEngine({}, undefined, { rpcServers: [`127.0.0.1:${closed}`, silentEp], rpcProbeTimeoutMs: 1000 });
    try {
      await e.start();
      const [refused, mute] = e.rpcServers;
      expect(refused).toEqual({ endpoint: `127.0.0.1:${closed}`, ok: false, error: `the RPC server at 127.0.0.1:${closed} refused the connection (is rpc-server running there?)` });
      expect(mute.ok).toBe(false);
      expect(!mute.ok && mute.error).toMatch(new RegExp(`^the RPC server at ${silentEp} accepted the connection but did not answer within 1 s`));
      expect((await e.devices()).filter((d) => d.backend === 'RPC')).toEqual([]);
      // and the engine works
      await e.load('m', TINY_SPM, { contextSize: 256, threads: 2 });
      expect((await e.complete('m', { ...GREEDY, maxTokens: 4 })).tokens).toHaveLength(4);
    } finally {
      await e.close();
      silent.close();
    }
  });

  test('an rpc-server that vanishes mid-generation: the request fails naming it, the engine restarts without it and goes on', async () => {
    await remote.load('v', TINY_SPM, SPLIT);
    let pieces = 0;
    const gen = remote.complete('v', { prompt: 'Tell me a very long story:', maxTokens: 1900, ignoreEos: true, sampling: { temperature: 0, seed: 1 } }, { onPiece: () => pieces++ });
    const failed = errorOf(gen);
    await untilValue(() => pieces > 0, 'the first piece', 60_000);
    const oldPid = remote.pid;
    await b.kill();
    const err = await failed;
    expect(err.code).toBe('engine_crashed');
    expect(err.message).toContain(`remote device lost: the RPC server at ${b.endpoint} stopped answering`);
    expect(rpcLostLine(`x\nhearth: remote device lost: the RPC server at ${b.endpoint} stopped answering\n`)).toBe(`remote device lost: the RPC server at ${b.endpoint} stopped answering`);
    // the supervisor restarts the host; it probes again and leaves the lost server out
    await untilValue(() => remote.pid !== undefined && remote.pid !== oldPid, 'a new engine host', 60_000);
    const devices = await remote.devices();
    expect(devices.filter((d) => d.backend === 'RPC').map((d) => d.description)).toEqual([a.endpoint]);
    expect(remote.rpcServers[1]).toEqual({ endpoint: b.endpoint, ok: false, error: `the RPC server at ${b.endpoint} refused the connection (is rpc-server running there?)` });
    // the engine serves again: the model loads on what is left (the CPU and the remaining server)
    await remote.unload('v');
    await remote.load('m2', TINY_SPM, { contextSize: 256, threads: 2, gpuLayers: 2 });
    expect((await remote.complete('m2', { ...GREEDY, maxTokens: 4 })).tokens).toHaveLength(4);
    expect((await probeRpc(b.endpoint, 1000)).ok).toBe(false);
  });
});
