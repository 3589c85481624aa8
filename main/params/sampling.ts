/**
 * The sampling family: every sampler parameter Hearth passes to llama.cpp's sampler chain
 * (common_params_sampling, built by common_sampler_init). Defaults are llama.cpp's (what an absent
 * value means); `CHAT_DEFAULTS` in chat.ts is what a new install's chat settings start at. The C++
 * side parses the same keys in native/src/params.cpp (test/engine/params-drift.test.ts holds them
 * together).
 */
import { z } from 'zod';
import { MAX_CONTEXT_SIZE } from './context';
import { custom, defaultsOf, integer, level, metaOf, number, optionalShape, settingShape, strings } from './field';

/** llama.cpp's LLAMA_DEFAULT_SEED: a new random seed for every request. */
export const RANDOM_SEED = 0xffffffff;

/** The sampling parameters a user sets (chat settings, assistants, threads), in the order forms show them. */
export const SAMPLING_SETTINGS = {
  temperature: number({ label: 'Temperature', help: 'Higher is more varied; 0 always picks the likeliest token.', min: 0, max: 5, step: 0.05, default: 0.8 }),
  topK: integer({ label: 'Top K', help: 'Sample from this many likeliest tokens (0 = all).', min: 0, max: 1000, default: 40 }),
  topP: number({ label: 'Top P', help: 'Sample from the likeliest tokens adding up to this probability.', min: 0, max: 1, step: 0.01, default: 0.95 }),
  minP: number({ label: 'Min P', help: 'Drop tokens less likely than this fraction of the top one.', min: 0, max: 1, step: 0.01, default: 0.05 }),
  // at least 0.01: llama.cpp divides by it as a float, and a positive double as small as 1e-300 is 0 there
  repeatPenalty: number({ label: 'Repeat penalty', help: 'Above 1 discourages repeating recent tokens.', min: 0.01, max: 10, step: 0.01, default: 1 }),
  seed: integer({ label: 'Seed', help: `Same seed, same reply; blank or ${RANDOM_SEED} = a new random seed every time.`, min: 0, max: RANDOM_SEED, default: RANDOM_SEED }),

  typicalP: number({ label: 'Typical P', help: 'Keep tokens whose surprise is typical (1 = off).', min: 0, max: 1, step: 0.01, default: 1, advanced: true }),
  repeatLastN: integer({ label: 'Repeat window', help: 'Recent tokens the penalties look at (-1 = the whole context, 0 = off).', unit: 'tokens', min: -1, max: MAX_CONTEXT_SIZE, default: 64, advanced: true }),
  presencePenalty: number({ label: 'Presence penalty', help: 'Penalizes any token already used (0 = off).', min: -10, max: 10, step: 0.05, default: 0, advanced: true }),
  frequencyPenalty: number({ label: 'Frequency penalty', help: 'Penalizes tokens by how often they were used (0 = off).', min: -10, max: 10, step: 0.05, default: 0, advanced: true }),
  dryMultiplier: number({ label: 'DRY multiplier', help: 'Penalizes tokens that would extend a repeated sequence (0 = off; 0.8 is a common choice).', min: 0, max: 10, step: 0.05, default: 0, advanced: true }),
  dryBase: number({ label: 'DRY base', help: 'How fast the DRY penalty grows with the repeated length.', min: 1, max: 10, step: 0.05, default: 1.75, advanced: true }),
  dryAllowedLength: integer({ label: 'DRY allowed length', help: 'Repeats up to this many tokens go unpenalized.', unit: 'tokens', min: 0, max: 100, default: 2, advanced: true }),
  dryPenaltyLastN: integer({ label: 'DRY window', help: 'Recent tokens DRY scans for repeats (-1 = the whole context, 0 = off).', unit: 'tokens', min: -1, max: MAX_CONTEXT_SIZE, default: 64, advanced: true }),
  // each breaker costs a scan of the whole vocabulary per request (llama.cpp's DRY sampler): kept few and short
  drySequenceBreakers: strings({ label: 'DRY sequence breakers', help: 'Strings that end a repeated sequence, as a JSON list.', maxItems: 8, maxLength: 20, default: ['\n', ':', '"', '*'], advanced: true }),
  xtcProbability: number({ label: 'XTC probability', help: 'Chance to exclude the top choices for a token (0 = off).', min: 0, max: 1, step: 0.01, default: 0, advanced: true }),
  xtcThreshold: number({ label: 'XTC threshold', help: 'Top choices above this probability may be excluded (above 0.5: off).', min: 0, max: 1, step: 0.01, default: 0.1, advanced: true }),
  mirostat: level([0, 1, 2] as const, { label: 'Mirostat', help: 'Targets a level of surprise instead of the other samplers.', labels: { 0: 'Off', 1: 'Mirostat', 2: 'Mirostat 2.0' }, default: 0, advanced: true }),
  mirostatTau: number({ label: 'Mirostat tau', help: 'The surprise Mirostat aims for (lower: more focused).', min: 0, max: 20, step: 0.1, default: 5, advanced: true }),
  mirostatEta: number({ label: 'Mirostat eta', help: 'How fast Mirostat adapts.', min: 0, max: 1, step: 0.01, default: 0.1, advanced: true }),
  topNSigma: number({ label: 'Top-nσ', help: 'Keep tokens within this many standard deviations of the top logit (-1 = off).', min: -1, max: 10, step: 0.1, default: -1, advanced: true }),
  dynatempRange: number({ label: 'Dynamic temperature range', help: 'Temperature varies by ± this much with the entropy (0 = off).', min: 0, max: 5, step: 0.05, default: 0, advanced: true }),
  dynatempExponent: number({ label: 'Dynamic temperature exponent', help: 'How entropy maps to temperature.', min: 0, max: 10, step: 0.05, default: 1, advanced: true }),
  nProbs: integer({ label: 'Token probabilities', help: 'Keep the log-probabilities of this many likeliest tokens per token (0 = off); press Token probabilities under a reply, then hover a token (kept for this session only).', min: 0, max: 20, default: 0, advanced: true }),
};

/**
 * The largest logit bias either way: finite, so it survives JSON and a float; -LOGIT_BIAS_MAX is far
 * below any real logit, so it still bans a token.
 */
export const LOGIT_BIAS_MAX = 100;

/** Sampling parameters only the engine's callers set (not user settings). */
export const SAMPLING_ENGINE_ONLY = {
  logitBias: custom(z.array(z.object({ token: z.number().int().min(0), bias: z.number().min(-LOGIT_BIAS_MAX).max(LOGIT_BIAS_MAX) }).strict()).max(1024), {
    kind: 'json',
    label: 'Logit bias',
    help: `Added to the logits of the given tokens (-${LOGIT_BIAS_MAX} to ${LOGIT_BIAS_MAX}; -${LOGIT_BIAS_MAX} bans a token).`,
    advanced: true,
    default: [],
  }),
};

export const SAMPLING_FIELDS = { ...SAMPLING_SETTINGS, ...SAMPLING_ENGINE_ONLY };

/** What the engine takes: every sampling parameter, each optional (absent: llama.cpp's default). */
export const Sampling = z.object(optionalShape(SAMPLING_FIELDS)).strict();
export type Sampling = z.infer<typeof Sampling>;
export type SamplingKey = keyof Sampling;
export const SAMPLING_KEYS = Sampling.keyof().options;

/** The user's sampling settings (a subset of Sampling). */
export const SamplingSettings = z.object(settingShape(SAMPLING_SETTINGS)).strict();
export const SAMPLING_SETTING_KEYS = SamplingSettings.keyof().options;

/** llama.cpp's defaults (what the engine uses for an absent parameter). */
export const SAMPLING_DEFAULTS = defaultsOf(SAMPLING_FIELDS);

export const SAMPLING_META = metaOf(SAMPLING_SETTINGS);
