/** Reading llama.cpp's memory estimates: totals, whether they fit, and the words shown to the user. */
import { contextSizeUsed, EngineError, Estimate, FitResult, LoadParamsInput, MemoryBreakdown } from '../engine/protocol';
import { IpcError, IpcErrorCode } from '../ipc/contract';
import { memoryNeed } from '../params';

const GiB = 1024 ** 3;

export function gib(n: number): string {
  return `${(n / GiB).toFixed(2)} GiB`;
}

export interface FitCheck {
  fits: boolean;
  /** one line per device (or the host) that would not keep its margin free */
  problems: string[];
}

/** Whether a device of an estimate would keep `marginBytes` free. */
function keepsMargin(d: MemoryBreakdown['devices'][number], marginBytes: number): boolean {
  return memoryNeed(d) + marginBytes <= d.free;
}

/** Compares an estimate with the free memory of each device, keeping `marginBytes` free on GPUs. */
export function checkEstimate(est: MemoryBreakdown, marginBytes: number): FitCheck {
  const problems: string[] = [];
  for (const d of est.devices) {
    if (!keepsMargin(d, marginBytes)) problems.push(`${d.name} (${d.description}): needs ${gib(memoryNeed(d))} + ${gib(marginBytes)} margin, ${gib(d.free)} free`);
  }
  const hostNeed = memoryNeed(est.host);
  if (hostNeed > est.host.free) problems.push(`system RAM: needs ${gib(hostNeed)}, ${gib(est.host.free)} free`);
  return { fits: problems.length === 0, problems };
}

/** The estimate's GPUs (integrated ones too): the devices layers can be offloaded to. */
export function gpuDevices(est: MemoryBreakdown): MemoryBreakdown['devices'] {
  return est.devices.filter((d) => d.type === 'gpu' || d.type === 'igpu');
}

/** What every load does on a machine without a GPU device, in words. */
export const CPU_ONLY = 'CPU only: no GPU device is available, every layer runs on the CPU.';

/**
 * What the fit chose for a MoE model's experts, in words ("experts of 3 layers on the CPU"), or null
 * for a dense model. The fit keeps whole layers on GPUs and, where they do not fit, a layer's experts
 * in system RAM (one tensor override per such layer); layers it leaves off the GPUs run on the CPU
 * whole, experts and all.
 */
export function moeChoice(fit: FitResult, est: Estimate): string | null {
  if (!est.experts) return null;
  const n = cpuExpertLayers(fit.tensorOverrides, est.layers);
  return n === 0 ? 'every offloaded layer keeps its experts on the GPU' : `experts of ${n} layer${n === 1 ? '' : 's'} on the CPU`;
}

/**
 * The layers whose FFN (a MoE layer's experts) the fit's overrides keep on the CPU: entries
 * "blk\\.N\\.ffn_...=CPU" for a layer the model has (llama.cpp's fit may also write one for index
 * `layers`, the output layer's place in its count, which matches no tensor).
 */
export function cpuExpertLayers(overrides: readonly string[], layers: number): number {
  const on = new Set<number>();
  for (const o of overrides) {
    const m = /^blk\\\.(\d+)\\\.ffn_.*=CPU$/.exec(o);
    if (m && Number(m[1]) < layers) on.add(Number(m[1]));
  }
  return on.size;
}

/**
 * Why the fit chose what it chose, in one sentence. `tensorSplit`: the split the load gives (llama.cpp's
 * fit moves no layer over one with layers for a GPU the model uses).
 */
export function describeFit(fit: FitResult, est: Estimate, marginMiB: number, tensorSplit?: readonly number[]): string {
  const moe = moeChoice(fit, est);
  const base = describeLayers(fit, est, marginMiB, tensorSplit ?? []);
  return moe && fit.fits && gpuDevices(est).length > 0 ? `${base} MoE: ${moe}.` : base;
}

function describeLayers(fit: FitResult, est: Estimate, marginMiB: number, tensorSplit: readonly number[]): string {
  const gpus = gpuDevices(est);
  if (gpus.length === 0) return CPU_ONLY;
  // llama.cpp counts the output layer as one more offloadable layer: all = layers + 1
  const total = est.layers + 1;
  const layers = fit.gpuLayers < 0 ? total : Math.min(fit.gpuLayers, total);
  // with several GPUs split by the fit, the layers each got (indexed as the estimate lists its GPUs; zeros
  // past the last GPU given any are left off)
  const split = gpus.length > 1 && fit.tensorSplit.length > 0 && fit.tensorSplit.length <= gpus.length ? fit.tensorSplit : null;
  const names = gpus.map((d, i) => (split ? `${d.name} (${split[i] ?? 0} ${(split[i] ?? 0) === 1 ? 'layer' : 'layers'})` : d.name)).join(', ');
  const ctx = `a context of ${fit.contextSize.toLocaleString('en-US')} tokens`;
  // llama.cpp's fit moves no layer between several GPUs split by the user (it may have shortened the context first)
  if (!fit.fits && gpus.length > 1 && tensorSplit.slice(0, gpus.length).some((x) => x > 0)) {
    const over = gpus.filter((d) => !keepsMargin(d, marginMiB * 2 ** 20)).map((d) => d.name);
    const moves = "llama.cpp's fit moves layers only when Tensor split is empty";
    if (over.length === 0) return `As split, with ${ctx}, leaving at least ${marginMiB} MiB free (${moves}).`;
    return `Does not fit as split: with ${ctx}, less than ${marginMiB} MiB would stay free on ${over.join(', ')}. ${moves}: clear it, change the proportions, shorten the context, or set GPU layers to a smaller number.`;
  }
  if (!fit.fits) return `Does not fit: even with the fewest layers on ${names} and ${ctx}, less than ${marginMiB} MiB would stay free.`;
  // the fit's counts per GPU count the output layer as one
  if (layers >= total && split) return `All ${total} layers (the output layer counts as one) on ${names} with ${ctx}, leaving at least ${marginMiB} MiB free.`;
  if (layers >= total) return `All ${est.layers} layers and the output layer on ${names} with ${ctx}, leaving at least ${marginMiB} MiB free.`;
  return `${layers} of ${total} layers (the output layer counts as one) on ${names} with ${ctx}: more would leave less than ${marginMiB} MiB free; the rest runs on the CPU.`;
}

export interface PlannedLoad {
  /** what the load will use: the fit's choice when gpuLayers is auto; 0 without a GPU, whatever was asked */
  gpuLayers: number | 'max';
  /** the context the load will create (rounded up to whole CONTEXT_STEPs) */
  contextSize: number;
  estimate: Estimate;
  fit: FitResult | null;
  reason: string | null;
  /** a MoE model fitted (gpuLayers auto, a GPU): what the fit chose for its experts, in words (moeChoice) */
  moe: string | null;
  check: FitCheck;
}

/** What a load with these parameters would use: llama.cpp's fit (gpuLayers auto) then its estimate. */
export async function planLoad(
  engine: { fit: EngineLike['fit']; estimate: EngineLike['estimate'] },
  file: string,
  params: LoadParamsInput,
  marginMiB: number,
): Promise<PlannedLoad> {
  const auto = params.gpuLayers === undefined || params.gpuLayers === 'auto';
  let fit: FitResult | null = null;
  let chosen: LoadParamsInput = { ...params };
  if (auto) {
    fit = await engine.fit(file, params, { marginMiB });
    // with where it put tensors by name (for a MoE model, the experts it keeps in system RAM) and, with
    // several GPUs, the layers it gave each: the load takes both, so the estimate does
    chosen = {
      ...params,
      gpuLayers: fit.gpuLayers < 0 ? 'max' : fit.gpuLayers,
      contextSize: fit.contextSize,
      tensorOverrides: fit.tensorOverrides,
      ...(fit.tensorSplit.length ? { tensorSplit: fit.tensorSplit } : {}),
    };
  }
  const estimate = await engine.estimate(file, chosen);
  const asked = chosen.gpuLayers === 'max' || chosen.gpuLayers === 'auto' || chosen.gpuLayers === undefined ? 'max' : chosen.gpuLayers;
  return {
    // llama.cpp's fit answers "all" (-1) when there is nothing to fit onto: every layer then runs on the CPU
    gpuLayers: gpuDevices(estimate).length === 0 ? 0 : asked,
    // what llama.cpp creates for it (its own estimate already counts the rounded size)
    contextSize: contextSizeUsed(estimate.contextSize),
    estimate,
    fit,
    reason: fit ? describeFit(fit, estimate, marginMiB, params.tensorSplit) : null,
    moe: fit && gpuDevices(estimate).length > 0 ? moeChoice(fit, estimate) : null,
    check: checkEstimate(estimate, marginMiB * 1024 * 1024),
  };
}

/**
 * For a planLoad's `.catch`: the engine refusing a file the settings name (an adapter that is none of
 * this model's) is the user's to change, so it reaches them as `code` in the engine's words.
 */
export function refusedAs(code: IpcErrorCode): (e: unknown) => never {
  return (e) => {
    if (e instanceof EngineError && e.code === 'invalid_argument') throw new IpcError(code, e.message);
    throw e;
  };
}

interface EngineLike {
  fit(file: string, params: LoadParamsInput, opts: { marginMiB?: number }): Promise<FitResult>;
  estimate(file: string, params: LoadParamsInput): Promise<Estimate>;
}
