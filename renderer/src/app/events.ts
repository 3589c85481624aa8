/**
 * Events from main → store. chat.piece events are buffered per message and flushed into the store
 * once per animation frame: however many pieces arrive within a frame, the store sees one
 * piecesApplied action, so React renders the streaming message at most once per frame.
 */
import type { EventOf } from '../../../main/ipc/contract';
import { onEvent } from './bridge';
import { messageAdded, messageDone, piecesApplied, Piece } from '../features/chat/chatSlice';
import { liveCallChanged, toolsStatusReceived } from '../features/tools/toolsSlice';
import { docsChanged, progressReceived } from '../features/documents/docsSlice';
import { importProgressReceived } from '../features/library/librarySlice';
import { downloadProgress, downloadsChanged } from '../features/downloads/downloadsSlice';
import { modelListReceived, modelStateReceived } from '../features/models/modelsSlice';
import { threadRemoved, threadUpserted } from '../features/threads/threadsSlice';
import { moveProgressReceived } from '../features/settings/settingsSlice';
import { updateStateReceived } from '../features/updates/updatesSlice';
import { apiStatusReceived } from '../features/apiServer/apiServerSlice';
import { providersStatusReceived } from '../features/providers/providersSlice';
import { appRestarting, importProgressReceived as chatImportProgress, moveProgressReceived as dataMoveProgress } from '../features/data/dataSlice';
import type { AppDispatch } from './store';
import { openDialog, toastAdded } from './uiSlice';

export type FrameScheduler = (cb: () => void) => unknown;

const defaultScheduler: FrameScheduler = (cb) =>
  typeof requestAnimationFrame === 'function' ? requestAnimationFrame(() => cb()) : setTimeout(cb, 16);

/** Collects pieces and hands them to `flush` at most once per frame, merged per message. */
export class PieceBatcher {
  private pending = new Map<string, Piece>();
  private scheduled = false;

  constructor(
    private readonly flushFn: (pieces: Piece[]) => void,
    private readonly schedule: FrameScheduler = defaultScheduler,
  ) {}

  push(p: EventOf<'chat.piece'>): void {
    const cur = this.pending.get(p.messageId);
    if (cur) {
      cur.content += p.content;
      cur.reasoning += p.reasoning;
      if (p.probs) (cur.probs ??= []).push(...p.probs);
    } else this.pending.set(p.messageId, { threadId: p.threadId, messageId: p.messageId, content: p.content, reasoning: p.reasoning, ...(p.probs ? { probs: [...p.probs] } : {}) });
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** Applies what is buffered now (called by the frame callback). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    this.pending.clear();
    this.flushFn(batch);
  }

  /** Forgets buffered pieces of a message whose final copy arrived; returns them. */
  drop(messageId: string): Piece | undefined {
    const p = this.pending.get(messageId);
    this.pending.delete(messageId);
    return p;
  }

  get size(): number {
    return this.pending.size;
  }
}

/** Subscribes to every event main pushes; returns the unsubscribe function. Call once at startup. */
export function startEvents(dispatch: AppDispatch, schedule?: FrameScheduler): () => void {
  const batcher = new PieceBatcher((pieces) => dispatch(piecesApplied(pieces)), schedule);
  const offs = [
    onEvent('chat.piece', (p) => batcher.push(p)),
    onEvent('chat.done', (p) => {
      // the final message replaces everything streamed; pieces still buffered are part of it (their
      // tokens' probabilities are not: those are kept)
      const left = batcher.drop(p.message.id);
      if (left?.probs) dispatch(piecesApplied([{ ...left, content: '', reasoning: '' }]));
      // (main pushes models.state with the context use after the reply, for the header's meter)
      dispatch(messageDone(p));
    }),
    // a message the tool call loop added: a tool's outcome, or the next reply (its pieces follow by chat.piece)
    onEvent('chat.message', (p) => dispatch(messageAdded(p))),
    // a tool call awaits approval or runs, or left that state (its tool message follows by chat.message)
    onEvent('tools.call', (p) => dispatch(liveCallChanged(p))),
    onEvent('tools.changed', (p) => dispatch(toolsStatusReceived(p))),
    // a document's indexing (extracting, embedding: done of total), and documents' states changed
    onEvent('docs.progress', (p) => dispatch(progressReceived(p))),
    onEvent('docs.changed', (p) => dispatch(docsChanged(p))),
    onEvent('threads.changed', (p) => dispatch(threadUpserted(p.thread))),
    onEvent('threads.deleted', (p) => dispatch(threadRemoved(p.id))),
    onEvent('models.state', (p) => dispatch(modelStateReceived(p))),
    // the models folder changed (a model added or removed while the page is open)
    onEvent('models.changed', (p) => dispatch(modelListReceived(p.models))),
    onEvent('downloads.changed', (p) => dispatch(downloadsChanged(p))),
    onEvent('downloads.progress', (p) => dispatch(downloadProgress(p))),
    onEvent('library.moveProgress', (p) => dispatch(moveProgressReceived(p))),
    onEvent('library.importProgress', (p) => dispatch(importProgressReceived(p))),
    // the updater's state (a check, a download's progress, an install waiting)
    onEvent('updates.changed', (p) => dispatch(updateStateReceived(p))),
    // the local API server's status (started, stopped, failed, a request answered)
    onEvent('api.changed', (p) => dispatch(apiStatusReceived(p))),
    // the remote providers changed (added, changed, removed, their models refreshed, allowed or forbidden)
    onEvent('providers.changed', (p) => dispatch(providersStatusReceived(p))),
    // Settings → Data: an import of another app's chats, the data folder's move, and main restarting (a restore, a move)
    onEvent('data.importProgress', (p) => dispatch(chatImportProgress(p))),
    onEvent('data.moveProgress', (p) => dispatch(dataMoveProgress(p))),
    onEvent('app.restarting', (p) => dispatch(appRestarting(p.reason))),
    // the desktop app's Help → Keyboard Shortcuts
    onEvent('app.menu', (p) => p.item === 'shortcuts' && dispatch(openDialog('help'))),
    // what main tells the user outside any request (a link the desktop app could not open)
    onEvent('app.notice', (p) => dispatch(toastAdded({ kind: p.kind, text: p.text }))),
  ];
  return () => offs.forEach((off) => off());
}
