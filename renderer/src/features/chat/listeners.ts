/**
 * The composer's token count: once the typing pauses for TOKEN_COUNT_DEBOUNCE_MS the draft is
 * counted with the loaded model's tokenizer (chat.countTokens); when that fails, estimated at about
 * four characters a token. An empty draft is 0 at once.
 */
import { TaskAbortError } from '@reduxjs/toolkit';
import { call } from '../../app/bridge';
import type { AppStartListening } from '../../app/listeners';
import { draftCounted, draftEdited } from './chatSlice';

export const TOKEN_COUNT_DEBOUNCE_MS = 250;

export function startChatListeners(start: AppStartListening): void {
  start({
    actionCreator: draftEdited,
    effect: async ({ payload: { key, threadId, text } }, api) => {
      // a newer edit replaces the count still waiting (or on its way)
      api.cancelActiveListeners();
      if (!text.trim()) {
        api.dispatch(draftCounted({ key, tokens: 0, estimated: false }));
        return;
      }
      await api.delay(TOKEN_COUNT_DEBOUNCE_MS);
      try {
        const r = await api.pause(call('chat.countTokens', { ...(threadId ? { threadId } : {}), text }));
        api.dispatch(draftCounted({ key, tokens: r.tokens, estimated: false }));
      } catch (e) {
        if (e instanceof TaskAbortError) throw e;
        api.dispatch(draftCounted({ key, tokens: Math.ceil(text.length / 4), estimated: true }));
      }
    },
  });
}
