/**
 * npm run bench:rpc -- [--model PATH | --size bench|1b [--type f16|q8_0|…]] [--threads N] [--reps 8] [--pp 256] [--offload N]
 *
 * The RPC backend's overhead: a model split three ways (the local CPU and two rpc-servers on loopback,
 * a third of the layers each) against the same model loaded locally only, both through the app's path
 * (EngineClient → host process → addon), in runs paired and alternated. On one machine the three parts
 * run one after another (a layer split is a pipeline), so the ratio is what the protocol costs: the
 * activations sent over TCP at each boundary, and each graph's round trips. Prints one JSON object:
 * generation (128 tokens) and prompt (--pp tokens) tok/s, split ÷ local with a 95% interval of the
 * median ratio.
 */
import { EngineClient } from '../main/engine/client';
import { RpcServer, startRpcServer } from '../test/helpers/rpc';
import { ensureModel, inTurn, log, median, medianInterval } from './common';
import { arg, intArg, MODEL_OPTIONS, threadsArg, useOptions } from './options';

useOptions('bench:rpc', { ...MODEL_OPTIONS, threads: 'value', reps: 'value', pp: 'value', offload: 'value' });
const threads = threadsArg();
const reps = intArg('reps', 8, 1, 1000); // even: each side first as often
const ppTokens = intArg('pp', 256, 1, 2048);
/** --offload N: the blocks sent to the rpc-servers (checked against the model's blocks once it is read) */
const offloadArg = arg('offload') !== undefined ? intArg('offload', 0, 2) : undefined;

async function main(): Promise<void> {
  const model = await ensureModel(threads);
  const servers: RpcServer[] = [];
  const engines: EngineClient[] = [];
  try {
    servers.push(...(await Promise.all([startRpcServer({ threads }), startRpcServer({ threads })])));
    const local = new EngineClient({ rpcServers: [] });
    const split = new EngineClient({ rpcServers: servers.map((s) => s.endpoint) });
    engines.push(local, split);
    const meta = await local.info(model);
    // a third of the blocks on each rpc-server, the rest (and the output) on this machine's CPU
    // (--offload N: N blocks to the rpc-servers instead, e.g. all of a 2-block test model's)
    const offloaded = offloadArg ?? Math.round((meta.layers * 2) / 3);
    // an error, not refuse(): the rpc-servers are running, and the finally below stops them
    if (offloaded < 2 || offloaded > meta.layers) throw new Error(`--offload must be an integer from 2 to ${meta.layers} (the model's blocks; got ${offloaded})`);
    const common = { threads, threadsBatch: threads, contextSize: Math.ceil((ppTokens + 130) / 256) * 256, batchSize: 2048, ubatchSize: 512 };
    await local.load('m', model, { ...common, gpuLayers: 0 });
    await split.load('m', model, { ...common, gpuLayers: offloaded, tensorSplit: [1, 1] });
    const mem = await split.memory('m');
    const placement = [
      { device: 'CPU (this process)', weights: mem.host.model },
      ...mem.devices.map((d) => ({ device: `${d.name} ${d.description}`, weights: d.model })),
    ];
    log(`split: ${placement.map((p) => `${p.device} ${(p.weights / 2 ** 20).toFixed(1)} MiB`).join(', ')}`);
    const prompt = Array.from({ length: ppTokens }, (_, i) => 100 + ((i * 7919) % (meta.vocabSize - 200)));
    const tg = async (e: EngineClient) => {
      await e.clearSequence('m');
      return (await e.complete('m', { prompt: [1], maxTokens: 129, ignoreEos: true, sampling: { temperature: 0 } })).timings.genTps;
    };
    const pp = async (e: EngineClient) => {
      await e.clearSequence('m');
      return (await e.complete('m', { prompt, maxTokens: 1, ignoreEos: true, sampling: { temperature: 0 } })).timings.promptTps;
    };
    // warm-up, and the same greedy tokens on both (the split computes what the local load computes)
    const [wl, ws] = [await local.complete('m', { prompt: [1], maxTokens: 16, ignoreEos: true, sampling: { temperature: 0 } }), await split.complete('m', { prompt: [1], maxTokens: 16, ignoreEos: true, sampling: { temperature: 0 } })];
    const sameOutput = JSON.stringify(wl.tokens) === JSON.stringify(ws.tokens);
    const pairs = async (run: (e: EngineClient) => Promise<number>) => {
      const [l, s] = await inTurn(reps, () => run(local), () => run(split), (i, x, y) => log(`  pair ${i + 1}/${reps}: local ${x.toFixed(1)} tok/s, split ${y.toFixed(1)} tok/s`));
      const ratios = s.map((x, i) => x / l[i]);
      const [lo, hi] = medianInterval(ratios);
      const r3 = (x: number) => Math.round(x * 1000) / 1000;
      return { local_tps: r3(median(l)), split_tps: r3(median(s)), ratio: r3(median(ratios)), interval95: [r3(lo), r3(hi)] };
    };
    log('generation (128 tokens)');
    const generation = await pairs(tg);
    log(`prompt (${ppTokens} tokens)`);
    const promptRes = await pairs(pp);
    process.stdout.write(
      JSON.stringify(
        {
          bench: 'rpc',
          model,
          layers: meta.layers,
          parameters: meta.parameters,
          threads,
          reps,
          split: { offloadedLayers: offloaded, rpcServers: servers.map((s) => s.endpoint), placement },
          same_greedy_output: sameOutput,
          generation,
          prompt: { tokens: ppTokens, ...promptRes },
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    await Promise.all(engines.map((e) => e.close()));
    await Promise.all(servers.map((s) => s.kill()));
  }
}

main().catch((e: Error) => {
  log(`bench:rpc failed: ${e.message}`);
  process.exit(1);
});
