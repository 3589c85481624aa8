/**
 * How a turn with tools reads from the thread's path: user → reply (toolCalls) → one role:'tool'
 * message per call (chained) → the next reply → … A tool message is shown in the card of the call it
 * answers (never as its own message), found among the tool messages right after the reply that made
 * the call (call ids are the model's, so they may repeat across replies).
 */
import type { MessageDTO } from '../../../../main/ipc/contract';
import type { RootState } from '../../app/store';

/** The tool message answering a reply's call, if it came. */
export function selectToolMessage(s: RootState, threadId: string, replyId: string, callId: string): MessageDTO | undefined {
  const ids = s.chat.byThread[threadId]?.ids;
  if (!ids) return undefined;
  for (let i = ids.indexOf(replyId) + 1; i > 0 && i < ids.length; i++) {
    const m = s.chat.messages[ids[i]];
    if (!m || m.role !== 'tool') break;
    if (m.tool?.callId === callId) return m;
  }
  return undefined;
}

/** The ids of the path's messages shown as messages (tool messages show in their call's card): compare with shallowEqual. */
export function selectShownMessageIds(s: RootState, threadId: string): string[] {
  const ids = s.chat.byThread[threadId]?.ids ?? [];
  return ids.filter((id) => s.chat.messages[id]?.role !== 'tool');
}

/** The steps (generations) of the turn up to this reply: its replies since the user's message; null when it is not on the path. */
export function selectTurnSteps(s: RootState, threadId: string, replyId: string): number | null {
  const ids = s.chat.byThread[threadId]?.ids ?? [];
  const at = ids.indexOf(replyId);
  if (at < 0) return null;
  let steps = 0;
  for (let i = at; i >= 0; i--) {
    const m = s.chat.messages[ids[i]];
    if (!m || m.role === 'user' || m.role === 'system') break;
    if (m.role === 'assistant') steps++;
  }
  return steps;
}

/** Arguments as the card shows them: pretty JSON when they parse, else as the model wrote them. */
export function prettyArguments(args: string): string {
  try {
    return JSON.stringify(JSON.parse(args), null, 2);
  } catch {
    return args;
  }
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
