/**
 * The MoE offload options of `hearth run` and `hearth fit`, as llama.cpp's tools spell them:
 * --n-cpu-moe N (the experts of the first N layers in system RAM) and --override-tensor / -ot
 * PATTERN=BUFFER[,PATTERN=BUFFER...] (tensors by name on a buffer type). Checked against the load
 * family's definitions (main/params/load.ts); the engine checks the patterns and buffer types.
 */
import { LOAD_FIELDS, LoadParamsInput, TensorOverride } from '../params';
import { intFlag, ParsedArgs, spelling, UsageError } from './args';

export const OFFLOAD_FLAGS = ['n-cpu-moe', 'override-tensor'] as const;
export const OFFLOAD_ALIASES: Record<string, string> = { ot: 'override-tensor' };
/** the option that sets each field (for messages about the field) */
export const OFFLOAD_FLAG_OF: Record<string, string> = { nCpuMoe: 'n-cpu-moe', tensorOverrides: 'override-tensor' };

export const OFFLOAD_USAGE = '[--n-cpu-moe N] [-ot PATTERN=BUFFER,...]';

/** nCpuMoe and tensorOverrides from the options given (absent when not given), refused with the option's name. */
export function offloadFlags(parsed: ParsedArgs, gpuLayers: LoadParamsInput['gpuLayers']): Pick<LoadParamsInput, 'nCpuMoe' | 'tensorOverrides'> {
  const out: Pick<LoadParamsInput, 'nCpuMoe' | 'tensorOverrides'> = {};
  const n = intFlag(parsed, 'n-cpu-moe');
  if (n !== undefined) {
    if (!LOAD_FIELDS.nCpuMoe.schema.safeParse(n).success) {
      throw new UsageError(`${spelling(parsed, 'n-cpu-moe')} must be a whole number from 0 to ${LOAD_FIELDS.nCpuMoe.meta.max}`);
    }
    out.nCpuMoe = n;
  }
  const ot = parsed.flags['override-tensor'];
  if (ot !== undefined) {
    // comma-separated, as llama.cpp's -ot takes them
    const entries = String(ot).split(',').map((e) => e.trim()).filter(Boolean);
    for (const e of entries) {
      const r = TensorOverride.safeParse(e);
      if (!r.success) throw new UsageError(`${spelling(parsed, 'override-tensor')} "${e}": ${r.error.issues[0].message}`);
    }
    out.tensorOverrides = entries;
  }
  const given = OFFLOAD_FLAGS.filter((f) => parsed.flags[f] !== undefined && (f !== 'n-cpu-moe' || out.nCpuMoe));
  if (given.length && (gpuLayers === undefined || gpuLayers === 'auto')) {
    throw new UsageError(`${spelling(parsed, given[0])} needs --gpu-layers N or max: with auto, llama.cpp's fit places the experts itself (hearth fit shows what it chose)`);
  }
  return out;
}

/** Where `hearth fit` says a MoE model's experts go when placed by hand: only the options given, counted right. */
export function handPlacedExperts(nCpuMoe: number, overrides: number): string {
  const parts: string[] = [];
  if (nCpuMoe > 0) parts.push(`experts of ${nCpuMoe} layer${nCpuMoe === 1 ? '' : 's'} on the CPU (--n-cpu-moe)`);
  if (overrides > 0) parts.push(`${overrides} tensor override${overrides === 1 ? '' : 's'} (-ot)`);
  return parts.length ? parts.join(', ') : 'every offloaded layer keeps its experts on the GPU';
}
