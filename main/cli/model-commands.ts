/**
 * The commands that ask the engine about one model: info, run and fit (main/cli/hearth.ts dispatches),
 * with the options they share (--ctx, --gpu-layers, adapters, speculative decoding).
 */
import path from 'path';
import type { EngineClient } from '../engine/client';
import { CompletionRequest, CONTEXT_STEP, contextSizeUsed, FILE_TYPE_NAMES, LoadParams, LoadParamsInput, MAX_CONTEXT_SIZE } from '../engine/protocol';
import { CPU_ONLY, gpuDevices, planLoad } from '../models/fit';
import { memoryNeed, poorDraftAcceptance, poorDraftAdvice, usesDraftModel, type AdapterEntry } from '../params';
import { intFlag, numFlag, type ParsedArgs, spelling, UsageError } from './args';
import { checkFlags } from './errors';
import { handPlacedExperts, OFFLOAD_FLAG_OF, offloadFlags } from './offload-flags';
import { checkCompanionFile } from './model-arg';
import { SPEC_FLAG_OF, speculativeFlags } from './speculative-flags';

export interface ModelCommandContext {
  parsed: ParsedArgs;
  engine: EngineClient;
  /** the MODEL argument: a path, or a library model's name */
  modelArg: () => Promise<string | undefined>;
}

/** the option that sets each field the engine checks (its words name the option, not the field) */
const FLAG_OF: Record<string, string> = {
  contextSize: 'ctx',
  threads: 'threads',
  gpuLayers: 'gpu-layers',
  cacheTypeK: 'cache-type',
  cacheTypeV: 'cache-type',
  fitMarginMiB: 'margin',
  loraAdapters: 'lora',
  controlVectors: 'control-vector',
  mmproj: 'mmproj',
  prompt: 'prompt',
  maxTokens: 'n-predict',
  'sampling.seed': 'seed',
  'sampling.temperature': 'temp',
  ...OFFLOAD_FLAG_OF,
  ...SPEC_FLAG_OF,
};

/** A one-line note on stderr: something given was changed, and why. */
export function notice(text: string): void {
  process.stderr.write(`hearth: note: ${text}\n`);
}

/**
 * --ctx: 0 is the model's trained context; any other size is rounded up to what llama.cpp creates,
 * with a note saying so.
 */
function ctxFlag(parsed: ParsedArgs): number | undefined {
  const n = intFlag(parsed, 'ctx');
  if (n === undefined) return undefined;
  const opt = spelling(parsed, 'ctx');
  if (n < 0 || n > MAX_CONTEXT_SIZE) {
    throw new UsageError(`${opt} ${n} is out of range: give 0 (the model's trained context) or 1 to ${formatInt(MAX_CONTEXT_SIZE)} tokens`);
  }
  const used = contextSizeUsed(n);
  if (used !== n) notice(`${opt} ${n} becomes ${used}: llama.cpp sizes a context in whole multiples of ${CONTEXT_STEP} tokens`);
  return used;
}

/** A size in MiB, one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export function formatInt(n: number): string {
  return n.toLocaleString('en-US');
}

function gpuLayersFlag(parsed: ParsedArgs): LoadParamsInput['gpuLayers'] {
  const v = parsed.flags['gpu-layers'];
  if (v === undefined) return undefined;
  if (v === 'max' || v === 'auto') return v;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < 0) throw new UsageError(`${spelling(parsed, 'gpu-layers')} must be an integer >= 0, max or auto`);
  return n;
}

/**
 * --lora and --control-vector: FILE[:SCALE] entries separated by commas (scale 1 when none is given;
 * a colon followed by something other than a number is part of the file's name).
 */
function adapterFlag(parsed: ParsedArgs, name: 'lora' | 'control-vector'): AdapterEntry[] | undefined {
  const v = parsed.flags[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`${spelling(parsed, name)} needs FILE[:SCALE][,FILE[:SCALE]…]`);
  return v.split(',').map((item) => {
    const m = /^(.*):([-+]?\d*\.?\d+(?:e[-+]?\d+)?)$/i.exec(item);
    return m ? { path: path.resolve(m[1]), scale: Number(m[2]) } : { path: path.resolve(item), scale: 1 };
  });
}

/** The files --mmproj, --draft, --lora and --control-vector name: there, and what those flags take (checkCompanionFile). */
async function checkCompanions(p: LoadParamsInput): Promise<void> {
  if (p.mmproj) await checkCompanionFile(FLAG_OF.mmproj, p.mmproj, 'projector');
  for (const a of p.loraAdapters ?? []) await checkCompanionFile(FLAG_OF.loraAdapters, a.path, 'lora');
  for (const a of p.controlVectors ?? []) await checkCompanionFile(FLAG_OF.controlVectors, a.path, 'controlVector');
  // (read only when speculative decoding uses it)
  if (usesDraftModel(p)) await checkCompanionFile(FLAG_OF.draftModel, p.draftModel, 'model');
}

/** hearth info MODEL: the model's metadata */
export async function infoCommand({ parsed, engine, modelArg }: ModelCommandContext): Promise<number> {
  const { flags } = parsed;
  const file = await modelArg();
  if (!file) throw new UsageError('usage: hearth info MODEL [--json]');
  const m = await engine.info(file);
  const out = {
    path: path.resolve(file),
    name: m.name,
    architecture: m.architecture,
    parameters: m.parameters,
    fileType: m.fileType === null ? null : FILE_TYPE_NAMES[m.fileType] ?? String(m.fileType),
    fileSize: m.fileSize,
    layers: m.layers,
    embeddingSize: m.embeddingSize,
    heads: m.heads,
    trainedContext: m.trainedContext,
    vocabSize: m.vocabSize,
    tokenizer: m.tokenizer,
    hasChatTemplate: m.chatTemplate !== null,
    isEmbedding: m.isEmbedding,
  };
  if (flags.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else {
    process.stdout.write(
      [
        `${out.name || path.basename(file)}  (${out.architecture}, ${out.fileType ?? '?'})`,
        `  parameters      ${formatInt(out.parameters)}`,
        `  file size       ${formatInt(out.fileSize)} bytes`,
        `  layers          ${out.layers}`,
        `  embedding size  ${out.embeddingSize}`,
        `  trained context ${formatInt(out.trainedContext)}`,
        `  vocabulary      ${formatInt(out.vocabSize)} (${out.tokenizer})`,
        `  chat template   ${out.hasChatTemplate ? 'yes' : 'no'}`,
      ].join('\n') + '\n',
    );
  }
  return 0;
}

/** hearth run MODEL -p TEXT: a completion streamed to stdout */
export async function runCommand({ parsed, engine, modelArg }: ModelCommandContext): Promise<number> {
  const { flags } = parsed;
  const opt = (flag: string) => spelling(parsed, flag);
  const file = await modelArg();
  const prompt = flags.prompt;
  if (!file || typeof prompt !== 'string') throw new UsageError('usage: hearth run MODEL -p TEXT [-n N] [--seed S] [--temp T]');
  const params: LoadParamsInput = {
    contextSize: ctxFlag(parsed),
    threads: intFlag(parsed, 'threads'),
    gpuLayers: gpuLayersFlag(parsed),
    loraAdapters: adapterFlag(parsed, 'lora'),
    controlVectors: adapterFlag(parsed, 'control-vector'),
    ...speculativeFlags(parsed),
  };
  Object.assign(params, offloadFlags(parsed, params.gpuLayers));
  checkFlags(LoadParams, params, FLAG_OF, opt);
  await checkCompanions(params);
  const request: CompletionRequest = {
    prompt,
    maxTokens: intFlag(parsed, 'n-predict', 32),
    sampling: { seed: intFlag(parsed, 'seed'), temperature: numFlag(parsed, 'temp') },
  };
  checkFlags(CompletionRequest, request, FLAG_OF, opt);
  const loaded = await engine.load('cli', file, params);
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  const r = await engine.complete('cli', request, { onPiece: (t) => process.stdout.write(t), signal: ac.signal });
  process.stdout.write('\n');
  const t = r.timings;
  process.stderr.write(
    `[${t.promptTokens} prompt tokens, ${t.generatedTokens} generated; context ${loaded.context.contextSize}; prompt ${t.promptTps.toFixed(1)} tok/s, generation ${t.genTps.toFixed(1)} tok/s${t.draftTokens ? `; draft ${t.acceptedTokens ?? 0}/${t.draftTokens} accepted` : ''}; stop: ${r.contextFull ? 'context full' : r.stopReason}]\n`,
  );
  if (t.draftTokens && poorDraftAcceptance(t.draftTokens, t.acceptedTokens ?? 0)) process.stderr.write(`hearth: ${poorDraftAdvice('run without --draft and --speculative')}\n`);
  return 0;
}

/** hearth fit MODEL: memory per device before loading */
export async function fitCommand({ parsed, engine, modelArg }: ModelCommandContext): Promise<number> {
  const { flags } = parsed;
  const opt = (flag: string) => spelling(parsed, flag);
  const file = await modelArg();
  if (!file) throw new UsageError('usage: hearth fit MODEL [--gpu-layers N|auto|max] [--ctx N] [--cache-type T] [--margin MiB] [--json]');
  const gpuLayers = gpuLayersFlag(parsed) ?? 'auto';
  const cacheType = typeof flags['cache-type'] === 'string' ? flags['cache-type'] : undefined;
  const marginMiB = numFlag(parsed, 'margin', 1024)!;
  const params: LoadParamsInput = {
    contextSize: ctxFlag(parsed),
    cacheTypeK: cacheType as LoadParamsInput['cacheTypeK'],
    cacheTypeV: cacheType as LoadParamsInput['cacheTypeV'],
    gpuLayers,
    fitMarginMiB: marginMiB,
    ...offloadFlags(parsed, gpuLayers),
    ...speculativeFlags(parsed),
    ...(typeof parsed.flags.mmproj === 'string' ? { mmproj: path.resolve(parsed.flags.mmproj) } : {}),
  };
  checkFlags(LoadParams, params, FLAG_OF, opt);
  await checkCompanions(params);
  const plan = await planLoad(engine, file, params, marginMiB);
  const { estimate: est, fit, reason, check, moe } = plan;
  const chosen = { gpuLayers: plan.gpuLayers };
  const rows = [
    ...est.devices.map((d) => ({ device: d.name, backend: d.backend, description: d.description, weights: d.model, kvCache: d.context, compute: d.compute, projector: d.projector, total: memoryNeed(d), free: d.free, memoryTotal: d.total })),
    { device: 'host', backend: 'CPU', description: 'system RAM', weights: est.host.model, kvCache: est.host.context, compute: est.host.compute, projector: est.host.projector, total: memoryNeed(est.host), free: est.host.free, memoryTotal: est.host.total },
  ];
  const out = { model: path.resolve(file), gpuLayers: chosen.gpuLayers, contextSize: est.contextSize, layers: est.layers, trainedContext: est.trainedContext, experts: est.experts, moe, fit, reason, fits: check.fits, problems: check.problems, devices: rows };
  if (flags.json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`.padStart(12);
    process.stdout.write(`${path.basename(file)}: ${est.layers} layers, context ${est.contextSize}, GPU layers ${String(chosen.gpuLayers)}\n`);
    const why = reason ?? (gpuDevices(est).length === 0 ? CPU_ONLY : null);
    if (why) process.stdout.write(`${why}\n`);
    // a MoE model placed by hand (the fit's own choice is in its reason)
    if (!fit && est.experts > 0) process.stdout.write(`MoE (${est.experts} experts per layer): ${handPlacedExperts(params.nCpuMoe ?? 0, params.tensorOverrides?.length ?? 0)}\n`);
    // the projector's column only with a projector
    const proj = rows.some((r) => r.projector > 0);
    process.stdout.write(`${'device'.padEnd(10)}${'weights'.padStart(12)}${'KV cache'.padStart(12)}${'compute'.padStart(12)}${proj ? 'projector'.padStart(12) : ''}${'total'.padStart(12)}${'free'.padStart(14)}\n`);
    for (const r of rows) process.stdout.write(`${r.device.padEnd(10)}${mib(r.weights)}${mib(r.kvCache)}${mib(r.compute)}${proj ? mib(r.projector) : ''}${mib(r.total)}${mib(r.free).padStart(14)}\n`);
    for (const p of check.problems) process.stdout.write(`does not fit: ${p}\n`);
  }
  return 0;
}
