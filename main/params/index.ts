/**
 * Every parameter family, defined once (see field.ts): sampling, model load, context and the chat
 * request; and the shapes the engine reports that the contract passes on (devices.ts). main
 * (contract, store, services), the engine host and the renderer import from here; it pulls in zod
 * and nothing of Node.
 */
import { z } from 'zod';
import { CONTEXT_FIELDS, CONTEXT_RULES, CONTEXT_SETTINGS } from './context';
import { defaultedShape, defaultsOf, metaOf, Rule, settingShape, withRules } from './field';
import { LOAD_FIELDS, LOAD_RULES, LOAD_SETTINGS } from './load';

export * from './field';
export * from './sampling';
export * from './chat';
export * from './grammar-limits';
export * from './json-depth';
export * from './data-text';
export * from './load';
export * from './context';
export * from './devices';
export * from './backends';
export * from './adapters';
export * from './rpc';
export * from './tools';

/** What a load takes: the model load and context families together, defaults applied, combinations checked. */
export const LOAD_PARAM_FIELDS = { ...LOAD_FIELDS, ...CONTEXT_FIELDS };
export const LoadParams = withRules(z.object(defaultedShape(LOAD_PARAM_FIELDS)).strict(), [...CONTEXT_RULES, ...LOAD_RULES] as readonly Rule<object>[]);
export type LoadParams = z.infer<typeof LoadParams>;
export type LoadParamsInput = z.input<typeof LoadParams>;

/** A model's load settings as the user saves them (per model, per thread): every one optional. */
export const LOAD_SETTING_FIELDS = { ...LOAD_SETTINGS, ...CONTEXT_SETTINGS };
export const LoadSettings = z.object(settingShape(LOAD_SETTING_FIELDS)).strict();
export type LoadSettings = z.infer<typeof LoadSettings>;
export type LoadSettingKey = keyof LoadSettings;
export const LOAD_SETTING_KEYS = LoadSettings.keyof().options;
/** The settings' defaults that do not depend on the model or the machine (context: defaultContextSize; threads: the engine's, hardware info cpu.defaultThreads). */
export const LOAD_SETTING_DEFAULTS = defaultsOf(LOAD_SETTING_FIELDS);
export const LOAD_SETTINGS_META = metaOf(LOAD_SETTING_FIELDS);
/**
 * Whether two sets of load settings (or parameters) are the same, whatever the order of their keys:
 * what decides whether a loaded copy of a model still runs with its saved settings (the chat's model,
 * the API server's and the documents' copies reload when they do not).
 */
export function sameLoadSettings(a: LoadParamsInput | null | undefined, b: LoadParamsInput | null | undefined): boolean {
  return canonical(a ?? null) === canonical(b ?? null);
}
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Record<string, unknown>).filter(([, y]) => y !== undefined).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0)))
      : x,
  );
/** The order of the load settings form's parts. */
export const LOAD_GROUPS = ['GPU offload', 'Context', 'CPU and batches', 'Memory', 'Several GPUs', 'Adapters', 'Speculative decoding', 'Images', 'Chat template'] as const;
export * from './docs';
export * from './providers';
