/**
 * The chat request family: how one generation runs (length, stop strings, overflow, constraints),
 * beside the sampling family; and the user's chat settings, which are both families' user-facing
 * fields. The C++ side reads these in native/src/params.cpp (parseRequest).
 */
import { z } from 'zod';
import { MAX_CONTEXT_SIZE } from './context';
import { boolean, choice, custom, defaultedShape, defaultsOf, integer, MAX_PATH_CHARS, metaOf, settingShape, strings } from './field';
import { SAMPLING_META, SAMPLING_SETTING_KEYS, SamplingSettings } from './sampling';
import { grammarProblem, GrammarSafeSchema } from './grammar-limits';
import { ADAPTER_REQUEST } from './adapters';

/** The longest reply one request may ask for, in tokens. */
export const MAX_TOKENS = 10_000_000;

/** The longest message a user sends or edits, in characters. */
export const MAX_MESSAGE_CHARS = 1_000_000;

/**
 * The most characters one chat request may carry over all its messages (contents, reasoning, tool
 * calls): the engine renders and tokenizes the whole conversation for every reply, so a thread of
 * many long messages is refused with a clear error instead of tying the engine up. Far more than any
 * context holds.
 */
export const MAX_CHAT_CHARS = 4_000_000;

/** The most characters one image part's data (base64) may have: an image of up to 24 MiB. */
export const MAX_IMAGE_CHARS = 32 * 1024 * 1024;

/** The most images one chat request may carry. */
export const MAX_IMAGES = 64;

/** The most bytes one image may have: what base64 fits in MAX_IMAGE_CHARS. */
export const MAX_IMAGE_BYTES = (MAX_IMAGE_CHARS / 4) * 3;

/**
 * The most pixels (width x height) the engine reads of one image, and of all the images of one
 * request together (decoding holds 3 bytes a pixel of each until the projector has them all). These
 * must equal native/src/vision.cpp's MAX_IMAGE_PIXELS and MAX_REQUEST_PIXELS (test/engine/vision.test.ts
 * holds them together): the image store refuses an image over the first, a turn sends a thread's older
 * images while they fit the second.
 */
export const MAX_IMAGE_PIXELS = 8192 * 8192;
export const MAX_REQUEST_PIXELS = 2 * MAX_IMAGE_PIXELS;

/** An image's width and height in pixels, as the engine reads one: whole, at least 1, at most MAX_IMAGE_PIXELS together. */
export const ImageSize = z
  .object({ width: z.number().int().min(1), height: z.number().int().min(1) })
  .strict()
  .refine((s) => s.width * s.height <= MAX_IMAGE_PIXELS, (s) => ({ message: `an image of ${s.width}x${s.height} pixels; at most ${MAX_IMAGE_PIXELS} are read` }));
export type ImageSize = z.infer<typeof ImageSize>;

/**
 * The image requests (images.store, images.read: an image's bytes in or out) one page may have running
 * at once. Browser mode's socket runs no more and queues the rest (main/browser/ws-bridge.ts); the
 * renderer keeps to it, so a page never waits in that queue.
 */
export const IMAGE_CALLS_IN_FLIGHT = 2;

/**
 * The image kinds llama.cpp's mtmd decodes (stb_image: PNG, JPEG, GIF, BMP), each with the bytes its
 * files start with. The app stores only these (main/chat/images.ts); the composer's picker offers them.
 */
export const IMAGE_KINDS = [
  { name: 'PNG', mimeType: 'image/png', ext: 'png', magic: [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]] },
  { name: 'JPEG', mimeType: 'image/jpeg', ext: 'jpg', magic: [[0xff, 0xd8, 0xff]] },
  { name: 'GIF', mimeType: 'image/gif', ext: 'gif', magic: [[0x47, 0x49, 0x46, 0x38, 0x37, 0x61], [0x47, 0x49, 0x46, 0x38, 0x39, 0x61]] },
  { name: 'BMP', mimeType: 'image/bmp', ext: 'bmp', magic: [[0x42, 0x4d]] },
] as const;
export type ImageKind = (typeof IMAGE_KINDS)[number];
export type ImageMimeType = ImageKind['mimeType'];
export const IMAGE_MIME_TYPES = IMAGE_KINDS.map((k) => k.mimeType) as [ImageMimeType, ...ImageMimeType[]];

/** The kind of an image file from its first bytes, or null for anything else (WEBP, HEIC, not an image). */
export function imageKindOf(bytes: Uint8Array): ImageKind | null {
  return IMAGE_KINDS.find((k) => k.magic.some((m) => m.length <= bytes.length && m.every((b, i) => bytes[i] === b))) ?? null;
}

/** The kinds accepted, in words ("PNG, JPEG, GIF or BMP"). */
export const IMAGE_KINDS_TEXT = `${IMAGE_KINDS.slice(0, -1).map((k) => k.name).join(', ')} or ${IMAGE_KINDS[IMAGE_KINDS.length - 1].name}`;

/** A message's text part. */
export const TextPart = z.object({ type: z.literal('text'), text: z.string() }).strict();
/**
 * A message's image part, for a model with a projector (load parameter mmproj): the image file's bytes
 * as base64 (or a data: URL), or its path on the engine's machine (the app's own stored images).
 * PNG, JPEG, BMP or GIF (what llama.cpp's mtmd decodes).
 */
export const ImagePart = z
  .object({ type: z.literal('image'), data: z.string().min(1).max(MAX_IMAGE_CHARS).optional(), path: z.string().min(1).max(MAX_PATH_CHARS).optional() })
  .strict()
  .refine((p) => (p.data === undefined) !== (p.path === undefined), { message: 'an image part needs data (base64) or a path, one of them' });
export const ContentPart = z.union([TextPart, ImagePart]);
export type ContentPart = z.infer<typeof ContentPart>;
/** A message's content: text, or parts (text and images). */
export const MessageContent = z.union([z.string(), z.array(ContentPart).min(1)]);
export type MessageContent = z.infer<typeof MessageContent>;

/** The text of a message's content (its text parts, joined by newlines). */
export function contentText(c: MessageContent | null | undefined): string {
  if (c == null) return '';
  if (typeof c === 'string') return c;
  return c.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('\n');
}

/** The images of a chat request's messages. */
export function imageCount(messages: readonly { content?: MessageContent | null }[]): number {
  let n = 0;
  for (const m of messages) if (Array.isArray(m.content)) n += m.content.filter((p) => p.type === 'image').length;
  return n;
}

/** The characters a chat request's messages carry, as MAX_CHAT_CHARS counts them (an image's data apart: MAX_IMAGE_CHARS). */
export function chatChars(messages: readonly { content?: MessageContent | null; reasoning_content?: string; tool_calls?: readonly { function: { name: string; arguments: string } }[] }[]): number {
  let n = 0;
  for (const m of messages) {
    n += contentText(m.content).length + (m.reasoning_content?.length ?? 0);
    for (const c of m.tool_calls ?? []) n += c.function.name.length + c.function.arguments.length;
  }
  return n;
}

/** The error a chat request over MAX_CHAT_CHARS gets. */
export function chatTooLong(chars: number): string {
  return `the conversation has ${chars} characters; one request may carry at most ${MAX_CHAT_CHARS}. Start a new thread or delete long messages.`;
}

export const JsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValue), z.record(JsonValue)]),
);

/**
 * What nProbs adds to a result, per generated token: its text and log-probability, and the nProbs
 * likeliest tokens' (from the model's distribution before sampling, as llama-server's default),
 * likeliest first. Every log-probability is <= 0.
 */
export const TokenLogprobs = z.object({
  id: z.number().int(),
  text: z.string(),
  logprob: z.number(),
  top: z.array(z.object({ id: z.number().int(), text: z.string(), logprob: z.number() })),
});
export type TokenLogprobs = z.infer<typeof TokenLogprobs>;

/** Request parameters a user sets (with the sampling settings), in the order forms show them. */
export const REQUEST_SETTINGS = {
  maxTokens: integer({
    label: 'Max tokens',
    help: 'Longest reply; -1 = until the context is full.',
    unit: 'tokens',
    min: -1,
    max: MAX_TOKENS,
    default: -1,
    // the engine takes 0 (nothing generated, the cache untouched); as a setting it would make every reply empty
    settingNot: { value: 0, message: 'maxTokens must be -1 or at least 1' },
  }),
  stop: strings({ label: 'Stop strings', help: 'The reply ends before any of these, as a JSON list.', maxItems: 16, maxLength: 1000, default: [], advanced: true }),
  // llama.cpp's reasoning budget sampler (common/reasoning-budget.h), for templates with thinking tags
  reasoningBudget: integer({
    label: 'Reasoning budget',
    help: 'Most tokens a thinking model reasons for before it must answer (-1 = no limit; only for chat templates with thinking tags).',
    unit: 'tokens',
    min: -1,
    max: MAX_TOKENS,
    default: -1,
    advanced: true,
  }),
  // chat_template_kwargs.reasoning_effort, as llama-server passes it: templates that read it (gpt-oss) use it
  reasoningEffort: choice(['low', 'medium', 'high'] as const, {
    label: 'Reasoning effort',
    help: 'How long to think, for chat templates that read reasoning_effort (gpt-oss); blank = the template\'s default.',
    labels: { low: 'Low', medium: 'Medium', high: 'High' },
    advanced: true,
  }),
  // chat_template_kwargs.preserve_reasoning, as llama-server's --reasoning-preserve (on by default there too):
  // templates that can keep earlier turns' reasoning keep it, and the app sends it to them (main/chat/history.ts)
  preserveReasoning: boolean({
    label: 'Keep earlier reasoning',
    help: "Earlier replies' reasoning goes back to a model whose chat template keeps it (GLM-4.7, DeepSeek V4, Nemotron 3, LFM2.5, MiniMax-M3, Kimi-K3), local or on llama-server: it reads what it thought, and the next turn reuses its cache, at the cost of context. Off: only the current turn's.",
    default: true,
    advanced: true,
  }),
};

/**
 * A grammar starting with this is an llguidance (Lark) grammar: llama.cpp's common_sampler_init aborts
 * the process on it unless built with LLAMA_LLGUIDANCE, which Hearth's build is not, so it is refused
 * (native/src/params.cpp refuses it too).
 */
export const LLGUIDANCE_PREFIX = '%llguidance';

/** Request parameters only the engine's callers set. */
export const REQUEST_ENGINE_ONLY = {
  overflow: choice(['error', 'truncateMiddle', 'shift'] as const, {
    label: 'When the context is full',
    help: 'error: refuse; truncateMiddle: drop the oldest turns; shift: keep the start and the most recent tokens.',
    default: 'error',
  }),
  // checked without recursion and against the shapes llama.cpp's grammar setup cannot take (grammar-limits.ts)
  jsonSchema: custom(GrammarSafeSchema, { kind: 'json', label: 'JSON schema', help: 'The reply follows this JSON schema.' }),
  grammar: custom(
    z
      .string()
      .refine((g) => !g.startsWith(LLGUIDANCE_PREFIX), { message: 'llguidance grammars are not supported in this build' })
      .superRefine((g, ctx) => {
        const problem = grammarProblem(g);
        if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `the grammar has ${problem}` });
      }),
    { kind: 'json', label: 'Grammar', help: 'A GBNF grammar the reply follows (llguidance grammars, starting with %llguidance, are not supported).' },
  ),
  ignoreEos: boolean({ label: 'Ignore end of text', help: 'Go on past the end-of-text token.', default: false }),
  dataMarks: boolean({
    label: 'Data marks',
    help: "A chat's message text between U+FDD0 and U+FDD1 is data: special-token text in it stays text, and the marks are removed (data-text.ts).",
    default: false,
  }),
  seq: integer({ label: 'Sequence', help: 'The KV cache sequence (slot) to run on.', min: 0, max: 255, default: 0 }),
  ...ADAPTER_REQUEST,
  // llama-server's n_keep: what its context shift keeps (absent: the system prompt, which llama-server cannot know)
  nKeep: integer({
    label: 'Tokens kept on a shift',
    help: 'With overflow "shift": the tokens a context shift keeps after the BOS, as llama-server\'s n_keep (-1 = the whole prompt). Absent: a chat\'s system prompt, else BOS.',
    unit: 'tokens',
    min: -1,
    max: MAX_CONTEXT_SIZE,
  }),
};

export const REQUEST_FIELDS = { ...REQUEST_SETTINGS, ...REQUEST_ENGINE_ONLY };

/** What one generation request takes beside its input and its sampling (defaults applied). */
export const RequestOptions = z.object(defaultedShape(REQUEST_FIELDS)).strict();
export const REQUEST_KEYS = RequestOptions.keyof().options;
export const REQUEST_DEFAULTS = defaultsOf(REQUEST_FIELDS);

export const RequestSettings = z.object(settingShape(REQUEST_SETTINGS)).strict();
export const REQUEST_SETTING_KEYS = RequestSettings.keyof().options;
export type RequestSettingKey = (typeof REQUEST_SETTING_KEYS)[number];

/**
 * The user's chat settings (app defaults, an assistant's, a thread's overrides): sampling and
 * request settings, every one optional.
 */
export const ChatSettings = SamplingSettings.merge(RequestSettings).strict();
export type ChatSettings = z.infer<typeof ChatSettings>;
export type ChatSettingKey = keyof ChatSettings;
export const CHAT_SETTING_KEYS = ChatSettings.keyof().options;
export { SAMPLING_SETTING_KEYS };

/** Every chat setting's metadata, in form order (the UI generates its fields from this). */
export const CHAT_SETTINGS_META = [...SAMPLING_META, ...metaOf(REQUEST_SETTINGS)];

/** What a new install's chat settings start at (Hearth's choice; the engine's own defaults are in the fields). */
export const CHAT_DEFAULTS = {
  temperature: 0.7,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1.1,
  // until the context is full: a reply then ends by itself or with the context, and the chat says
  // which (a fixed number larger than the context would only look like a limit)
  maxTokens: -1,
} satisfies ChatSettings;

type ChatShape = typeof ChatSettings.shape;
type WithDefaults<D> = { [K in keyof ChatShape]: K extends keyof D ? (ChatShape[K] extends z.ZodOptional<infer X> ? z.ZodDefault<X> : never) : ChatShape[K] };

function withDefaults<D extends Partial<Record<ChatSettingKey, unknown>>>(defaults: D): z.ZodObject<WithDefaults<D>, 'strict'> {
  const shape: Record<string, z.ZodTypeAny> = { ...ChatSettings.shape };
  for (const [k, v] of Object.entries(defaults)) shape[k] = (ChatSettings.shape[k as ChatSettingKey] as z.ZodOptional<z.ZodTypeAny>).unwrap().default(v);
  return z.object(shape).strict() as unknown as z.ZodObject<WithDefaults<D>, 'strict'>;
}

/** The app's chat defaults as stored: CHAT_DEFAULTS where a value is missing. */
export const ChatDefaults = withDefaults(CHAT_DEFAULTS);
