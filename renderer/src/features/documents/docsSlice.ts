/**
 * Documents in the renderer: the files attached to a composer (or a sent message's edit box) before they are sent (each stored by
 * main at once with docs.store, which queues its indexing), every document's indexing state as main
 * last told it (by its ref: docs.store's answer, a thread's docs.list, the docs.progress events), which
 * documents each thread took out (docs.remove), the documents' status (docs.status, docs.changed) with
 * the assistants' knowledge folders, and the passage a citation opened (docs.passage). What to ask
 * main and when is decided by ./listeners.ts; components only render and dispatch.
 */
import { readBase64 } from '../../app/read-file';
import { createAction, createSlice, PayloadAction } from '@reduxjs/toolkit';
import type { DocProgressDTO, DocsStatusDTO, DocumentDTO, EventOf, MessageDTO, PassageDTO, RequestOf, SourceDTO } from '../../../../main/ipc/contract';
import { DocumentAttachment } from '../../../../main/ipc/contract';
import { type DocState, MAX_DOC_BYTES, MAX_MESSAGE_DOCS } from '../../../../main/params';
import { call } from '../../app/bridge';
import { describeError, type ErrorInfo, toErrorInfo } from '../../app/errors';
import { formatBytes } from '../../app/format';
import type { AppDispatch, RootState } from '../../app/store';
import { createAppAsyncThunk } from '../../app/thunk';
import { threadSelected } from '../threads/threadsSlice';

/** A file attached to a composer: being read, being stored, stored (its attachment), or refused by main (why). */
export interface AttachedDoc {
  id: string;
  name: string;
  status: 'storing' | 'stored' | 'refused';
  attachment: DocumentAttachment | null;
  error: string | null;
}

/** The passage side panel: the source a citation named, and its chunk with the chunks around it. */
export interface OpenPassage {
  source: SourceDTO;
  status: 'loading' | 'ready' | 'error';
  passage: PassageDTO | null;
  error: string | null;
}

export interface DocsState {
  /** per composer (a thread id, or NEW_CHAT) */
  attached: Record<string, AttachedDoc[]>;
  /** per composer: why the last file was refused before it was stored (too large, too many) */
  errors: Record<string, string>;
  /** every document main told of, by ref: its state, progress and notes */
  documents: Record<string, DocumentDTO>;
  /** per thread: its documents' refs as docs.list answered them, those it took out, and whether that list is being asked */
  threads: Record<string, { refs: string[]; removed: string[]; status: 'loading' | 'ready' | 'error' }>;
  /** the last refused action on a document (cancel, retry, remove), by ref */
  actionErrors: Record<string, string>;
  status: DocsStatusDTO | null;
  statusError: string | null;
  /** an action on a knowledge folder under way, and the last one's refusal */
  folderBusy: boolean;
  folderError: string | null;
  passage: OpenPassage | null;
}

const initialState: DocsState = { attached: {}, errors: {}, documents: {}, threads: {}, actionErrors: {}, status: null, statusError: null, folderBusy: false, folderError: null, passage: null };

/** The states of a document still being indexed (a progress bar and Cancel). */
export const INDEXING_STATES: readonly DocState[] = ['queued', 'extracting', 'embedding'];
export const isIndexing = (d: Pick<DocumentDTO, 'state'>): boolean => INDEXING_STATES.includes(d.state);

/** docs.changed as the store takes it (./listeners.ts asks the lists again). */
export const docsChanged = createAction<EventOf<'docs.changed'>>('docs/changed');
/** a citation or a source in a reply's list was opened (./listeners.ts asks docs.passage) */
export const passageOpened = createAction<SourceDTO>('docs/passageOpened');

/** A thunk asking main one channel, rejecting with the error's serializable form. */
function ask<C extends Parameters<typeof call>[0], A>(type: string, channel: C, toRequest: (arg: A) => RequestOf<C>) {
  return createAppAsyncThunk(type, async (arg: A, { rejectWithValue }) => {
    try {
      return await call(channel, toRequest(arg));
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  });
}

export const storeDocument = createAppAsyncThunk(
  'docs/store',
  async (arg: { key: string; id: string; name: string; data: string }, { rejectWithValue }) => {
    try {
      return await call('docs.store', { name: arg.name, data: arg.data });
    } catch (e) {
      return rejectWithValue(toErrorInfo(e));
    }
  },
);
export const fetchThreadDocs = ask<'docs.list', string>('docs/list', 'docs.list', (threadId) => ({ threadId }));
export const fetchDocsStatus = ask<'docs.status', void>('docs/status', 'docs.status', () => ({}));
export const fetchPassage = ask<'docs.passage', number>('docs/passage', 'docs.passage', (chunkId) => ({ chunkId }));
export const cancelDocument = ask<'docs.cancel', { threadId: string; ref: string }>('docs/cancel', 'docs.cancel', ({ ref }) => ({ ref }));
export const retryDocument = ask<'docs.retry', { threadId: string; ref: string }>('docs/retry', 'docs.retry', ({ ref }) => ({ ref }));
export const removeDocument = ask<'docs.remove', { threadId: string; ref: string }>('docs/remove', 'docs.remove', (a) => a);
export const addFolder = ask<'docs.folders.add', { assistantId: string; path: string }>('docs/addFolder', 'docs.folders.add', (a) => a);
/**
 * A new assistant's folders, added once it is created: each asked for in turn; rejected, naming each folder
 * Hearth refused and why, when any was (the others are added).
 */
export const addFolders = createAppAsyncThunk('docs/addFolders', async (arg: { assistantId: string; paths: string[] }, { rejectWithValue }) => {
  const refused: string[] = [];
  for (const path of arg.paths) {
    try {
      await call('docs.folders.add', { assistantId: arg.assistantId, path });
    } catch (e) {
      refused.push(`${path}: ${describeError(toErrorInfo(e))}`);
    }
  }
  if (refused.length > 0) return rejectWithValue({ code: 'invalid_input', message: refused.join('\n') } satisfies ErrorInfo);
  return arg.paths.length;
});
export const removeFolder = ask<'docs.folders.remove', number>('docs/removeFolder', 'docs.folders.remove', (id) => ({ id }));
export const rescanFolder = ask<'docs.folders.rescan', number>('docs/rescanFolder', 'docs.folders.rescan', (id) => ({ id }));

/** The actions on a thread's document, each followed by the thread's list asked again (./listeners.ts). */
export const DOC_ACTIONS = [cancelDocument, retryDocument, removeDocument] as const;
/** The actions on a knowledge folder, each followed by docs.status asked again. */
export const FOLDER_ACTIONS = [addFolder, addFolders, removeFolder, rescanFolder] as const;

let nextId = 0;

/**
 * Attaches files to a composer as documents: each is read and stored with main (docs.store), which
 * says which kinds it does not read (the chip shows why). Refused at once, before reading: a file over
 * MAX_DOC_BYTES, more than MAX_MESSAGE_DOCS on one message.
 */
export function attachDocuments(key: string, files: readonly File[]) {
  return async (dispatch: AppDispatch, getState: () => RootState): Promise<void> => {
    dispatch(docRefused({ key, error: null }));
    await Promise.all(
      files.map(async (file) => {
        const name = file.name || 'pasted file';
        if ((getState().docs.attached[key]?.length ?? 0) >= MAX_MESSAGE_DOCS) {
          return dispatch(docRefused({ key, error: `${name} was not attached: a message may carry at most ${MAX_MESSAGE_DOCS} documents.` }));
        }
        if (file.size > MAX_DOC_BYTES) {
          return dispatch(docRefused({ key, error: `${name} is too large (${formatBytes(file.size)}); a document may have at most ${formatBytes(MAX_DOC_BYTES)}.` }));
        }
        const id = `doc-${++nextId}`;
        dispatch(docAdded({ key, id, name }));
        let data: string;
        try {
          data = await readBase64(file);
        } catch (e) {
          return dispatch(docReadFailed({ key, id, error: `${name} could not be read: ${(e as Error).message}` }));
        }
        return dispatch(storeDocument({ key, id, name, data }));
      }),
    );
  };
}

/** Sets a document's state from a progress event, when it is still being indexed. */
function applyProgress(d: DocumentDTO, p: DocProgressDTO): void {
  if (!isIndexing(d)) return;
  d.state = p.phase;
  d.progress = p;
}

const docsSlice = createSlice({
  name: 'docs',
  initialState,
  reducers: {
    docAdded(s, a: PayloadAction<{ key: string; id: string; name: string }>) {
      (s.attached[a.payload.key] ??= []).push({ id: a.payload.id, name: a.payload.name, status: 'storing', attachment: null, error: null });
    },
    docReadFailed(s, a: PayloadAction<{ key: string; id: string; error: string }>) {
      const d = s.attached[a.payload.key]?.find((x) => x.id === a.payload.id);
      if (d) Object.assign(d, { status: 'refused', error: a.payload.error });
    },
    docDetached(s, a: PayloadAction<{ key: string; id: string }>) {
      const list = s.attached[a.payload.key];
      if (list) s.attached[a.payload.key] = list.filter((d) => d.id !== a.payload.id);
    },
    docRefused(s, a: PayloadAction<{ key: string; error: string | null }>) {
      if (a.payload.error) s.errors[a.payload.key] = a.payload.error;
      else delete s.errors[a.payload.key];
    },
    /** the composer's documents went with its message (send): cleared; put back when the send fails */
    docsTaken(s, a: PayloadAction<string>) {
      delete s.attached[a.payload];
      delete s.errors[a.payload];
    },
    /** a message box opened with these documents (a sent message's edit box: imagesSlice `editKey`, editDocsOpened), each stored already */
    docsSet: {
      reducer(s, a: PayloadAction<{ key: string; docs: AttachedDoc[] }>) {
        s.attached[a.payload.key] = a.payload.docs;
        delete s.errors[a.payload.key];
      },
      prepare: (key: string, attachments: readonly DocumentAttachment[]) => ({
        payload: { key, docs: attachments.map((attachment): AttachedDoc => ({ id: `doc-${++nextId}`, name: attachment.name, status: 'stored', attachment, error: null })) },
      }),
    },
    docsReturned(s, a: PayloadAction<{ key: string; docs: AttachedDoc[] }>) {
      s.attached[a.payload.key] = [...a.payload.docs, ...(s.attached[a.payload.key] ?? [])];
    },
    progressReceived(s, a: PayloadAction<DocProgressDTO>) {
      const d = s.documents[a.payload.ref];
      if (d) applyProgress(d, a.payload);
      if (s.status) s.status.active = a.payload;
    },
    passageClosed(s) {
      s.passage = null;
    },
    folderErrorCleared(s) {
      s.folderError = null;
    },
  },
  extraReducers: (b) => {
    b.addCase(storeDocument.fulfilled, (s, a) => {
      const { attachment, document } = a.payload;
      s.documents[document.ref] = { ...document, removed: false };
      const d = s.attached[a.meta.arg.key]?.find((x) => x.id === a.meta.arg.id);
      if (d) Object.assign(d, { status: 'stored', attachment, error: null });
    })
      .addCase(storeDocument.rejected, (s, a) => {
        const d = s.attached[a.meta.arg.key]?.find((x) => x.id === a.meta.arg.id);
        if (d) Object.assign(d, { status: 'refused', error: a.payload ? describeError(a.payload) : a.error.message ?? 'refused' });
      })
      .addCase(docsChanged, (s, a) => {
        s.status = a.payload.status;
        s.statusError = null;
        // the changed documents' states as main holds them now (a thread's `removed` stays the thread's)
        for (const doc of a.payload.documents) {
          const d = s.documents[doc.ref];
          if (!d) continue;
          const { name: _n, removed: _r, ...state } = doc;
          Object.assign(d, state);
        }
      })
      .addCase(fetchThreadDocs.pending, (s, a) => {
        const t = s.threads[a.meta.arg];
        if (t) t.status = t.status === 'ready' ? 'ready' : 'loading';
        else s.threads[a.meta.arg] = { refs: [], removed: [], status: 'loading' };
      })
      .addCase(fetchThreadDocs.fulfilled, (s, a) => {
        for (const d of a.payload) {
          const { removed: _r, ...doc } = d;
          s.documents[d.ref] = { ...doc, removed: false };
        }
        s.threads[a.meta.arg] = { refs: a.payload.map((d) => d.ref), removed: a.payload.filter((d) => d.removed).map((d) => d.ref), status: 'ready' };
      })
      .addCase(fetchThreadDocs.rejected, (s, a) => {
        const t = s.threads[a.meta.arg];
        if (t) t.status = 'error';
      })
      .addCase(fetchDocsStatus.fulfilled, (s, a) => {
        s.status = a.payload;
        s.statusError = null;
      })
      .addCase(fetchDocsStatus.rejected, (s, a) => {
        s.statusError = a.payload ? describeError(a.payload) : 'Could not ask Hearth about its documents.';
      })
      .addCase(threadSelected, (s) => {
        s.passage = null;
      })
      .addCase(passageOpened, (s, a) => {
        const whole = a.payload.chunkId === null;
        s.passage = { source: a.payload, status: whole ? 'ready' : 'loading', passage: null, error: null };
      })
      .addCase(fetchPassage.fulfilled, (s, a) => {
        if (s.passage?.source.chunkId === a.meta.arg) Object.assign(s.passage, { status: 'ready', passage: a.payload, error: null });
      })
      .addCase(fetchPassage.rejected, (s, a) => {
        if (s.passage?.source.chunkId === a.meta.arg) Object.assign(s.passage, { status: 'error', error: a.payload ? describeError(a.payload) : 'The passage could not be read.' });
      });
    for (const thunk of DOC_ACTIONS) {
      b.addCase(thunk.pending, (s, a) => {
        delete s.actionErrors[a.meta.arg.ref];
      }).addCase(thunk.rejected, (s, a) => {
        s.actionErrors[a.meta.arg.ref] = a.payload ? describeError(a.payload) : 'Hearth refused.';
      });
    }
    for (const thunk of FOLDER_ACTIONS) {
      b.addCase(thunk.pending, (s) => {
        s.folderBusy = true;
        s.folderError = null;
      })
        .addCase(thunk.fulfilled, (s) => {
          s.folderBusy = false;
        })
        .addCase(thunk.rejected, (s, a) => {
          s.folderBusy = false;
          s.folderError = a.payload ? (thunk === addFolders ? a.payload.message : describeError(a.payload)) : 'Hearth refused the change.';
        });
    }
  },
});

export const { docAdded, docReadFailed, docDetached, docRefused, docsSet, docsTaken, docsReturned, progressReceived, passageClosed, folderErrorCleared } = docsSlice.actions;
export default docsSlice.reducer;

// ---- selectors -----------------------------------------------------------------------------------

const NONE: AttachedDoc[] = [];
export const selectAttachedDocs = (s: RootState, key: string): AttachedDoc[] => s.docs.attached[key] ?? NONE;
export const selectDocsError = (s: RootState, key: string): string | undefined => s.docs.errors[key];
export const selectDocument = (s: RootState, ref: string): DocumentDTO | undefined => s.docs.documents[ref];
/** Whether a thread took this document out ("Remove from chat", as docs.list last said). */
export const selectRemovedFrom = (s: RootState, threadId: string, ref: string): boolean => s.docs.threads[threadId]?.removed.includes(ref) ?? false;
export const selectDocsStatus = (s: RootState) => s.docs.status;
export const selectPassage = (s: RootState) => s.docs.passage;
/** What a composer's documents send: the attachments of those stored. */
export const docAttachmentsOf = (docs: readonly AttachedDoc[]): DocumentAttachment[] => docs.flatMap((d) => (d.attachment ? [d.attachment] : []));
/** A message's documents (its attachments of type document, as docs.store made them). */
export const documentsOf = (m: MessageDTO): DocumentAttachment[] =>
  m.attachments.flatMap((a) => {
    const r = DocumentAttachment.safeParse(a);
    return a.type === 'document' && r.success ? [r.data] : [];
  });
/**
 * The documents a message's edit box offers: the message's, less those its thread took out ("Remove
 * from chat", docs.list's `removed`). The box does not offer a removed one, so an edit that changes
 * the documents leaves it off the message; main keeps it removed either way (an edit never undoes a
 * removal: main/docs/service.ts attach). `saveEdit` compares the box with this list.
 */
export const selectEditableDocuments = (s: RootState, m: MessageDTO): DocumentAttachment[] => documentsOf(m).filter((d) => !selectRemovedFrom(s, m.threadId, d.ref));
/** Opens a message's edit box (key: imagesSlice `editKey`) with the documents it offers (selectEditableDocuments). */
export function editDocsOpened(key: string, m: MessageDTO) {
  return (dispatch: AppDispatch, getState: () => RootState): void => {
    dispatch(docsSet(key, selectEditableDocuments(getState(), m)));
  };
}
/** The refs of the documents a thread's loaded messages carry. */
export function threadDocRefs(s: RootState, threadId: string): string[] {
  const ids = s.chat.byThread[threadId]?.ids ?? [];
  return ids.flatMap((id) => {
    const m = s.chat.messages[id];
    return m ? documentsOf(m).map((d) => d.ref) : [];
  });
}
