/**
 * The model settings form as plain data: the form's values (strings where the user types), the
 * settings they stand for, which fields changed against what is saved (the only ones "Save" sends),
 * and which differ from what the loaded model runs with ("reload required").
 */
import { CacheTypeDTO, LoadSettingsDTO, ModelSettingsView } from '../../../../main/ipc/contract';

export type CacheType = LoadSettingsDTO['cacheTypeK'] & string;
export const CACHE_TYPES = CacheTypeDTO.options as readonly CacheType[];
/** cache types that are quantized: a quantized V cache needs flash attention */
const QUANTIZED = new Set<string>(['q8_0', 'q4_0', 'q4_1', 'iq4_nl', 'q5_0', 'q5_1']);

export type SettingKey = keyof LoadSettingsDTO;
export const SETTING_KEYS: readonly SettingKey[] = [
  'gpuLayers',
  'contextSize',
  'cacheTypeK',
  'cacheTypeV',
  'flashAttention',
  'threads',
  'batchSize',
  'ubatchSize',
  'useMmap',
  'useMlock',
  'mainGpu',
  'splitMode',
  'tensorSplit',
];

/** Every setting with a value: the saved ones over the defaults (tensorSplit stays optional). */
export type FullSettings = Required<Omit<LoadSettingsDTO, 'tensorSplit'>> & { tensorSplit?: number[] };

export type GpuMode = 'auto' | 'max' | 'layers';

/** What the form holds. Numbers typed by the user stay strings until parsed. */
export interface LoadForm {
  gpuMode: GpuMode;
  /** the slider's value (0 … layers + 1), used when gpuMode is "layers" */
  gpuLayers: number;
  contextSize: string;
  cacheTypeK: CacheType;
  cacheTypeV: CacheType;
  flashAttention: FullSettings['flashAttention'];
  threads: string;
  batchSize: string;
  ubatchSize: string;
  useMmap: boolean;
  useMlock: boolean;
  mainGpu: number;
  splitMode: FullSettings['splitMode'];
  /** proportions per GPU, comma separated; blank = llama.cpp's split by free memory */
  tensorSplit: string;
}

/** The highest GPU-layers value: every repeating layer plus the output layer (llama.cpp counts it). */
export function maxGpuLayers(layers: number): number {
  return Math.max(1, layers + 1);
}

export function effectiveSettings(view: Pick<ModelSettingsView, 'defaults' | 'settings'>, over?: LoadSettingsDTO | null): FullSettings {
  const out = { ...view.defaults, ...view.settings, ...(over ?? {}) } as FullSettings;
  if (!out.tensorSplit?.length) delete out.tensorSplit;
  return out;
}

export function formFromSettings(s: FullSettings, layers: number): LoadForm {
  const top = maxGpuLayers(layers);
  return {
    gpuMode: s.gpuLayers === 'auto' ? 'auto' : s.gpuLayers === 'max' ? 'max' : 'layers',
    gpuLayers: typeof s.gpuLayers === 'number' ? Math.min(s.gpuLayers, top) : top,
    contextSize: String(s.contextSize),
    cacheTypeK: s.cacheTypeK,
    cacheTypeV: s.cacheTypeV,
    flashAttention: s.flashAttention,
    threads: String(s.threads),
    batchSize: String(s.batchSize),
    ubatchSize: String(s.ubatchSize),
    useMmap: s.useMmap,
    useMlock: s.useMlock,
    mainGpu: s.mainGpu,
    splitMode: s.splitMode,
    tensorSplit: s.tensorSplit?.join(', ') ?? '',
  };
}

/** The form for a model as saved (unset fields show their defaults). */
export function formFromView(view: ModelSettingsView): LoadForm {
  return formFromSettings(effectiveSettings(view), view.layers);
}

/** The form with every field at its default. */
export function defaultForm(view: ModelSettingsView): LoadForm {
  return formFromSettings(effectiveSettings({ defaults: view.defaults, settings: {} }), view.layers);
}

export const FIELD_LABELS: Record<SettingKey, string> = {
  gpuLayers: 'GPU layers',
  contextSize: 'Context length',
  cacheTypeK: 'K cache type',
  cacheTypeV: 'V cache type',
  flashAttention: 'Flash attention',
  threads: 'CPU threads',
  batchSize: 'Batch size',
  ubatchSize: 'Micro-batch size',
  useMmap: 'mmap',
  useMlock: 'mlock',
  mainGpu: 'Main GPU',
  splitMode: 'Split mode',
  tensorSplit: 'Tensor split',
};

export type Parsed = { ok: true; value: FullSettings } | { ok: false; field: SettingKey; error: string };

function int(raw: string, key: SettingKey, min: number, max: number): number | { field: SettingKey; error: string } {
  const t = raw.trim();
  const n = Number(t);
  if (t === '' || !Number.isInteger(n) || n < min || n > max) {
    return { field: key, error: `${FIELD_LABELS[key]} must be a whole number from ${min.toLocaleString('en-US')} to ${max.toLocaleString('en-US')}.` };
  }
  return n;
}

/** Form → every setting, or the first field that is not valid (with a sentence saying why). */
export function parseForm(f: LoadForm): Parsed {
  const contextSize = int(f.contextSize, 'contextSize', 256, 10_000_000);
  if (typeof contextSize !== 'number') return { ok: false, ...contextSize };
  const threads = int(f.threads, 'threads', 1, 1024);
  if (typeof threads !== 'number') return { ok: false, ...threads };
  const batchSize = int(f.batchSize, 'batchSize', 1, 1_000_000);
  if (typeof batchSize !== 'number') return { ok: false, ...batchSize };
  const ubatchSize = int(f.ubatchSize, 'ubatchSize', 1, 1_000_000);
  if (typeof ubatchSize !== 'number') return { ok: false, ...ubatchSize };
  if (ubatchSize > batchSize) return { ok: false, field: 'ubatchSize', error: 'The micro-batch cannot be larger than the batch.' };
  if (QUANTIZED.has(f.cacheTypeV) && f.flashAttention === 'off') {
    return { ok: false, field: 'cacheTypeV', error: 'A quantized V cache needs flash attention (auto or on).' };
  }
  let tensorSplit: number[] | undefined;
  if (f.tensorSplit.trim() !== '') {
    const parts = f.tensorSplit.split(/[,\s]+/).filter(Boolean).map(Number);
    if (parts.length > 64 || parts.some((n) => !Number.isFinite(n) || n < 0) || parts.every((n) => n === 0)) {
      return { ok: false, field: 'tensorSplit', error: 'Tensor split must be proportions per GPU, like 3, 1.' };
    }
    tensorSplit = parts;
  }
  const gpuLayers: FullSettings['gpuLayers'] = f.gpuMode === 'layers' ? Math.max(0, Math.round(f.gpuLayers)) : f.gpuMode;
  const value: FullSettings = {
    gpuLayers,
    contextSize,
    cacheTypeK: f.cacheTypeK,
    cacheTypeV: f.cacheTypeV,
    flashAttention: f.flashAttention,
    threads,
    batchSize,
    ubatchSize,
    useMmap: f.useMmap,
    useMlock: f.useMlock,
    mainGpu: f.mainGpu,
    splitMode: f.splitMode,
    ...(tensorSplit ? { tensorSplit } : {}),
  };
  return { ok: true, value };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function diff(a: FullSettings, b: FullSettings): SettingKey[] {
  return SETTING_KEYS.filter((k) => !same(a[k], b[k]));
}

/** The settings that differ from what is saved for the model (what "Save" sends). */
export function changedSettings(value: FullSettings, view: ModelSettingsView): LoadSettingsDTO {
  const saved = effectiveSettings(view);
  const out: Record<string, unknown> = {};
  for (const k of diff(value, saved)) out[k] = k === 'tensorSplit' ? (value.tensorSplit ?? []) : value[k];
  return out as LoadSettingsDTO;
}

/**
 * The fields whose value differs from what the loaded model runs with: they apply after a reload.
 * Empty when this model is not the loaded one.
 */
export function reloadRequired(value: FullSettings, view: ModelSettingsView): Set<SettingKey> {
  if (!view.loadedWith) return new Set();
  const running = effectiveSettings({ defaults: view.defaults, settings: {} }, view.loadedWith);
  return new Set(diff(value, running));
}

/** What an estimate is asked for: every setting, so unsaved values count. */
export function estimateRequest(value: FullSettings): LoadSettingsDTO {
  return { ...value, tensorSplit: value.tensorSplit ?? [] };
}

/** Bytes in the unit that reads best: "512 KiB", "4.05 MiB", "62.6 MiB", "1.93 GiB". */
export function formatMem(n: number): string {
  const KiB = 1024;
  const MiB = KiB * 1024;
  const GiB = MiB * 1024;
  const a = Math.abs(n);
  if (a >= GiB) return `${(n / GiB).toFixed(2)} GiB`;
  if (a >= 100 * MiB) return `${(n / MiB).toFixed(0)} MiB`;
  if (a >= 10 * MiB) return `${(n / MiB).toFixed(1)} MiB`;
  if (a >= MiB) return `${(n / MiB).toFixed(2)} MiB`;
  if (a >= KiB) return `${(n / KiB).toFixed(0)} KiB`;
  return `${Math.round(n)} B`;
}
