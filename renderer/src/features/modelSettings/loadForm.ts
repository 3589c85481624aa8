/**
 * The model settings form as plain data: the form's values (strings where the user types), the
 * settings they stand for, which fields changed against what is saved (the only ones "Save" sends),
 * and which differ from what the loaded model runs with ("reload required"). Every field, its bounds
 * and its label come from main/params (LOAD_SETTINGS_META): a new load setting needs no code here.
 */
import { AdapterEntry, CONTEXT_RULES, KeyedMeta, LOAD_RULES, LOAD_SETTING_FIELDS, LOAD_SETTINGS_META, LoadSettingKey, RepeatedAdapter, Rule } from '../../../../main/params';
import { LoadSettingsDTO, ModelSettingsView } from '../../../../main/ipc/contract';

export type SettingKey = LoadSettingKey;
export const SETTING_FIELDS: readonly KeyedMeta<SettingKey>[] = LOAD_SETTINGS_META;
export const SETTING_KEYS: readonly SettingKey[] = SETTING_FIELDS.map((f) => f.key);
const META = Object.fromEntries(SETTING_FIELDS.map((f) => [f.key, f])) as Record<SettingKey, KeyedMeta<SettingKey>>;

/** Every setting with a value: the saved ones over the defaults (tensorSplit stays optional). */
export type FullSettings = Required<Omit<LoadSettingsDTO, 'tensorSplit' | 'chatTemplate'>> & { tensorSplit?: number[]; chatTemplate?: string };

export type GpuMode = 'auto' | 'max' | 'layers';

/** An adapter list's row as the form holds it: the file, and the scale as typed. */
export interface AdapterRow {
  path: string;
  scale: string;
}

/** How the form holds a setting: on/off, one of a few strings, adapter rows, or text the user types. */
type FormValue<V> = [V] extends [boolean] ? boolean : [V] extends [string] ? V : [V] extends [readonly { path: string }[]] ? AdapterRow[] : string;

/** What the form holds. Numbers typed by the user stay strings until parsed. */
export type LoadForm = {
  gpuMode: GpuMode;
  /** the slider's value (0 … layers + 1), used when gpuMode is "layers" */
  gpuLayers: number;
} & { [K in Exclude<SettingKey, 'gpuLayers'>]: FormValue<NonNullable<LoadSettingsDTO[K]>> };

/** The highest GPU-layers value: every repeating layer plus the output layer (llama.cpp counts it). */
export function maxGpuLayers(layers: number): number {
  return Math.max(1, layers + 1);
}

export function effectiveSettings(view: Pick<ModelSettingsView, 'defaults' | 'settings'>, over?: LoadSettingsDTO | null): FullSettings {
  const out = { ...view.defaults, ...view.settings, ...(over ?? {}) } as FullSettings;
  if (!out.tensorSplit?.length) delete out.tensorSplit;
  if (!out.chatTemplate) delete out.chatTemplate;
  return out;
}

export function formFromSettings(s: FullSettings, layers: number): LoadForm {
  const top = maxGpuLayers(layers);
  const out: Record<string, unknown> = {
    gpuMode: s.gpuLayers === 'auto' ? 'auto' : s.gpuLayers === 'max' ? 'max' : 'layers',
    gpuLayers: typeof s.gpuLayers === 'number' ? Math.min(s.gpuLayers, top) : top,
  };
  for (const f of SETTING_FIELDS) {
    if (f.kind === 'gpuLayers') continue;
    const v = s[f.key];
    if (f.kind === 'adapters') out[f.key] = ((v as AdapterEntry[] | undefined) ?? []).map((e) => ({ path: e.path, scale: String(e.scale) }));
    else
      out[f.key] =
      f.kind === 'boolean' || f.kind === 'choice'
        ? v
        : f.kind === 'numbers'
          ? ((v as number[] | undefined)?.join(', ') ?? '')
          : f.kind === 'strings'
            ? ((v as string[] | undefined)?.join('\n') ?? '')
            : String(v ?? '');
  }
  return out as LoadForm;
}

/** The form for a model as saved (unset fields show their defaults). */
export function formFromView(view: ModelSettingsView): LoadForm {
  return formFromSettings(effectiveSettings(view), view.layers);
}

/** The form with every field at its default. */
export function defaultForm(view: ModelSettingsView): LoadForm {
  return formFromSettings(effectiveSettings({ defaults: view.defaults, settings: {} }), view.layers);
}

export type Parsed = { ok: true; value: FullSettings } | { ok: false; field: SettingKey; error: string };
type Problem = { field: SettingKey; error: string };

function parseInt(raw: string, f: KeyedMeta<SettingKey>): number | Problem {
  const t = raw.trim();
  const n = Number(t);
  if (t === '' || !Number.isInteger(n) || n < f.min! || n > f.max!) {
    return { field: f.key, error: `${f.label} must be a whole number from ${f.min!.toLocaleString('en-US')} to ${f.max!.toLocaleString('en-US')}.` };
  }
  return n;
}

function parseReal(raw: string, f: KeyedMeta<SettingKey>): number | Problem {
  const t = raw.trim();
  const n = Number(t);
  if (t === '' || !Number.isFinite(n) || n < f.min! || n > f.max!) return { field: f.key, error: `${f.label} must be a number from ${f.min} to ${f.max}.` };
  return n;
}

/** Proportions (per GPU): numbers of at least 0, not all 0; blank = none. */
function parseNumbers(raw: string, f: KeyedMeta<SettingKey>): number[] | undefined | Problem {
  if (raw.trim() === '') return undefined;
  const parts = raw.split(/[,\s]+/).filter(Boolean).map(Number);
  if (parts.length > (f.maxItems ?? Infinity) || parts.some((n) => !Number.isFinite(n) || n < 0) || parts.every((n) => n === 0)) {
    return { field: f.key, error: `${f.label} must be proportions per GPU, like 3, 1.` };
  }
  return parts;
}

/**
 * Adapter rows: each with a file and a scale in the field's bounds, each file once (the field's
 * schema says which repeats an earlier one); rows left blank are dropped.
 */
function parseAdapters(rows: AdapterRow[], f: KeyedMeta<SettingKey>): AdapterEntry[] | Problem {
  const out: AdapterEntry[] = [];
  /** the row (from 1) of each entry of `out` */
  const rowOf: number[] = [];
  for (const [i, r] of rows.entries()) {
    if (r.path.trim() === '' && r.scale.trim() === '') continue;
    const scale = Number(r.scale.trim());
    if (r.path.trim() === '') return { field: f.key, error: `${f.label}: row ${i + 1} needs a file.` };
    if (r.scale.trim() === '' || !Number.isFinite(scale) || scale < f.min! || scale > f.max!) {
      return { field: f.key, error: `${f.label}: row ${i + 1} needs a number from ${f.min} to ${f.max}.` };
    }
    out.push({ path: r.path.trim(), scale });
    rowOf.push(i + 1);
  }
  if (out.length > (f.maxItems ?? Infinity)) return { field: f.key, error: `${f.label}: at most ${f.maxItems}.` };
  const r = LOAD_SETTING_FIELDS[f.key].setting.safeParse(out);
  const repeat = r.success ? undefined : r.error.issues.find((i) => i.code === 'custom' && typeof (i.params as Partial<RepeatedAdapter> | undefined)?.listedAt === 'number');
  if (repeat?.code === 'custom') {
    const at = repeat.path[0] as number;
    const first = (repeat.params as RepeatedAdapter).listedAt;
    return { field: f.key, error: `${f.label}: row ${rowOf[at]} (${out[at].path}) is already in row ${rowOf[first]}: give each file one ${f.key === 'controlVectors' ? 'strength' : 'scale'}.` };
  }
  return out;
}

/** One entry per line (blank lines skipped), each checked by the field's schema; blank = none. */
function parseStrings(raw: string, f: KeyedMeta<SettingKey>): string[] | Problem {
  const lines = raw.split('\n').map((l) => l.trim()).filter(Boolean);
  const r = LOAD_SETTING_FIELDS[f.key].schema.safeParse(lines);
  if (!r.success) {
    const i = r.error.issues[0];
    const at = typeof i.path[0] === 'number' ? ` Line ${i.path[0] + 1} (${lines[i.path[0]]}): ${i.message}.` : ` ${i.message}.`;
    return { field: f.key, error: `${f.label}:${at}` };
  }
  return lines;
}

const isProblem = (v: unknown): v is Problem => typeof v === 'object' && v !== null && 'error' in v;

/** Form → every setting, or the first field that is not valid (with a sentence saying why). */
export function parseForm(f: LoadForm): Parsed {
  const form = f as unknown as Record<string, unknown>;
  const value: Record<string, unknown> = {};
  for (const m of SETTING_FIELDS) {
    let v: unknown = form[m.key];
    if (m.kind === 'gpuLayers') v = f.gpuMode === 'layers' ? Math.max(0, Math.round(f.gpuLayers)) : f.gpuMode;
    else if (m.kind === 'integer') v = parseInt(String(v), m);
    else if (m.kind === 'number') v = parseReal(String(v), m);
    // a blank path: none ('' where that is the default), else unset (a projector: the one paired by its folder)
    else if (m.kind === 'path') v = String(v ?? '').trim() === '' && m.default === undefined ? undefined : String(v ?? '').trim();
    else if (m.kind === 'numbers') v = parseNumbers(String(v), m);
    else if (m.kind === 'adapters') v = parseAdapters(v as AdapterRow[], m);
    // blank text: unset (a chat template: the model's own)
    else if (m.kind === 'text') v = String(v ?? '').trim() === '' ? undefined : v;
    else if (m.kind === 'strings') v = parseStrings(String(v), m);
    if (isProblem(v)) return { ok: false, ...v };
    if (v !== undefined) value[m.key] = v;
  }
  // the combinations llama.cpp asserts on, where the form has every field a rule reads
  for (const r of [...CONTEXT_RULES, ...LOAD_RULES] as readonly Rule<object>[]) {
    if (r.reads.every((k) => k in META) && !r.ok(value)) return { ok: false, field: r.path as SettingKey, error: r.hint };
  }
  return { ok: true, value: value as FullSettings };
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
  // a list or a text cleared is saved empty (what "none" is for them); a path cleared is sent blank (unset: unsetBlankPaths)
  for (const k of diff(value, saved)) {
    out[k] = k === 'tensorSplit' ? (value.tensorSplit ?? []) : META[k].kind === 'text' || META[k].kind === 'path' ? (value[k] ?? '') : value[k];
  }
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
  // the chat template takes no memory: editing it asks for no estimate
  const { chatTemplate: _template, ...rest } = value;
  return { ...rest, tensorSplit: value.tensorSplit ?? [] };
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
