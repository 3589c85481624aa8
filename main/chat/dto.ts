/**
 * The chat service's records in the IPC contract's shapes: threads, messages (with why a reply
 * ended, from the engine's result), assistants and sampling.
 */
import type { AssistantDTO, MessageDTO, SamplingDTO, ThreadDTO } from '../ipc/contract';
import type { GenerateResult } from '../engine/protocol';
import { CHAT_SETTING_KEYS, pickKeys } from '../params';
import type { Assistant, FinishReason, MessageView, Thread } from '../store';

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
