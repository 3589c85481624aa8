/**
 * Messages of the opened threads. Streaming text arrives as batches of pieces (one batch per
 * animation frame, see app/events.ts); chat.done replaces the message with main's final copy;
 * chat.message adds one the tool call loop made (a tool message, or the next reply, streaming).
 */
import { createAction, createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { DocumentAttachment, ImageAttachment, MessageDTO } from '../../../../main/ipc/contract';
import type { TokenLogprobs } from '../../../../main/params';
import { call } from '../../app/bridge';
import { ErrorInfo, toErrorInfo } from '../../app/errors';
import type { AppDispatch, RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';
import { pageShown } from '../../app/uiSlice';
import { selectAssistantForNew } from '../assistants/assistantsSlice';
import { selectDefaultModelPath } from '../models/modelsSlice';
import { selectNewChatRemote } from '../providers/providersSlice';
import { createThread, threadRemoved, threadSelected, threadUpserted } from '../threads/threadsSlice';
import { attachmentsOf, editKey, imagesTaken, selectAttachedImages, storedAttachments } from './imagesSlice';
import { docAttachmentsOf, docsTaken, selectAttachedDocs, selectEditableDocuments } from '../documents/docsSlice';

/** The errors key of the new-chat screen (no thread yet). */
export const NEW_CHAT = 'new';

export interface Piece {
  threadId: string;
  messageId: string;
  content: string;
  reasoning: string;
  /** the pieces' tokens with their log-probabilities (when the chat's nProbs > 0) */
  probs?: TokenLogprobs[];
}

export interface ThreadMessages {
  /** the current path through the thread, oldest first */
  ids: string[];
  status: 'loading' | 'ready' | 'error';
  error: string | null;
}

export interface ChatState {
  messages: Record<string, MessageDTO>;
  byThread: Record<string, ThreadMessages>;
  /** pieces for a message we do not have yet (the event beat chat.send's answer) */
  orphans: Record<string, Piece>;
  /** the last failed action per thread (or NEW_CHAT), shown inline above the composer */
  errors: Record<string, ErrorInfo>;
  /** a send in flight, per thread (or NEW_CHAT) */
  sending: Record<string, boolean>;
  /** replies being continued: how they ended before, to put back if the continue fails */
  resuming: Record<string, Pick<MessageDTO, 'status' | 'finishReason'>>;
  /** a search hit asked to show this message */
  jumpTo: { threadId: string; messageId: string; seq: number } | null;
  /**
   * per reply generated in this session with nProbs > 0: its tokens with their log-probabilities
   * (kept in memory only: with up to 20 alternatives per token they would multiply a reply's size)
   */
  probs: Record<string, TokenLogprobs[]>;
  /** each composer's draft in tokens (per thread, or NEW_CHAT): the loaded model's count, or an estimate */
  draftCounts: Record<string, DraftCount>;
  /** an edit main refused, per message: its text, for the edit box to open with again (its files stay under editKey) */
  failedEdits: Record<string, string>;
}

export interface DraftCount {
  tokens: number;
  /** true when the model could not count (none loaded): about four characters a token */
  estimated: boolean;
}

/**
 * The replies whose token probabilities the renderer keeps (the latest ones to get any): they come only
 * with a reply's stream and are not stored, so older ones are dropped rather than kept for the session.
 */
export const MAX_PROBS_REPLIES = 20;

/** Adds a reply's token probabilities, dropping the oldest replies' past MAX_PROBS_REPLIES (keys keep insertion order: ids are UUIDs). */
function addProbs(state: ChatState, messageId: string, probs: TokenLogprobs[]): void {
  const cur = state.probs[messageId];
  if (cur) {
    cur.push(...probs);
    return;
  }
  state.probs[messageId] = [...probs];
  const ids = Object.keys(state.probs);
  for (const id of ids.slice(0, Math.max(0, ids.length - MAX_PROBS_REPLIES))) delete state.probs[id];
}

const initialState: ChatState = { messages: {}, byThread: {}, orphans: {}, errors: {}, sending: {}, resuming: {}, jumpTo: null, probs: {}, draftCounts: {}, failedEdits: {} };

/** A composer's text changed (or it shows another thread's draft): the listener counts its tokens. */
export const draftEdited = createAction<{ key: string; threadId: string | null; text: string }>('chat/draftEdited');

// ---- thunks --------------------------------------------------------------------------------------

export const loadThread = createAppAsyncThunk('chat/load', async (threadId: string, { dispatch, rejectWithValue }) => {
  try {
    const view = await call('threads.get', { id: threadId });
    dispatch(threadUpserted(view.thread));
    return view;
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

/** Opens a thread (null = the new-chat screen), loading its messages the first time. */
export function openThread(threadId: string | null, messageId?: string) {
  return (dispatch: AppDispatch, getState: () => RootState) => {
    dispatch(threadSelected(threadId));
    // a chat opened from anywhere (the list, search, a new chat) shows the chat page
    dispatch(pageShown('chat'));
    if (!threadId) return;
    const loaded = getState().chat.byThread[threadId];
    if (!loaded || loaded.status === 'error') dispatch(loadThread(threadId));
    if (messageId) dispatch(chatSlice.actions.jumpRequested({ threadId, messageId }));
  };
}

export const sendMessage = createAppAsyncThunk(
  'chat/send',
  async (arg: { threadId: string | null; content: string; attachments?: ImageAttachment[]; documents?: DocumentAttachment[] }, { dispatch, getState, rejectWithValue }) => {
    let threadId = arg.threadId;
    try {
      if (!threadId) {
        const st = getState();
        const assistant = selectAssistantForNew(st);
        // a remote model chosen in the header wins: the header shows it
        const modelPath = selectNewChatRemote(st) ?? assistant?.modelPath ?? selectDefaultModelPath(st);
        if (!modelPath && st.models.listStatus === 'ready') {
          return rejectWithValue(
            st.models.list.length === 0
              ? { code: 'no_models', message: 'no models in the models folder' }
              : { code: 'no_model', message: 'pick a model first' },
          );
        }
        const thread = await dispatch(
          createThread({ ...(assistant ? { assistantId: assistant.id } : {}), ...(modelPath ? { modelPath } : {}) }),
        ).unwrap();
        threadId = thread.id;
      }
      const r = await call('chat.send', {
        threadId,
        content: arg.content,
        ...(arg.attachments?.length ? { attachments: arg.attachments } : {}),
        ...(arg.documents?.length ? { documents: arg.documents } : {}),
      });
      return { threadId, ...r };
    } catch (e) {
      return rejectWithValue({ ...toErrorInfo(e), threadId } as ErrorInfo);
    }
  },
);

export const stopGeneration = createAppAsyncThunk('chat/stop', async (threadId: string, { rejectWithValue }) => {
  try {
    return await call('chat.stop', { threadId });
  } catch (e) {
    return rejectWithValue(toErrorInfo(e));
  }
});

export const regenerate = createAppAsyncThunk(
  'chat/regenerate',
  async (arg: { threadId: string; messageId: string }, { rejectWithValue }) => {
    try {
      return (await call('chat.regenerate', arg)).reply;
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

export const editMessage = createAppAsyncThunk(
  'chat/edit',
  async (arg: { threadId: string; messageId: string; content: string; attachments?: ImageAttachment[]; documents?: DocumentAttachment[] }, { rejectWithValue }) => {
    try {
      return await call('chat.edit', arg);
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

/** Whether two lists of attachments name the same files in the same order. */
const sameRefs = (a: readonly { ref: string }[], b: readonly { ref: string }[]) => a.length === b.length && a.every((x, i) => x.ref === b[i].ref);

/**
 * Saves a message's edit box: its text, its images (imagesSlice's list under `editKey`) and its
 * documents (docsSlice's under the same key). Nothing while a file is still being stored, or when the
 * message would say nothing; otherwise the box's files are taken and, unless nothing changed,
 * chat.edit is asked. Its `attachments` (images) and `documents` each go when they changed (documents
 * against those the box offered: selectEditableDocuments, without the thread's removed ones; left out,
 * the message keeps its own, an import's image too) or, when the text is empty, whichever it has
 * (chat.edit reads "text, images or documents" in the request). Answers whether the box may close.
 */
export function saveEdit(message: MessageDTO, text: string) {
  return (dispatch: AppDispatch, getState: () => RootState): boolean => {
    const key = editKey(message.id);
    const images = selectAttachedImages(getState(), key);
    const docs = selectAttachedDocs(getState(), key);
    const content = text.trim();
    const attachments = attachmentsOf(images);
    const documents = docAttachmentsOf(docs);
    if (images.some((i) => i.status === 'storing') || docs.some((d) => d.status === 'storing')) return false;
    if (!content && !attachments.length && !documents.length) return false;
    const imagesChanged = !sameRefs(attachments, storedAttachments(message));
    const docsChanged = !sameRefs(documents, selectEditableDocuments(getState(), message));
    const take = () => {
      dispatch(imagesTaken(key));
      dispatch(docsTaken(key));
    };
    if (content !== message.content || imagesChanged || docsChanged) {
      // the box's files stay until main answers: a refused edit opens again with them and its text (failedEdits)
      void dispatch(editMessage({
        threadId: message.threadId, messageId: message.id, content,
        ...(imagesChanged || (!content && attachments.length) ? { attachments } : {}),
        ...(docsChanged || (!content && documents.length) ? { documents } : {}),
      })).then((r) => {
        if (editMessage.fulfilled.match(r)) take();
      });
    } else take();
    return true;
  };
}

export const continueReply = createAppAsyncThunk(
  'chat/continue',
  async (arg: { threadId: string; messageId: string }, { rejectWithValue }) => {
    try {
      return (await call('chat.continue', arg)).reply;
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

export const switchAlternative = createAppAsyncThunk(
  'chat/switchAlternative',
  async (arg: { threadId: string; messageId: string; direction: 'prev' | 'next' }, { rejectWithValue }) => {
    try {
      return await call('messages.switchAlternative', { messageId: arg.messageId, direction: arg.direction });
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);

// ---- reducers ------------------------------------------------------------------------------------

/** Puts main's copy of a message into the store without losing text that streamed in meanwhile. */
function putMessage(state: ChatState, incoming: MessageDTO): void {
  const cur = state.messages[incoming.id];
  if (cur && incoming.status === 'streaming') {
    // a stale snapshot (the reply is already final) or an older copy of a reply we are streaming
    if (cur.status !== 'streaming' || cur.content.length + cur.reasoning.length >= incoming.content.length + incoming.reasoning.length) {
      if (cur.status === 'streaming') cur.alternative = incoming.alternative;
      return;
    }
  }
  let m = incoming;
  const orphan = state.orphans[m.id];
  if (orphan) {
    if (m.status === 'streaming') m = { ...m, content: m.content + orphan.content, reasoning: m.reasoning + orphan.reasoning };
    delete state.orphans[m.id];
  }
  state.messages[m.id] = m;
}

function setPath(state: ChatState, threadId: string, messages: MessageDTO[]): void {
  for (const m of messages) putMessage(state, m);
  state.byThread[threadId] = { ids: messages.map((m) => m.id), status: 'ready', error: null };
}

/** Replaces the path from `fromId` on (or appends when it is not on the path) with `ids`. */
function replaceFrom(state: ChatState, threadId: string, fromId: string, ids: string[]): void {
  const t = (state.byThread[threadId] ??= { ids: [], status: 'ready', error: null });
  const at = t.ids.indexOf(fromId);
  t.ids = at >= 0 ? [...t.ids.slice(0, at), ...ids] : [...t.ids.filter((id) => !ids.includes(id)), ...ids];
}

const chatSlice = createSlice({
  name: 'chat',
  initialState,
  reducers: {
    /** the edit box opened again with a refused edit's text */
    failedEditTaken(s, a: PayloadAction<string>) {
      delete s.failedEdits[a.payload];
    },
    /** one animation frame's worth of chat.piece events, merged per message */
    piecesApplied(state, a: PayloadAction<Piece[]>) {
      for (const p of a.payload) {
        if (p.probs?.length) addProbs(state, p.messageId, p.probs);
        const m = state.messages[p.messageId];
        if (m) {
          if (m.status !== 'streaming') continue; // chat.done already gave the final text
          if (p.content) m.content += p.content;
          if (p.reasoning) m.reasoning += p.reasoning;
        } else {
          const o = state.orphans[p.messageId];
          if (o) {
            o.content += p.content;
            o.reasoning += p.reasoning;
          } else state.orphans[p.messageId] = { ...p };
        }
      }
    },
    /** chat.done: main's final copy of a reply replaces ours */
    messageDone(state, a: PayloadAction<{ threadId: string; message: MessageDTO }>) {
      const { threadId, message } = a.payload;
      delete state.orphans[message.id];
      state.messages[message.id] = message;
      const t = state.byThread[threadId];
      if (t && !t.ids.includes(message.id)) {
        const last = t.ids[t.ids.length - 1] ?? null;
        if (message.parentId === last) t.ids.push(message.id);
      }
    },
    /**
     * chat.message: a message the tool call loop added to a thread (a tool's outcome, or the next reply,
     * streaming: its pieces follow) goes after its parent on the thread's path, or replaces our copy.
     */
    messageAdded(state, a: PayloadAction<{ threadId: string; message: MessageDTO }>) {
      const { threadId, message } = a.payload;
      putMessage(state, message);
      const t = state.byThread[threadId];
      if (!t || t.ids.includes(message.id)) return;
      const at = message.parentId ? t.ids.indexOf(message.parentId) : -1;
      t.ids = at >= 0 ? [...t.ids.slice(0, at + 1), message.id] : [...t.ids, message.id];
    },
    errorCleared(state, a: PayloadAction<string>) {
      delete state.errors[a.payload];
    },
    jumpRequested(state, a: PayloadAction<{ threadId: string; messageId: string }>) {
      state.jumpTo = { ...a.payload, seq: (state.jumpTo?.seq ?? 0) + 1 };
    },
    jumpDone(state) {
      state.jumpTo = null;
    },
    draftCounted(state, a: PayloadAction<{ key: string } & DraftCount>) {
      state.draftCounts[a.payload.key] = { tokens: a.payload.tokens, estimated: a.payload.estimated };
    },
  },
  extraReducers: (b) => {
    b.addCase(loadThread.pending, (s, a) => {
      const t = s.byThread[a.meta.arg];
      if (t) t.status = t.ids.length ? t.status : 'loading';
      else s.byThread[a.meta.arg] = { ids: [], status: 'loading', error: null };
    })
      .addCase(loadThread.fulfilled, (s, a) => {
        setPath(s, a.meta.arg, a.payload.messages);
      })
      .addCase(loadThread.rejected, (s, a) => {
        s.byThread[a.meta.arg] = { ids: s.byThread[a.meta.arg]?.ids ?? [], status: 'error', error: a.payload?.message ?? 'failed' };
      })
      .addCase(createThread.fulfilled, (s, a) => {
        s.byThread[a.payload.id] ??= { ids: [], status: 'ready', error: null };
      })
      .addCase(sendMessage.pending, (s, a) => {
        const key = a.meta.arg.threadId ?? NEW_CHAT;
        delete s.errors[key];
        s.sending[key] = true;
      })
      .addCase(sendMessage.fulfilled, (s, a) => {
        const { threadId, userMessage, reply } = a.payload;
        delete s.sending[a.meta.arg.threadId ?? NEW_CHAT];
        delete s.errors[NEW_CHAT];
        putMessage(s, userMessage);
        putMessage(s, reply);
        const t = (s.byThread[threadId] ??= { ids: [], status: 'ready', error: null });
        for (const id of [userMessage.id, reply.id]) if (!t.ids.includes(id)) t.ids.push(id);
      })
      .addCase(sendMessage.rejected, (s, a) => {
        const key = a.meta.arg.threadId ?? NEW_CHAT;
        delete s.sending[key];
        const err = a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' };
        const threadId = (err as ErrorInfo & { threadId?: string | null }).threadId;
        // a new chat whose thread was created but whose send failed shows the error in that thread
        s.errors[threadId ?? key] = { code: err.code, message: err.message };
      })
      .addCase(regenerate.pending, (s, a) => {
        delete s.errors[a.meta.arg.threadId];
      })
      .addCase(regenerate.fulfilled, (s, a) => {
        // the replaced reply's probabilities go with it (the new reply streams its own)
        delete s.probs[a.meta.arg.messageId];
        putMessage(s, a.payload);
        replaceFrom(s, a.meta.arg.threadId, a.meta.arg.messageId, [a.payload.id]);
      })
      .addCase(editMessage.pending, (s, a) => {
        delete s.errors[a.meta.arg.threadId];
        delete s.failedEdits[a.meta.arg.messageId];
      })

      .addCase(editMessage.fulfilled, (s, a) => {
        // the replies after the edited message leave the path: their probabilities go
        const t = s.byThread[a.meta.arg.threadId];
        const at = t ? t.ids.indexOf(a.meta.arg.messageId) : -1;
        if (t && at >= 0) for (const id of t.ids.slice(at)) delete s.probs[id];
        putMessage(s, a.payload.userMessage);
        putMessage(s, a.payload.reply);
        replaceFrom(s, a.meta.arg.threadId, a.meta.arg.messageId, [a.payload.userMessage.id, a.payload.reply.id]);
      })
      .addCase(continueReply.pending, (s, a) => {
        delete s.errors[a.meta.arg.threadId];
        // the reply streams again under its own id: its pieces apply from now on (they may beat the answer),
        // and the composer offers Stop
        const m = s.messages[a.meta.arg.messageId];
        if (m && m.status !== 'streaming') {
          s.resuming[m.id] = { status: m.status, finishReason: m.finishReason };
          m.status = 'streaming';
          m.finishReason = null;
        }
      })
      .addCase(continueReply.fulfilled, (s, a) => {
        delete s.resuming[a.meta.arg.messageId];
        putMessage(s, a.payload);
        const t = s.byThread[a.meta.arg.threadId];
        if (t && !t.ids.includes(a.payload.id)) replaceFrom(s, a.meta.arg.threadId, a.meta.arg.messageId, [a.meta.arg.messageId, a.payload.id]);
      })
      .addCase(switchAlternative.fulfilled, (s, a) => {
        setPath(s, a.meta.arg.threadId, a.payload.messages);
      })
      .addCase(threadRemoved, (s, a) => {
        const t = s.byThread[a.payload];
        if (t) for (const id of t.ids) delete s.messages[id], delete s.probs[id];
        delete s.byThread[a.payload];
        delete s.errors[a.payload];
      });
    for (const thunk of [regenerate, editMessage, continueReply, switchAlternative, stopGeneration]) {
      b.addCase(thunk.rejected, (s, a) => {
        // a refused edit: its text, for the box to open with again
        if (editMessage.rejected.match(a)) s.failedEdits[a.meta.arg.messageId] = a.meta.arg.content;
        const arg = a.meta.arg as string | { threadId: string; messageId?: string };
        const threadId = typeof arg === 'string' ? arg : arg.threadId;
        const was = typeof arg === 'string' || !arg.messageId ? undefined : s.resuming[arg.messageId];
        if (was && typeof arg !== 'string' && arg.messageId) {
          // the continue never started: the reply is as it was
          const m = s.messages[arg.messageId];
          if (m && m.status === 'streaming') Object.assign(m, was);
          delete s.resuming[arg.messageId];
        }
        s.errors[threadId] = a.payload ?? { code: 'internal', message: a.error.message ?? 'failed' };
      });
    }
  },
});

export const { piecesApplied, messageDone, messageAdded, errorCleared, jumpRequested, jumpDone, draftCounted, failedEditTaken } = chatSlice.actions;
export default chatSlice.reducer;

// ---- selectors -----------------------------------------------------------------------------------

const NO_IDS: string[] = [];

export const selectMessage = (s: RootState, id: string): MessageDTO | undefined => s.chat.messages[id];
export const selectThreadMessages = (s: RootState, threadId: string | null): ThreadMessages | undefined =>
  threadId ? s.chat.byThread[threadId] : undefined;
export const selectMessageIds = (s: RootState, threadId: string | null): string[] =>
  (threadId && s.chat.byThread[threadId]?.ids) || NO_IDS;
/**
 * A turn runs in this thread: a reply is streaming (it is always the last message of the path), or
 * its tool call loop has a call awaiting approval or running (Stop ends the turn either way).
 */
export function selectIsStreaming(s: RootState, threadId: string | null): boolean {
  const ids = selectMessageIds(s, threadId);
  const last = ids.length ? s.chat.messages[ids[ids.length - 1]] : undefined;
  return last?.status === 'streaming' || (!!threadId && !!s.tools.live[threadId]);
}
/** The context a reply's conversation fills once it ended: its prompt and what it generated (0 without metrics). */
const contextOf = (m: MessageDTO | undefined): number => (m?.metrics ? m.metrics.promptTokens + m.metrics.generatedTokens : 0);

/**
 * The header's context meter for a thread (null: the new-chat screen, 0): what its conversation fills,
 * from the latest reply on its path that has metrics; while one of its replies streams, the engine's
 * live count when main read it for this thread (models.state's tokensUsedBy), never less than that.
 * Another thread's count, or one from before an engine restart, is never shown for it.
 */
export function selectContextUsed(s: RootState, threadId: string | null): number {
  const ids = selectMessageIds(s, threadId);
  let base = 0;
  for (let i = ids.length - 1; i >= 0 && !base; i--) base = contextOf(s.chat.messages[ids[i]]);
  const loaded = s.models.state.loaded;
  if (threadId && loaded?.tokensUsedBy === threadId && selectIsStreaming(s, threadId)) return Math.max(base, loaded.tokensUsed);
  return base;
}
export const selectProbs = (s: RootState, messageId: string): TokenLogprobs[] | undefined => s.chat.probs[messageId];
export const selectChatError = (s: RootState, key: string): ErrorInfo | undefined => s.chat.errors[key];
export const selectIsSending = (s: RootState, key: string): boolean => !!s.chat.sending[key];
const NO_COUNT: DraftCount = { tokens: 0, estimated: false };
export const selectDraftCount = (s: RootState, key: string): DraftCount => s.chat.draftCounts[key] ?? NO_COUNT;
