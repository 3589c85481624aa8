/**
 * Naming a new thread after its first reply: the model is asked for a short title with a tiny
 * budget on a sequence of its own (so the conversation's cached prefix stays), and the first words
 * of the message are the fallback.
 */
import type { EngineClient } from '../engine/client';
import type { Logger } from '../logging';
import { CHAT_MODEL_ID } from '../models/library';
import { isStoreError } from '../store';
import { DEFAULT_THREAD_TITLE } from '../store/threads';
import { type ThreadSessions, TITLE_SEQ, tokensNeeded } from './sessions';
import { wellFormed } from './text';
import type { ChatViews } from './views';


/** A short title from the model's answer, or the message's first words. */
export function cleanTitle(raw: string, fallbackFrom: string): string {
  let t = raw.replace(/<think>[\s\S]*?<\/think>/g, '').split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  t = t.replace(/^(title|titre|título)\s*:\s*/i, '').replace(/^["'“”‘’*#\s]+|["'“”‘’*.\s]+$/g, '').trim();
  const printable = /[\p{L}\p{N}]/u.test(t);
  if (!printable || t.length < 2) {
    t = fallbackFrom.replace(/\s+/g, ' ').trim().split(' ').slice(0, 6).join(' ');
  }
  if (t.length > 60) t = t.slice(0, 57).trimEnd() + '…';
  return t || DEFAULT_THREAD_TITLE;
}

/** What the model naming a thread is told (the title request's system message). */
export const TITLE_INSTRUCTIONS = 'You write titles. Reply with a title of at most six words for the user message, nothing else.';

/**
 * Names a thread that still has the default title; `onRenamed` runs once it has its new one. A
 * thread renamed or deleted meanwhile is left alone.
 */
export async function nameThread(
  deps: { engine: EngineClient; views: ChatViews; logger: Logger; sessions?: ThreadSessions },
  threadId: string,
  firstMessage: string,
  signal: AbortSignal,
  onRenamed: () => void,
): Promise<void> {
  const { threads } = deps.views.api(threadId);
  try {
    if (threads.get(threadId).title !== DEFAULT_THREAD_TITLE) return;
  } catch {
    return; // deleted meanwhile
  }
  let raw = '';
  const TITLE_MAX_TOKENS = 16;
  const text = wellFormed(firstMessage.slice(0, 2000));
  try {
    // room for it without the engine dropping a thread's cache unsaved (and in a context of one
    // sequence, the thread there no longer has its own conversation in it)
    await deps.sessions?.makeRoom(tokensNeeded(text.length + 200, TITLE_MAX_TOKENS), TITLE_SEQ);
    const r = await deps.engine.chat(
      CHAT_MODEL_ID,
      {
        messages: [
          { role: 'system', content: TITLE_INSTRUCTIONS },
          { role: 'user', content: text },
        ],
        maxTokens: TITLE_MAX_TOKENS,
        enableThinking: false,
        sampling: { temperature: 0.2, seed: 1 },
        seq: TITLE_SEQ,
        overflow: 'truncateMiddle',
      },
      { signal },
    );
    raw = r.content;
  } catch (e) {
    deps.logger.warn(`chat: title generation failed: ${(e as Error).message}`);
  }
  // the title's cells would take room the threads' caches share (the engine drops idle sequences when it needs room)
  await deps.engine.clearSequence(CHAT_MODEL_ID, TITLE_SEQ).catch(() => undefined);
  try {
    if (threads.get(threadId).title !== DEFAULT_THREAD_TITLE) return;
    threads.rename(threadId, cleanTitle(raw, firstMessage));
    onRenamed();
  } catch (e) {
    if (!isStoreError(e, 'not_found')) throw e;
  }
}
