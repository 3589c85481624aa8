/**
 * One conversation of another app (an ImportedThread) as the thread and messages Hearth stores: new
 * ids, parent links from the other app's keys, one active reply per parent, a message without a time
 * gets its conversation's. A message over the store's size limit is cut, with a note in its text and
 * in the preview's skipped list: one huge message does not cost the conversation, nor the file.
 */
import { randomUUID } from 'crypto';
import { fail, normalizeActive, parentsFirst, type PreparedThread } from '../store/import';
import type { Message } from '../store/types';
import { LIMITS, utf8Bytes } from '../store/validation';
import type { ImportedThread, SkipNote } from './imported';

export const CUT_NOTE = `\n\n[Hearth cut this message here: it was over ${LIMITS.contentBytes / (1024 * 1024)} MiB]`;
export const CUT_REASON = `message text over ${LIMITS.contentBytes / (1024 * 1024)} MiB (cut)`;
const UNTITLED = 'Imported chat';

/** `text` within the store's limit: cut on a character boundary with CUT_NOTE when over it. */
function within(text: string, cut: () => void): string {
  if (text.length <= LIMITS.contentBytes / 4 || utf8Bytes(text) <= LIMITS.contentBytes) return text;
  cut();
  const room = LIMITS.contentBytes - utf8Bytes(CUT_NOTE);
  return Buffer.from(text, 'utf8').subarray(0, room).toString('utf8').replace(/\uFFFD+$/, '') + CUT_NOTE;
}

/** A time the store takes (whole ms, not negative), else `fallback`. */
function timeOr(t: number | null | undefined, fallback: number): number {
  return typeof t === 'number' && Number.isFinite(t) && t >= 0 ? Math.round(t) : fallback;
}

const modelOf = (m: string | null | undefined): string | null => (m && m.length <= LIMITS.modelRefChars ? m : null);

/**
 * The thread to write, and the notes of what was changed on the way (cut messages). Throws
 * import_failed when the conversation's tree is broken (a key twice, a parent not in it, a cycle).
 */
export function toPreparedThread(t: ImportedThread, assistantId: string | null, now: number): { prepared: PreparedThread; notes: SkipNote[] } {
  const notes: SkipNote[] = [];
  const cut = () => notes.push({ reason: CUT_REASON });
  const createdAt = timeOr(t.createdAt, now);
  const threadId = randomUUID();
  const title = (t.title.replace(/\s+/g, ' ').trim() || UNTITLED).slice(0, LIMITS.titleChars);
  const ids = new Map<string, string>();
  for (const m of t.messages) {
    if (ids.has(m.key)) fail(`message ${m.key} appears twice in "${title}"`);
    ids.set(m.key, randomUUID());
  }
  const messages: Message[] = t.messages.map((m) => {
    const parentId = m.parentKey === null ? null : ids.get(m.parentKey);
    if (parentId === undefined) fail(`message ${m.key} of "${title}" answers ${m.parentKey}, which is not in the conversation`);
    const at = timeOr(m.createdAt, createdAt);
    return {
      id: ids.get(m.key)!, threadId, parentId, active: m.active, role: m.role,
      content: within(m.content, cut), reasoning: within(m.reasoning ?? '', cut),
      toolCalls: null, toolCallId: null, attachments: [], sources: null, status: 'done', finishReason: null, error: null,
      model: m.role === 'assistant' ? modelOf(m.model) ?? modelOf(t.model) : null, metrics: null, createdAt: at, updatedAt: at,
    };
  });
  const ordered = parentsFirst(messages, `"${title}"`);
  normalizeActive(ordered);
  const lastAt = ordered.reduce((a, m) => Math.max(a, m.createdAt), createdAt);
  return {
    prepared: {
      thread: {
        id: threadId, title, assistantId,
        model: modelOf(t.model), createdAt, updatedAt: Math.max(timeOr(t.updatedAt, createdAt), lastAt),
        pinned: false, archived: false, overrides: { instructions: null, sampling: {}, load: {} }, temporary: false,
      },
      messages: ordered,
      assistant: null,
    },
    notes,
  };
}
