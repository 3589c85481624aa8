/** Input validation: zod schemas for ids, texts and parameter objects, mapped to typed StoreErrors. */
import { z } from 'zod';
import { AttachmentDTO } from '../ipc/contract';
import { ChatSettings, LOAD_SETTINGS_META, LoadSettings, TENSOR_SPLIT_MAX } from '../params';
import { StoreError } from './errors';
import { FINISH_REASONS, MESSAGE_STATUSES, ROLES } from './types';

export const LIMITS = {
  idChars: 64,
  titleChars: 500,
  contentBytes: 4 * 1024 * 1024,
  instructionsChars: 100_000,
  nameChars: 200,
  modelRefChars: 4096,
  errorChars: 64 * 1024,
  jsonFieldBytes: 4 * 1024 * 1024,
  attachments: 100,
  toolCalls: 256,
  pageMax: 500,
  searchQueryChars: 1000,
  /**
   * The most bytes of one imported conversation read at once: a Jan thread's file, Hearth JSON given
   * whole, one conversation of a streamed export (main/data/formats' JSON_LIMITS). Its parsed objects
   * can take many times its bytes (a file of `[],[],…` about 14 times).
   */
  conversationBytes: 32 * 1024 * 1024,
  /**
   * The most bytes of one thread of Hearth JSON read at once: Hearth's own export, whose chats may be
   * larger than another app's conversation (the whole file's cap before it was streamed); what it builds
   * is bounded by OWN_ELEMENT_VALUES (main/data/formats/hearth.ts), a one-thread file's messages together.
   */
  ownThreadBytes: 512 * 1024 * 1024,
  /**
   * The most nodes (messages, left-out nodes, versions) one imported conversation may have: a larger one
   * is skipped with a note (its tree is built in one synchronous pass on the main process).
   */
  conversationNodes: 100_000,
  /** How deeply another app's export may nest its arrays and objects (none is built past a dozen levels). */
  importDepth: 64,
} as const;

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** Marks a refinement failure as "too large" so that it maps to StoreError('too_large'). */
const TOO_LARGE = { tooLarge: true };

// Length is part of the pattern so that an overlong id is reported as malformed ('invalid_input'), not 'too_large'.
export const idSchema = z.string().regex(new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,${LIMITS.idChars - 1}}$`), 'malformed id');

export const titleSchema = z.string().max(LIMITS.titleChars);
export const contentSchema = z.string().refine((s) => s.length <= LIMITS.contentBytes / 4 || utf8Bytes(s) <= LIMITS.contentBytes,
  { message: `over ${LIMITS.contentBytes} bytes`, params: TOO_LARGE });
export const modelRefSchema = z.string().min(1).max(LIMITS.modelRefChars);
/** The names of the remote providers a thread's messages went to. */
export const remoteSentSchema = z.array(z.string().min(1).max(200)).max(64);
export const instructionsSchema = z.string().max(LIMITS.instructionsChars);

/** A chat's sampling and request settings, and a model's load settings: defined once in main/params. */
export const samplingSchema = ChatSettings;
export const loadSchema = LoadSettings;

/** The load settings' adapter lists (LOAD_SETTINGS' fields of kind 'adapters'). */
const ADAPTER_KEYS = LOAD_SETTINGS_META.filter((f) => f.kind === 'adapters').map((f) => f.key);

/**
 * Load settings as stored: a list saved before each adapter file could be listed only once keeps each
 * path's first entry (the engine applied that file once anyway), a split mode "row" saved before it
 * was withdrawn reads as "layer", and a tensor split saved before its bound is scaled into it, so the
 * rest of the settings is not lost to the rule. What comes in new (IPC, CLI, API) is held to `loadSchema` as it is.
 */
export const storedLoadSchema = z.preprocess((v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const out: Record<string, unknown> = { ...(v as Record<string, unknown>) };
  // split mode "row", offered before, never loaded in this llama.cpp (only SYCL has split buffers)
  if (out.splitMode === 'row') out.splitMode = 'layer';
  // proportions saved before they were bounded: scaled into the bound, the same proportions
  const split = out.tensorSplit;
  if (Array.isArray(split) && split.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0)) {
    const top = Math.max(...(split as number[]));
    if (top > TENSOR_SPLIT_MAX) out.tensorSplit = (split as number[]).map((x) => (x * TENSOR_SPLIT_MAX) / top);
  }
  for (const k of ADAPTER_KEYS) {
    const list = out[k];
    if (!Array.isArray(list)) continue;
    const seen = new Set<unknown>();
    out[k] = list.filter((e) => {
      const p = typeof e === 'object' && e !== null ? (e as { path?: unknown }).path : undefined;
      if (p === undefined || !seen.has(p)) {
        seen.add(p);
        return true;
      }
      return false;
    });
  }
  return out;
}, loadSchema);

export const overridesSchema = z.object({
  instructions: instructionsSchema.nullable(),
  sampling: samplingSchema,
  load: loadSchema,
}).partial().strict();

/**
 * A JSON value (a tool call's arguments or result) of at most LIMITS.jsonFieldBytes as JSON. One that
 * cannot be written as JSON (nested past the stack's depth: `[[[…]]]` 200,000 deep, a cycle, a BigInt)
 * is an issue like any other, not the error JSON.stringify throws.
 */
const jsonValueSize = z.unknown().superRefine((v, ctx) => {
  if (v === undefined) return;
  let bytes: number;
  try {
    bytes = utf8Bytes(JSON.stringify(v) ?? '');
  } catch (e) {
    const message = (e as Error).message;
    if (!/string length/i.test(message)) { // longer than a string can be is too large, below
      const why = /call stack/i.test(message) ? 'nested too deeply' : message;
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `not a JSON value that can be kept (${why})` });
      return;
    }
    bytes = Infinity;
  }
  if (bytes > LIMITS.jsonFieldBytes) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'value too large', params: TOO_LARGE });
});

export const toolCallSchema = z.object({
  id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  arguments: jsonValueSize.optional(),
  result: jsonValueSize.optional(),
  error: z.string().max(LIMITS.errorChars).optional(),
}).strict();

/** A message's attachment: defined with the contract (the layer below). */
export const attachmentSchema = AttachmentDTO;

export const metricsSchema = z.object({
  promptTokens: z.number().int().min(0),
  cachedTokens: z.number().int().min(0),
  generatedTokens: z.number().int().min(0),
  ttftMs: z.number().min(0),
  promptTps: z.number().min(0),
  genTps: z.number().min(0),
  durationMs: z.number().min(0),
  contextSize: z.number().int().min(0),
  draftTokens: z.number().int().min(0),
  acceptedTokens: z.number().int().min(0),
}).partial().strict();

export const roleSchema = z.enum(ROLES);
export const statusSchema = z.enum(MESSAGE_STATUSES);
export const finalStatusSchema = z.enum(['done', 'error', 'interrupted', 'aborted']);
export const finishReasonSchema = z.enum(FINISH_REASONS);

export const newThreadSchema = z.object({
  title: titleSchema.optional(),
  assistantId: idSchema.nullable().optional(),
  model: modelRefSchema.nullable().optional(),
  pinned: z.boolean().optional(),
  overrides: overridesSchema.optional(),
}).strict();

export const threadPatchSchema = z.object({
  title: titleSchema.optional(),
  assistantId: idSchema.nullable().optional(),
  model: modelRefSchema.nullable().optional(),
  overrides: overridesSchema.optional(),
  remoteSent: remoteSentSchema.optional(),
}).strict();

export const pageSchema = z.object({
  limit: z.number().int().min(1).max(LIMITS.pageMax).optional(),
  offset: z.number().int().min(0).optional(),
  archived: z.boolean().optional(),
  cursor: z.string().regex(/^[01]\.\d{1,16}\.\d{1,16}$/, 'malformed cursor').optional(),
}).strict();

/** Thread list cursor: the sort key (pinned, updatedAt, tiebreak) of the last thread of a page. */
export function encodeCursor(pinned: boolean, updatedAt: number, tiebreak: number): string {
  return `${pinned ? 1 : 0}.${updatedAt}.${tiebreak}`;
}
export function decodeCursor(cursor: string): { pinned: number; updatedAt: number; tiebreak: number } {
  const [p, u, t] = cursor.split('.').map(Number);
  return { pinned: p, updatedAt: u, tiebreak: t };
}

export const newMessageSchema = z.object({
  threadId: idSchema,
  role: roleSchema,
  content: contentSchema.optional(),
  reasoning: contentSchema.optional(),
  parentId: idSchema.nullable().optional(),
  toolCalls: z.array(toolCallSchema).max(LIMITS.toolCalls).nullable().optional(),
  toolCallId: z.string().min(1).max(256).nullable().optional(),
  attachments: z.array(attachmentSchema).max(LIMITS.attachments).optional(),
  status: finalStatusSchema.optional(),
  finishReason: finishReasonSchema.nullable().optional(),
  error: z.string().max(LIMITS.errorChars).nullable().optional(),
  model: modelRefSchema.nullable().optional(),
  metrics: metricsSchema.nullable().optional(),
}).strict();

export const messagePatchSchema = z.object({
  content: contentSchema.optional(),
  reasoning: contentSchema.optional(),
  toolCalls: z.array(toolCallSchema).max(LIMITS.toolCalls).nullable().optional(),
  attachments: z.array(attachmentSchema).max(LIMITS.attachments).optional(),
  status: finalStatusSchema.optional(),
  error: z.string().max(LIMITS.errorChars).nullable().optional(),
  metrics: metricsSchema.nullable().optional(),
}).strict();

export const beginReplySchema = z.object({
  threadId: idSchema,
  parentId: idSchema.nullable().optional(),
  model: modelRefSchema.nullable().optional(),
  role: z.enum(['assistant', 'tool']).optional(),
}).strict();

export const finishReplySchema = z.object({
  status: finalStatusSchema,
  finishReason: finishReasonSchema.nullable().optional(),
  error: z.string().max(LIMITS.errorChars).nullable().optional(),
  metrics: metricsSchema.nullable().optional(),
  toolCalls: z.array(toolCallSchema).max(LIMITS.toolCalls).nullable().optional(),
  model: modelRefSchema.nullable().optional(),
}).strict();

function describe(issues: z.ZodIssue[]): string {
  return issues.slice(0, 3).map((i) => `${i.path.length ? i.path.join('.') : 'value'}: ${i.message}`).join('; ');
}

/** Parses `value` with `schema`; a failure throws StoreError 'too_large' (size limits) or 'invalid_input'. */
export function check<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const tooLarge = r.error.issues.some((i) =>
    (i.code === 'too_big' && (i.type === 'string' || i.type === 'array')) ||
    (i.code === 'custom' && (i.params as { tooLarge?: boolean } | undefined)?.tooLarge));
  throw new StoreError(tooLarge ? 'too_large' : 'invalid_input', `${what}: ${describe(r.error.issues)}`,
    { issues: r.error.issues.slice(0, 10) });
}

export function checkId(id: unknown, what = 'id'): string {
  return check(idSchema, id, what);
}

/** Throws 'too_large' if appending `extra` characters to text of `current` bytes passes the content limit. */
export function checkAppend(currentBytes: number, extra: string): number {
  const next = currentBytes + utf8Bytes(extra);
  if (next > LIMITS.contentBytes) throw new StoreError('too_large', `message content over ${LIMITS.contentBytes} bytes`);
  return next;
}

export { utf8Bytes };
