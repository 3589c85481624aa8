/**
 * How a parameter is defined: once, with its zod schema (what the engine accepts), the narrower
 * schema of a saved setting where it differs, its default and its UI metadata (label, help, unit,
 * bounds, step, advanced or not). Every family (sampling.ts, load.ts, context.ts, chat.ts) is a
 * record of these; contract, protocol, store and renderer derive their schemas, key lists and forms
 * from it. Renderer-safe: zod only.
 */
import { z } from 'zod';

export type FieldKind = 'number' | 'integer' | 'boolean' | 'choice' | 'strings' | 'numbers' | 'gpuLayers' | 'json' | 'path' | 'adapters' | 'text';

/** What the UI needs to show a field. */
export interface FieldMeta {
  label: string;
  help: string;
  unit?: string;
  kind: FieldKind;
  /** the bounds of a saved setting (what a form accepts) */
  min?: number;
  max?: number;
  step?: number;
  /** a choice's values and labels, in the order shown */
  options?: readonly { value: string | number; label: string }[];
  /** a list's bounds: entries, and characters per string entry */
  maxItems?: number;
  maxLength?: number;
  /** shown under "Advanced" */
  advanced: boolean;
  /** the part of a form it belongs in (load and context settings) */
  group?: string;
  /** what an absent value means (the engine's default); undefined: decided at run time (e.g. threads: the engine's defaultThreads) */
  default?: unknown;
}

/** A parameter. S: what the engine accepts; U: what a saved setting may be; D: the default's type (undefined: none). */
export interface Field<S extends z.ZodTypeAny = z.ZodTypeAny, U extends z.ZodTypeAny = z.ZodTypeAny, D = unknown> {
  schema: S;
  setting: U;
  default: D;
  meta: FieldMeta;
}

export type Fields = Record<string, Field>;

interface Common {
  label: string;
  help: string;
  unit?: string;
  advanced?: boolean;
  group?: string;
}

function meta(o: Common, rest: Omit<FieldMeta, 'label' | 'help' | 'unit' | 'advanced' | 'group'>): FieldMeta {
  return { label: o.label, help: o.help, ...(o.unit ? { unit: o.unit } : {}), advanced: o.advanced ?? false, ...(o.group ? { group: o.group } : {}), ...rest };
}

/** A real number in [min, max] (`above`: in (min, max]). */
export function number<D extends number | undefined = undefined>(o: Common & { min: number; max: number; step: number; above?: boolean; default?: D }): Field<z.ZodNumber, z.ZodNumber, D> {
  const s = o.above ? z.number().gt(o.min).max(o.max) : z.number().min(o.min).max(o.max);
  return { schema: s, setting: s, default: o.default as D, meta: meta(o, { kind: 'number', min: o.min, max: o.max, step: o.step, default: o.default }) };
}

/**
 * A whole number in [min, max]. A saved setting may be narrower: at least `settingMin`, and never
 * `settingNot` (a value the engine takes but no user wants saved).
 */
export function integer<D extends number | undefined = undefined>(
  o: Common & { min: number; max: number; step?: number; default?: D; settingMin?: number; settingNot?: { value: number; message: string } },
): Field<z.ZodNumber, z.ZodType<number, z.ZodTypeDef, number>, D> {
  const s = z.number().int().min(o.min).max(o.max);
  let setting: z.ZodType<number, z.ZodTypeDef, number> = o.settingMin !== undefined ? z.number().int().min(o.settingMin).max(o.max) : s;
  const not = o.settingNot;
  if (not) setting = setting.refine((v) => v !== not.value, not.message);
  return { schema: s, setting, default: o.default as D, meta: meta(o, { kind: 'integer', min: o.settingMin ?? o.min, max: o.max, step: o.step ?? 1, default: o.default }) };
}

export function boolean<D extends boolean | undefined = undefined>(o: Common & { default?: D }): Field<z.ZodBoolean, z.ZodBoolean, D> {
  return { schema: z.boolean(), setting: z.boolean(), default: o.default as D, meta: meta(o, { kind: 'boolean', default: o.default }) };
}

/** One of a few strings. */
export function choice<const V extends readonly [string, ...string[]], D extends V[number] | undefined = undefined>(
  values: V,
  o: Common & { labels?: Partial<Record<V[number], string>>; default?: D },
): Field<z.ZodEnum<[V[number], ...V[number][]]>, z.ZodEnum<[V[number], ...V[number][]]>, D> {
  const s = z.enum(values as unknown as [V[number], ...V[number][]]);
  const options = values.map((v) => ({ value: v, label: o.labels?.[v as V[number]] ?? v }));
  return { schema: s, setting: s, default: o.default as D, meta: meta(o, { kind: 'choice', options, default: o.default }) };
}

/** One of a few numbers (e.g. a mode 0, 1 or 2). */
export function level<const V extends readonly number[], D extends V[number] | undefined = undefined>(
  values: V,
  o: Common & { labels: Record<V[number], string>; default?: D },
): Field<z.ZodType<V[number]>, z.ZodType<V[number]>, D> {
  const s = z.number().int().refine((n) => values.includes(n), `must be one of ${values.join(', ')}`) as unknown as z.ZodType<V[number]>;
  const options = values.map((v) => ({ value: v, label: o.labels[v as V[number]] }));
  return { schema: s, setting: s, default: o.default as D, meta: meta(o, { kind: 'choice', options, default: o.default }) };
}

/** A list of non-empty strings. */
export function strings<D extends string[] | undefined = undefined>(o: Common & { maxItems: number; maxLength: number; default?: D }): Field<z.ZodArray<z.ZodString>, z.ZodArray<z.ZodString>, D> {
  const s = z.array(z.string().min(1).max(o.maxLength)).max(o.maxItems);
  return { schema: s, setting: s, default: o.default as D, meta: meta(o, { kind: 'strings', maxItems: o.maxItems, maxLength: o.maxLength, default: o.default }) };
}

/** The longest file path a path field takes, in characters. */
export const MAX_PATH_CHARS = 4096;

/** A file's path (absent: none, or what the app decides); as a setting, '' in an update unsets it (unsetBlankPaths). */
export function path(o: Common): Field<z.ZodString, z.ZodString, undefined> {
  const s = z.string().min(1).max(MAX_PATH_CHARS);
  return { schema: s, setting: z.string().max(MAX_PATH_CHARS), default: undefined, meta: meta(o, { kind: 'path', maxLength: MAX_PATH_CHARS }) };
}

/** Settings after an update: a path field without a default given '' is unset (its absence has a meaning of its own). */
export function unsetBlankPaths<T extends Record<string, unknown>>(fields: Fields, settings: T): T {
  const out: Record<string, unknown> = { ...settings };
  for (const [k, v] of Object.entries(out)) {
    if (v === '' && fields[k]?.meta.kind === 'path' && fields[k].default === undefined) delete out[k];
  }
  return out as T;
}

/** A file's path a user sets and may clear: '' is none (the default). */
export function clearablePath(o: Common): Field<z.ZodString, z.ZodString, ''> {
  const s = z.string().max(MAX_PATH_CHARS);
  return { schema: s, setting: s, default: '', meta: meta(o, { kind: 'path', maxLength: MAX_PATH_CHARS, default: '' }) };
}

/** Any other shape (GPU layers, a tensor split, logit biases): the schema is given, the kind says how a form shows it. */
export function custom<S extends z.ZodTypeAny, const D extends z.infer<S> | undefined = undefined>(
  schema: S,
  o: Common & { kind: FieldKind; min?: number; max?: number; step?: number; maxItems?: number; maxLength?: number; default?: D },
): Field<S, S, D> {
  const { kind, min, max, step, maxItems, maxLength } = o;
  return { schema, setting: schema, default: o.default as D, meta: meta(o, { kind, min, max, step, maxItems, ...(maxLength !== undefined ? { maxLength } : {}), default: o.default }) };
}

// ---- deriving schemas from a family ---------------------------------------------------------------

/** Every field optional (absent: the default). */
export type OptionalShape<F extends Fields> = { [K in keyof F]: z.ZodOptional<F[K]['schema']> };
/** Fields with a default get it when absent; the others are optional. */
export type DefaultedShape<F extends Fields> = {
  [K in keyof F]: [F[K]['default']] extends [undefined] ? z.ZodOptional<F[K]['schema']> : z.ZodDefault<F[K]['schema']>;
};
/** Every field optional, with the bounds of a saved setting. */
export type SettingShape<F extends Fields> = { [K in keyof F]: z.ZodOptional<F[K]['setting']> };

function mapFields<F extends Fields, T>(fields: F, fn: (f: Field) => T): { [K in keyof F]: T } {
  const out = {} as { [K in keyof F]: T };
  for (const k of Object.keys(fields) as (keyof F)[]) out[k] = fn(fields[k]);
  return out;
}

export function optionalShape<F extends Fields>(fields: F): OptionalShape<F> {
  return mapFields(fields, (f) => f.schema.optional()) as OptionalShape<F>;
}

export function defaultedShape<F extends Fields>(fields: F): DefaultedShape<F> {
  return mapFields(fields, (f) => (f.default === undefined ? f.schema.optional() : f.schema.default(f.default))) as DefaultedShape<F>;
}

export function settingShape<F extends Fields>(fields: F): SettingShape<F> {
  return mapFields(fields, (f) => f.setting.optional()) as SettingShape<F>;
}

/** The defaults of the fields that have one. */
export function defaultsOf<F extends Fields>(fields: F): { [K in keyof F as [F[K]['default']] extends [undefined] ? never : K]: F[K]['default'] } {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(fields)) if (f.default !== undefined) out[k] = f.default;
  return out as never;
}

/** A field's metadata with its key, for forms. */
export type KeyedMeta<K extends string = string> = FieldMeta & { key: K };

export function metaOf<F extends Fields>(fields: F): KeyedMeta<Extract<keyof F, string>>[] {
  return Object.entries(fields).map(([key, f]) => ({ ...f.meta, key: key as Extract<keyof F, string> }));
}

/** A rule across fields (a combination llama.cpp asserts on): `message` for the API, `hint` for people. */
export interface Rule<T> {
  path: keyof T & string;
  /** the fields the rule reads: a form checks it only when it has all of them */
  reads: readonly (keyof T & string)[];
  ok: (p: T) => boolean;
  message: string;
  hint: string;
}

/** Adds rules to a schema as refinements. */
export function withRules<S extends z.ZodType<T>, T>(schema: S, rules: readonly Rule<T>[]): z.ZodEffects<S> {
  return schema.superRefine((p, ctx) => {
    for (const r of rules) if (!r.ok(p as T)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.message, path: [r.path] });
  });
}

/** The keys' values that are set (a key list from a family's `.keyof()`). */
export function pickKeys<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
