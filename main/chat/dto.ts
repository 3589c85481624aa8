/**
 * The chat service's records in the IPC contract's shapes: threads, messages (with why a reply
 * ended, from the engine's result), assistants and sampling.
 */
import { type AssistantDTO, type MessageDTO, type SamplingDTO, type ThreadDTO, ToolResultDTO, type ToolCallDTO } from '../ipc/contract';
import type { GenerateResult } from '../engine/protocol';
import { CHAT_SETTING_KEYS, pickKeys } from '../params';
import type { Assistant, FinishReason, MessageView, Thread, ToolCall } from '../store';

/** What a tool message keeps in its call's `result` (the store's tool_calls column): its outcome beside the text. */
export const StoredToolResult = ToolResultDTO.pick({ source: true, state: true, durationMs: true, truncated: true });
export type StoredToolResult = typeof StoredToolResult._type;

/** A stored call's arguments as the JSON text the model wrote. */
export function argumentsText(c: ToolCall): string {
  return typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {});
}

/** A call's arguments as the object they must be (empty text: no arguments); null when the model wrote something else. */
export function callArguments(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text.trim() || '{}');
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function toolCallsOf(m: { role: string; toolCalls: ToolCall[] | null }): ToolCallDTO[] {
  return m.role === 'assistant' ? (m.toolCalls ?? []).map((c) => ({ id: c.id, name: c.name, arguments: argumentsText(c) })) : [];
}

/** A tool message's outcome; null for another message, or one whose stored outcome does not parse. */
function toolOf(m: { role: string; toolCalls: ToolCall[] | null; toolCallId: string | null }): ToolResultDTO | null {
  const c = m.role === 'tool' ? m.toolCalls?.[0] : undefined;
  if (!c) return null;
  const r = StoredToolResult.safeParse(c.result);
  return r.success ? { callId: m.toolCallId ?? c.id, name: c.name, arguments: argumentsText(c), ...r.data } : null;
}

export function toThreadDTO(t: Thread): ThreadDTO {
  return {
    id: t.id,
    title: t.title,
    assistantId: t.assistantId,
    modelPath: t.model,
    pinned: t.pinned,
    archived: t.archived,
    temporary: t.temporary,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
    remoteSent: t.remoteSent ?? [],
  };
}

export function toMessageDTO(m: MessageView | (Omit<MessageView, 'alternatives'> & { alternatives?: MessageView['alternatives'] })): MessageDTO {
  const mm = m.metrics;
  return {
    id: m.id,
    threadId: m.threadId,
    role: m.role,
    content: m.content,
    reasoning: m.reasoning,
    status: m.status,
    finishReason: m.finishReason,
    error: m.error,
    model: m.model,
    metrics: mm
      ? {
          promptTokens: mm.promptTokens ?? 0,
          cachedTokens: mm.cachedTokens ?? 0,
          generatedTokens: mm.generatedTokens ?? 0,
          ttftMs: mm.ttftMs ?? 0,
          promptTps: mm.promptTps ?? 0,
          genTps: mm.genTps ?? 0,
          contextSize: mm.contextSize ?? 0,
          ...(mm.draftTokens ? { draftTokens: mm.draftTokens, acceptedTokens: mm.acceptedTokens ?? 0 } : {}),
        }
      : null,
    createdAt: m.createdAt,
    parentId: m.parentId,
    alternative: m.alternatives ? { index: m.alternatives.index, count: m.alternatives.count } : { index: 0, count: 1 },
    attachments: m.attachments,
    toolCalls: toolCallsOf(m),
    tool: toolOf(m),
    sources: m.role === 'assistant' ? m.sources : null,
  };
}

export function toAssistantDTO(a: Assistant, defaultId: string): AssistantDTO {
  const s = a.sampling ?? {};
  return {
    id: a.id,
    name: a.name,
    emoji: a.avatar ?? '🙂',
    instructions: a.instructions,
    sampling: pickSampling(s),
    modelPath: a.model,
    isDefault: a.id === defaultId,
    tools: a.tools,
  };
}

/** The chat settings of a stored record (the keys from main/params). */
export function pickSampling(s: SamplingDTO): SamplingDTO {
  return pickKeys(s, CHAT_SETTING_KEYS);
}

/** Why a reply ended, from the engine's result: its stop reason, with a full context told apart from the max tokens limit. */
export function finishReasonOf(r: GenerateResult): FinishReason {
  if (r.contextFull) return 'contextFull';
  return r.stopReason === 'length' ? 'maxTokens' : r.stopReason;
}
