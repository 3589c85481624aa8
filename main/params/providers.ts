/**
 * Remote providers (main/providers/): their kinds and what each kind's API accepts, the presets, the
 * bounds of a provider's settings, and how a thread names a remote model. Kept with the other
 * parameters so the contract, the store, the chat service and the renderer read one definition.
 */
import { z } from 'zod';
import { RANDOM_SEED, type SamplingKey } from './sampling';
import type { RequestSettingKey } from './chat';

/**
 * The kinds of provider: an OpenAI-compatible chat completions API (hosted: OpenAI, OpenRouter, Groq,
 * Mistral), DeepSeek's and Kimi's (the same API, which take a thinking model's reasoning back: see
 * REASONING_SENT), the same API served by a llama.cpp-family server (llama-server, LM Studio, Ollama, vLLM,
 * Jan Server: it also takes llama.cpp's sampler names), Mistral's (OpenAI's shape, but it refuses any
 * field it does not know, stream_options among them, and names the seed random_seed), and Anthropic's
 * Messages API.
 */
export const PROVIDER_KINDS = ['openai', 'deepseek', 'kimi', 'openai-server', 'mistral', 'anthropic'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

export const PROVIDER_KIND_LABELS: Readonly<Record<ProviderKind, string>> = {
  openai: 'OpenAI-compatible API',
  deepseek: 'DeepSeek API (reasoning sent back)',
  kimi: 'Kimi API (Moonshot; reasoning sent back)',
  'openai-server': 'OpenAI-compatible server (llama.cpp sampling)',
  mistral: 'Mistral API',
  anthropic: 'Anthropic Messages API',
};

/**
 * The OpenAI-shaped kinds that take stream_options.include_usage (the usage at the end of a stream);
 * Mistral refuses the field (422 extra_forbidden) and sends the usage anyway.
 */
export const STREAM_USAGE_OPTION: Readonly<Record<Exclude<ProviderKind, 'anthropic'>, boolean>> = { openai: true, deepseek: true, kimi: true, 'openai-server': true, mistral: false };

/**
 * The kinds that are a llama.cpp-family server: it goes on from a reply's last token when asked to
 * continue it (its assistant prefill, as the engine does), and it renders a reply's reasoning sent back
 * with the model's template (REASONING_SENT), so a request it refuses with that reasoning is asked again
 * without it. A hosted API would write a new reply after the one continued: it is not asked to continue.
 */
export const LLAMA_CPP_SERVER: Readonly<Record<ProviderKind, boolean>> = { openai: false, deepseek: false, kimi: false, 'openai-server': true, mistral: false, anthropic: false };

/**
 * Which replies' reasoning a request carries (main/chat/history.ts): none; the turn being answered's
 * (its tool loop's steps, a reply being continued); those and every earlier turn's in which a reply
 * called tools; every reply's.
 */
export const REASONING_SCOPES = ['none', 'turn', 'toolTurns', 'all'] as const;
export type ReasoningScope = (typeof REASONING_SCOPES)[number];

/**
 * Which replies' reasoning a kind is sent, as `reasoning_content`, and what a reply the scope covers is
 * sent when it has none (`absent`; null: nothing; `calls`: only a reply that called tools).
 */
export interface ReasoningSent {
  scope: ReasoningScope;
  absent: { text: string; calls: boolean } | null;
}

/**
 * Which replies' reasoning each kind is sent. A llama.cpp-family server the turn's, as the engine (its
 * template writes them back). DeepSeek's API every reply's, "" for one without: in thinking mode it
 * refuses a request in which a reply of a turn with tools lacks the field (400 "The reasoning_content in
 * the thinking mode must be passed back"), and ignores what it does not need, so every reply goes with it. Kimi's (Moonshot's) the
 * turn's and every earlier turn's that called tools, and "." for a reply that called tools without any
 * (400 "reasoning_content is missing in assistant tool call message"; newer Kimi models take "" as
 * missing). Other hosted APIs none: OpenRouter and Groq name the field `reasoning`, Mistral refuses any
 * field it does not know, and Anthropic's thinking blocks need signatures Hearth does not keep. A local
 * model whose template keeps every turn's reasoning gets `all` (main/chat/steps.ts).
 */
export const REASONING_SENT: Readonly<Record<ProviderKind, ReasoningSent>> = {
  openai: { scope: 'none', absent: null },
  deepseek: { scope: 'all', absent: { text: '', calls: false } },
  kimi: { scope: 'toolTurns', absent: { text: '.', calls: true } },
  'openai-server': { scope: 'turn', absent: null },
  mistral: { scope: 'none', absent: null },
  anthropic: { scope: 'none', absent: null },
};

/** A chat setting the remote request may carry: what the user sets (sampling and request settings). */
type SettingKey = SamplingKey | RequestSettingKey;

/**
 * What each kind's API accepts: a chat setting's name in its request body. A setting a kind does not
 * list is not sent (the API would refuse it, or ignore it while the user thinks it applies). From the
 * APIs' references: OpenAI's chat completions; llama-server's /v1/chat/completions (which reads
 * llama.cpp's sampler names as extra fields; LM Studio, Ollama and vLLM read the common ones);
 * Mistral's chat completions (random_seed); Anthropic's Messages (no seed, penalties or min-p).
 */
const OPENAI_API: Partial<Record<SettingKey, string>> = {
  temperature: 'temperature',
  topP: 'top_p',
  presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty',
  seed: 'seed',
  stop: 'stop',
  maxTokens: 'max_tokens',
  reasoningEffort: 'reasoning_effort',
};

export const PROVIDER_CAPABILITIES: Readonly<Record<ProviderKind, Partial<Record<SettingKey, string>>>> = {
  openai: OPENAI_API,
  deepseek: OPENAI_API,
  kimi: OPENAI_API,
  'openai-server': {
    temperature: 'temperature',
    topK: 'top_k',
    topP: 'top_p',
    minP: 'min_p',
    typicalP: 'typical_p',
    repeatPenalty: 'repeat_penalty',
    repeatLastN: 'repeat_last_n',
    presencePenalty: 'presence_penalty',
    frequencyPenalty: 'frequency_penalty',
    dryMultiplier: 'dry_multiplier',
    dryBase: 'dry_base',
    dryAllowedLength: 'dry_allowed_length',
    dryPenaltyLastN: 'dry_penalty_last_n',
    drySequenceBreakers: 'dry_sequence_breakers',
    xtcProbability: 'xtc_probability',
    xtcThreshold: 'xtc_threshold',
    mirostat: 'mirostat',
    mirostatTau: 'mirostat_tau',
    mirostatEta: 'mirostat_eta',
    topNSigma: 'top_n_sigma',
    dynatempRange: 'dynatemp_range',
    dynatempExponent: 'dynatemp_exponent',
    seed: 'seed',
    stop: 'stop',
    maxTokens: 'max_tokens',
  },
  mistral: {
    temperature: 'temperature',
    topP: 'top_p',
    presencePenalty: 'presence_penalty',
    frequencyPenalty: 'frequency_penalty',
    seed: 'random_seed',
    stop: 'stop',
    maxTokens: 'max_tokens',
  },
  anthropic: {
    temperature: 'temperature',
    topK: 'top_k',
    topP: 'top_p',
    stop: 'stop_sequences',
    maxTokens: 'max_tokens',
  },
};

/** Anthropic's API needs max_tokens: a reply with no limit set (-1) asks for this many. */
export const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;
/** OpenAI's chat completions take at most this many stop strings. */
export const OPENAI_MAX_STOP = 4;
/** Anthropic's temperature range is 0–1: a higher setting is sent as 1. */
export const ANTHROPIC_MAX_TEMPERATURE = 1;

/**
 * The request body fields a thread's chosen settings give for a kind (the chat service passes the
 * settings the user chose, not Hearth's starting values for local models): only the settings the kind
 * accepts, under its names; unset values (a random seed, no stop strings, no limit) are left out.
 */
export function remoteSettings(kind: ProviderKind, settings: Partial<Record<SettingKey, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(PROVIDER_CAPABILITIES[kind]) as [SettingKey, string][]) {
    let v = settings[key];
    if (v === undefined || v === null) continue;
    if (key === 'seed' && v === RANDOM_SEED) continue;
    if (key === 'stop' && Array.isArray(v) && v.length === 0) continue;
    if (key === 'maxTokens' && typeof v === 'number' && v < 1) continue;
    if (kind === 'anthropic' && key === 'temperature' && typeof v === 'number') v = Math.min(v, ANTHROPIC_MAX_TEMPERATURE);
    // OpenAI's API takes at most OPENAI_MAX_STOP stop strings
    if (kind === 'openai' && key === 'stop' && Array.isArray(v)) v = v.slice(0, OPENAI_MAX_STOP);
    out[field] = v;
  }
  if (kind === 'anthropic') {
    // Anthropic's newer models refuse temperature and top_p together: the temperature goes
    if (out.temperature !== undefined) delete out.top_p;
    if (out.max_tokens === undefined) out.max_tokens = ANTHROPIC_DEFAULT_MAX_TOKENS;
  }
  return out;
}

/** An API key as it may be sent in a header: printable ASCII, no spaces. */
export const ProviderApiKey = z.string().trim().min(1).max(4096).regex(/^[\x21-\x7e]+$/, 'an API key is printable characters without spaces (check what was pasted)');

export const MAX_PROVIDERS = 32;
export const MAX_PROVIDER_MODELS = 1000;
export const MAX_PROVIDER_HEADERS = 32;
/** The context a remote model is given (the documents' budget, the meter) when its entry does not say. */
export const DEFAULT_REMOTE_CONTEXT = 32_768;
/** How long a request waits for the provider's answer to begin (the SDKs' timeout), and between two streamed pieces. */
export const PROVIDER_TIMEOUT_MS = 120_000;
/** How long a model list or a check waits. */
export const PROVIDER_LIST_TIMEOUT_MS = 20_000;
/** How long a turn waits for a llama.cpp-family server to say whether its template keeps reasoning (main/providers/server-props.ts). */
export const PROVIDER_PROPS_TIMEOUT_MS = 3_000;

/** A provider's id: made by Hearth when it is added. */
export const ProviderId = z.string().regex(/^[a-z0-9-]{1,64}$/, 'a provider id is lowercase letters, digits and -');

const HeaderName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, 'a header name is letters, digits and !#$%&\'*+.^_`|~-');
/** Header names the SDKs set themselves from the key and the request: not taken as extra headers. */
const RESERVED_HEADERS = new Set(['authorization', 'x-api-key', 'content-type', 'content-length', 'host', 'anthropic-version', 'accept']);

export const ProviderHeaders = z
  .record(HeaderName, z.string().max(4096).regex(/^[\x20-\x7e\t]*$/, 'a header value is one line of printable ASCII'))
  .refine((h) => Object.keys(h).length <= MAX_PROVIDER_HEADERS, `at most ${MAX_PROVIDER_HEADERS} headers`)
  .refine((h) => new Set(Object.keys(h).map((k) => k.toLowerCase())).size === Object.keys(h).length, 'a header is listed twice (names are case-insensitive)')
  .refine((h) => !Object.keys(h).some((k) => RESERVED_HEADERS.has(k.toLowerCase())), 'the API key and the content headers are set by Hearth: remove them from the extra headers');

/** A URL's parts, or null for text that is not one (zod runs refinements after a failed check too). */
function urlOf(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

export const ProviderUrl = z
  .string()
  .trim()
  .max(2048)
  .refine((u) => /^https?:$/.test(urlOf(u)?.protocol ?? ''), 'the base URL is an http:// or https:// address')
  .refine((u) => !urlOf(u)?.username && !urlOf(u)?.password, 'put the key in the API key field, not in the URL')
  .refine((u) => !urlOf(u)?.search && !urlOf(u)?.hash && !/[?#]/.test(u), 'the base URL has no ?query or #fragment (the API\'s paths are added after it)')
  .transform((u) => u.replace(/\/+$/, ''));

/** A model a provider serves, as the picker lists it. */
export const ProviderModel = z
  .object({
    id: z.string().trim().min(1).max(300),
    /** its context in tokens, when known (the documents' budget); null: DEFAULT_REMOTE_CONTEXT */
    contextSize: z.number().int().min(256).max(10_000_000).nullable().default(null),
  })
  .strict();
export type ProviderModel = z.output<typeof ProviderModel>;

/** A provider as it is kept in the settings (its API key is kept in the secret store, never here). */
export const ProviderConfig = z
  .object({
    id: ProviderId,
    name: z.string().trim().min(1).max(60),
    kind: z.enum(PROVIDER_KINDS),
    baseUrl: ProviderUrl,
    headers: ProviderHeaders.default({}),
    models: z
      .array(ProviderModel)
      .max(MAX_PROVIDER_MODELS)
      .default([])
      .refine((ms) => new Set(ms.map((m) => m.id)).size === ms.length, 'a model is listed twice'),
    enabled: z.boolean().default(true),
  })
  .strict();
export type ProviderConfig = z.output<typeof ProviderConfig>;
export type ProviderInput = z.input<typeof ProviderConfig>;

/** The most characters of a shelved provider's JSON (1,000 model ids of 300 plain characters fit), and its deepest nesting (a provider this build writes nests 4 deep). */
export const MAX_SHELVED_CHARS = 1024 * 1024;
export const MAX_SHELVED_DEPTH = 64;

/**
 * Whether `v` is JSON of at most MAX_SHELVED_DEPTH levels and MAX_SHELVED_CHARS characters. The depth is
 * walked without recursion first: a value nested past the stack would make JSON.stringify throw, at a
 * depth that hangs on how deep the stack already is (a read and a write would not agree).
 */
function shelvable(v: unknown): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  for (let seen = 0; stack.length > 0; seen++) {
    const [x, depth] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (depth > MAX_SHELVED_DEPTH || seen > MAX_SHELVED_CHARS) return false;
    for (const child of Object.values(x)) stack.push([child, depth + 1]);
  }
  try {
    return JSON.stringify(v).length <= MAX_SHELVED_CHARS;
  } catch {
    return false;
  }
}

/**
 * A stored provider this build cannot list — a kind or a field of a newer build's, a damaged entry, one
 * past MAX_PROVIDERS — kept as it was stored, so that the build that wrote it finds it again after a
 * downgrade and back (salvageProviderSettings puts it aside; unshelveProviders takes it back once it
 * parses and there is room).
 */
export const ShelvedProvider = z
  .record(z.string(), z.unknown())
  .refine(shelvable, `a shelved provider is at most ${MAX_SHELVED_CHARS} characters of JSON, nested at most ${MAX_SHELVED_DEPTH} deep`);

/** The remote providers' settings' fields (ProviderSettings, below, checks them together). */
const ProviderSettingsFields = z
  .object({
    /** off: no request goes to a remote provider (the picker hides them; a thread on one is refused) */
    allowRemote: z.boolean().default(true),
    list: z
      .array(ProviderConfig)
      .max(MAX_PROVIDERS)
      .default([])
      .refine((ps) => new Set(ps.map((p) => p.id)).size === ps.length, 'two providers have one id'),
    /** the stored providers this build cannot list, as stored (ShelvedProvider); absent when none, as builds before it wrote the setting */
    shelved: z.array(ShelvedProvider).min(1).max(MAX_PROVIDERS).optional(),
  })
  .strict();

/** The remote providers' settings (app settings' `providers`). */
export const ProviderSettings = ProviderSettingsFields
  .refine((s) => !s.shelved?.some((e) => s.list.some((p) => p.id === e.id)), 'a shelved provider has the id of a listed one')
  .refine((s) => new Set(s.shelved?.map((e) => e.id).filter((id) => typeof id === 'string')).size === (s.shelved?.filter((e) => typeof e.id === 'string').length ?? 0), 'two shelved providers have one id');
export type ProviderSettings = z.output<typeof ProviderSettings>;

/** The most entries a salvage names as dropped, and the characters of an id it names (a log line, not a dump). */
const DROPPED_NAMED = 10;
const DROPPED_ID_CHARS = 64;

/**
 * What can be kept of a stored providers setting that does not parse as a whole (a provider of a kind
 * this build does not know, written by a newer one; a damaged entry): the providers that parse, each id
 * once, at most MAX_PROVIDERS; the others shelved as they were (those that do not parse or find no room:
 * an object ShelvedProvider takes, at most MAX_PROVIDERS of them, the list's first, then the stored
 * shelf's), so the next change of the providers writes them back; allowRemote as stored, its default
 * when absent, and off when it is present but not a boolean. `dropped` names what is gone (an id
 * already kept, past the bounds, not an object), `shelved` what was put aside. Null when it is not an
 * object (the setting's default then: no providers). Without it the whole setting fell back to its
 * default: every provider gone from view, and remote providers on.
 */
export function salvageProviderSettings(value: unknown): { value: ProviderSettings; dropped: string[]; shelved: string[] } | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const v = value as { allowRemote?: unknown; list?: unknown; shelved?: unknown };
  const dropped: string[] = [];
  const shelvedNames: string[] = [];
  const list: ProviderConfig[] = [];
  const shelved: Record<string, unknown>[] = [];
  const entries = [...(Array.isArray(v.list) ? v.list : []).map((e, i) => ({ e, name: `provider ${i}` })), ...(Array.isArray(v.shelved) ? v.shelved : []).map((e, i) => ({ e, name: `shelved ${i}` }))];
  for (const { e, name } of entries) {
    const id = typeof (e as { id?: unknown })?.id === 'string' ? (e as { id: string }).id : null;
    const named = `${name}${id !== null ? ` (${id.slice(0, DROPPED_ID_CHARS)})` : ''}`;
    if (id !== null && (list.some((q) => q.id === id) || shelved.some((q) => q.id === id))) {
      dropped.push(named);
      continue;
    }
    const p = ProviderConfig.safeParse(e);
    if (p.success && list.length < MAX_PROVIDERS) {
      list.push(p.data);
      continue;
    }
    const aside = ShelvedProvider.safeParse(e);
    if (aside.success && shelved.length < MAX_PROVIDERS) {
      shelved.push(aside.data);
      if (!name.startsWith('shelved')) shelvedNames.push(named);
    } else {
      dropped.push(named);
    }
  }
  const cap = (names: string[]) => names.length > DROPPED_NAMED && names.splice(DROPPED_NAMED, names.length - DROPPED_NAMED, `and ${names.length - DROPPED_NAMED} more`);
  cap(dropped);
  cap(shelvedNames);
  if (v.list !== undefined && !Array.isArray(v.list)) dropped.push('the list');
  const allowRemote = v.allowRemote === undefined ? ProviderSettingsFields.shape.allowRemote.parse(undefined) : v.allowRemote === true;
  if (v.allowRemote !== undefined && typeof v.allowRemote !== 'boolean') dropped.push('allowRemote (off)');
  return { value: { allowRemote, list, ...(shelved.length > 0 ? { shelved } : {}) }, dropped, shelved: shelvedNames };
}

/**
 * The providers setting with its shelved providers that this build reads (a build that knows their
 * kind, after a downgrade and back) taken back into the list, while there is room and no listed provider
 * has their id or name (two of one name could not be edited); the others stay shelved, as stored.
 */
export function unshelveProviders(s: ProviderSettings): ProviderSettings {
  if (!s.shelved) return s;
  const list = [...s.list];
  const shelved: Record<string, unknown>[] = [];
  const named = (p: ProviderConfig) => list.some((q) => q.id === p.id || q.name.toLowerCase() === p.name.toLowerCase());
  for (const e of s.shelved) {
    const p = ProviderConfig.safeParse(e);
    if (p.success && list.length < MAX_PROVIDERS && !named(p.data)) list.push(p.data);
    else shelved.push(e);
  }
  if (shelved.length === s.shelved.length) return s;
  return { allowRemote: s.allowRemote, list, ...(shelved.length > 0 ? { shelved } : {}) };
}

export const PROVIDER_PRESET_IDS = ['openai', 'anthropic', 'openrouter', 'groq', 'mistral', 'deepseek', 'kimi', 'local'] as const;
export type ProviderPresetId = (typeof PROVIDER_PRESET_IDS)[number];

export interface ProviderPreset {
  id: ProviderPresetId;
  name: string;
  kind: ProviderKind;
  baseUrl: string;
  /** the provider needs an API key (a local server: URL only) */
  needsKey: boolean;
  /** where the key comes from, or what the URL should be */
  help: string;
}

/** What "Add provider" offers. The OpenAI SDK's base URL ends in /v1; Anthropic's does not (the SDK adds it). */
export const PROVIDER_PRESETS: readonly ProviderPreset[] = [
  { id: 'openai', name: 'OpenAI', kind: 'openai', baseUrl: 'https://api.openai.com/v1', needsKey: true, help: 'A key from platform.openai.com → API keys.' },
  { id: 'anthropic', name: 'Anthropic', kind: 'anthropic', baseUrl: 'https://api.anthropic.com', needsKey: true, help: 'A key from console.anthropic.com → API keys.' },
  { id: 'openrouter', name: 'OpenRouter', kind: 'openai', baseUrl: 'https://openrouter.ai/api/v1', needsKey: true, help: 'A key from openrouter.ai → Keys.' },
  { id: 'groq', name: 'Groq', kind: 'openai', baseUrl: 'https://api.groq.com/openai/v1', needsKey: true, help: 'A key from console.groq.com → API keys.' },
  { id: 'mistral', name: 'Mistral', kind: 'mistral', baseUrl: 'https://api.mistral.ai/v1', needsKey: true, help: 'A key from console.mistral.ai → API keys.' },
  { id: 'deepseek', name: 'DeepSeek', kind: 'deepseek', baseUrl: 'https://api.deepseek.com/v1', needsKey: true, help: 'A key from platform.deepseek.com → API keys.' },
  { id: 'kimi', name: 'Kimi (Moonshot)', kind: 'kimi', baseUrl: 'https://api.moonshot.ai/v1', needsKey: true, help: 'A key from platform.moonshot.ai → API keys.' },
  {
    id: 'local',
    name: 'Local server',
    kind: 'openai-server',
    baseUrl: 'http://127.0.0.1:8080/v1',
    needsKey: false,
    help: 'llama-server (:8080/v1), LM Studio (:1234/v1), Ollama (:11434/v1), vLLM (:8000/v1), Jan Server, or another Hearth (:1337/v1): the URL, and a key if the server asks for one.',
  },
];

/** How a thread names a remote model: `remote:<provider id>/<model id>` (a local model is a file path). */
export const REMOTE_MODEL_PREFIX = 'remote:';

export function remoteModelRef(providerId: string, model: string): string {
  return `${REMOTE_MODEL_PREFIX}${providerId}/${model}`;
}

/** A remote model reference's provider and model; null for anything else (a local model's path). */
export function parseRemoteModelRef(ref: string | null | undefined): { providerId: string; model: string } | null {
  if (!ref || !ref.startsWith(REMOTE_MODEL_PREFIX)) return null;
  const rest = ref.slice(REMOTE_MODEL_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) return null;
  const providerId = rest.slice(0, slash);
  if (!ProviderId.safeParse(providerId).success) return null;
  return { providerId, model: rest.slice(slash + 1) };
}
