/** Domain types shared by the SQLite store and the in-memory temporary chats. */
import type { CacheType, ChatSettings, LoadSettings } from '../params';
import type { StoreErrorCode } from './errors';

/** Milliseconds since the epoch. Injected so tests control time. */
export type Clock = () => number;

export const ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type Role = (typeof ROLES)[number];

export const MESSAGE_STATUSES = ['streaming', 'done', 'error', 'interrupted', 'aborted'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

/** Why a finished reply ended (defined with the contract, the layer below the store). */
export { FINISH_REASONS, type FinishReason } from '../ipc/contract';
import type { AttachmentDTO, FinishReason, SourceDTO } from '../ipc/contract';

/** A chat's sampling and request settings (main/params). */
export type SamplingParams = ChatSettings;

export type { CacheType };

/** Load settings kept per model (and per thread): the engine's load parameters, every one optional. */
export type LoadParams = LoadSettings;

/** Per-thread overrides on top of the assistant's and the app's defaults. */
export interface ThreadOverrides {
  instructions?: string | null;
  sampling?: SamplingParams;
  load?: LoadParams;
}

export interface Thread {
  id: string;
  title: string;
  assistantId: string | null;
  model: string | null;
  createdAt: number;
  updatedAt: number;
  pinned: boolean;
  archived: boolean;
  overrides: ThreadOverrides;
  /** True for temporary chats, which live in memory only. */
  temporary: boolean;
  /** the names of the remote providers the thread's messages were sent to (absent or empty: none) */
  remoteSent?: string[];
}

export interface ToolCall {
  id: string;
  name: string;
  arguments?: unknown;
  result?: unknown;
  error?: string;
}

/** A file a message carries, by reference (the store keeps references, not bytes): defined with the contract. */
export type Attachment = AttachmentDTO;

export interface MessageMetrics {
  promptTokens?: number;
  cachedTokens?: number;
  generatedTokens?: number;
  /** time to first token */
  ttftMs?: number;
  /** prompt processing speed, tokens/s */
  promptTps?: number;
  /** generation speed, tokens/s */
  genTps?: number;
  durationMs?: number;
  /** the context's size (tokens) the reply was written in */
  contextSize?: number;
  /** speculative decoding: tokens drafted, and those the model accepted */
  draftTokens?: number;
  acceptedTokens?: number;
}

export interface Message {
  id: string;
  threadId: string;
  /** Previous message in the conversation; siblings (same parent) are alternatives. */
  parentId: string | null;
  /** Whether this message is the selected alternative among its siblings. */
  active: boolean;
  role: Role;
  content: string;
  reasoning: string;
  toolCalls: ToolCall[] | null;
  /** For role 'tool': the call this message answers. */
  toolCallId: string | null;
  attachments: Attachment[];
  /** the documents' passages a reply was given (main/docs): null for none */
  sources: SourceDTO[] | null;
  status: MessageStatus;
  /** why the reply ended (see FINISH_REASONS) */
  finishReason: FinishReason | null;
  error: string | null;
  model: string | null;
  metrics: MessageMetrics | null;
  createdAt: number;
  updatedAt: number;
}

/** A message on the thread's current path, with its alternatives for paging. */
export interface MessageView extends Message {
  alternatives: { index: number; count: number; ids: string[] };
}

export interface Page<T> {
  items: T[];
  offset: number;
  limit: number;
  hasMore: boolean;
  /** Pass as `cursor` to get the next page (stable while threads move); null on the last page. */
  nextCursor: string | null;
}

export interface PageRequest {
  limit?: number;
  offset?: number;
}

export interface NewThread {
  title?: string;
  assistantId?: string | null;
  model?: string | null;
  pinned?: boolean;
  overrides?: ThreadOverrides;
}

export interface ThreadPatch {
  title?: string;
  assistantId?: string | null;
  model?: string | null;
  overrides?: ThreadOverrides;
  /** the remote providers the thread's messages went to (the whole list) */
  remoteSent?: string[];
}

export interface ListThreadsRequest extends PageRequest {
  /** false (default): the normal list; true: the archive. */
  archived?: boolean;
  /** From a previous page's nextCursor (then `offset` is ignored). */
  cursor?: string;
}

export interface NewMessage {
  threadId: string;
  role: Role;
  content?: string;
  reasoning?: string;
  /** undefined: append after the end of the current path; null: a new root; an id: a reply to that message
   *  (an alternative to its existing replies, and selected). */
  parentId?: string | null;
  toolCalls?: ToolCall[] | null;
  toolCallId?: string | null;
  attachments?: Attachment[];
  status?: Exclude<MessageStatus, 'streaming'>;
  finishReason?: FinishReason | null;
  error?: string | null;
  model?: string | null;
  metrics?: MessageMetrics | null;
}

export interface MessagePatch {
  content?: string;
  reasoning?: string;
  toolCalls?: ToolCall[] | null;
  attachments?: Attachment[];
  status?: Exclude<MessageStatus, 'streaming'>;
  error?: string | null;
  metrics?: MessageMetrics | null;
}

export interface BeginReply {
  threadId: string;
  /** As in NewMessage: undefined appends to the current path; an id regenerates under that message. */
  parentId?: string | null;
  model?: string | null;
  role?: 'assistant' | 'tool';
}

export interface FinishReply {
  status: Exclude<MessageStatus, 'streaming'>;
  /** why the reply ended; absent or null when it did not end by itself or by a stop (an error) */
  finishReason?: FinishReason | null;
  error?: string | null;
  metrics?: MessageMetrics | null;
  toolCalls?: ToolCall[] | null;
  model?: string | null;
}

export interface ReplyHooks {
  /** Called after each write of buffered text reaches storage. */
  onFlush?(e: { chars: number; flushedChars: number; flushCount: number }): void;
  /** Called once when text can no longer be stored (see ReplyWriter.failure): stop generating. */
  onFailure?(f: ReplyFailure): void;
}

/** Why a streamed reply can no longer be written: over its size limit, finished, the database busy past the retries, or a write error (SQLITE_FULL…). */
export interface ReplyFailure {
  code: Extract<StoreErrorCode, 'too_large' | 'closed' | 'busy' | 'write_failed'>;
  message: string;
}

/** Writes a reply while it is generated. Text is buffered and flushed in small batches. */
export interface ReplyWriter {
  readonly messageId: string;
  readonly threadId: string;
  /** Characters of content + reasoning written to storage so far. */
  readonly flushedChars: number;
  readonly flushCount: number;
  readonly closed: boolean;
  /** Characters buffered and not yet stored. */
  readonly pendingChars: number;
  /** Set once text can no longer be stored; appends are then dropped. */
  readonly failure: ReplyFailure | null;
  /** Buffers text. Never throws: a failure is reported through `failure` and `onFailure`. */
  append(text: string): void;
  appendReasoning(text: string): void;
  /** Writes buffered text now; returns the number of characters written (0 when it could not: the text stays buffered). Never throws. */
  flush(): number;
  /** Writes what is left and the final status and metrics; the writer is then closed. Throws if the write fails (the buffer is kept). */
  finish(result: FinishReply): Message;
  /** finish() retrying a busy database; a failed final write ends the reply as an error without the unstored text. */
  end(result: FinishReply): Promise<Message>;
}

/** Thread operations, implemented by the SQLite store and by the in-memory temporary chats. */
export interface ThreadsApi {
  create(input?: NewThread): Thread;
  get(id: string): Thread;
  list(req?: ListThreadsRequest): Page<Thread>;
  rename(id: string, title: string): Thread;
  setPinned(id: string, pinned: boolean): Thread;
  setArchived(id: string, archived: boolean): Thread;
  update(id: string, patch: ThreadPatch): Thread;
  delete(id: string): void;
}

/** Message operations, implemented by the SQLite store and by the in-memory temporary chats. */
export interface MessagesApi {
  add(input: NewMessage): Message;
  get(id: string): Message;
  /** The thread's current path (selected alternatives), oldest first. */
  list(threadId: string): MessageView[];
  /** Every message of the thread, alternatives included, in creation order. */
  listAll(threadId: string): Message[];
  /** Changes a message in place. */
  update(id: string, patch: MessagePatch): Message;
  /** Edits a message by adding an alternative beside it (the original and its replies are kept). */
  /** A new version of a message (an alternative to it): its attachments stay unless `attachments` replaces them. */
  edit(id: string, content: string, attachments?: Attachment[]): Message;
  /** Selects an alternative; returns the new current path. */
  selectAlternative(id: string): MessageView[];
  /** Selects the previous or next alternative of a message (no change at either end); returns the current path. */
  switchAlternative(id: string, direction: 'prev' | 'next'): MessageView[];
  /** Deletes a message and every reply below it. */
  delete(id: string): void;
  /** Starts a streamed reply (row created now, status 'streaming'). */
  beginReply(input: BeginReply, hooks?: ReplyHooks): ReplyWriter;
  /** Starts a new alternative to an existing reply. */
  regenerate(replyId: string, opts?: { model?: string | null }, hooks?: ReplyHooks): ReplyWriter;
  /** Reopens a finished or interrupted assistant reply to append more text ("continue"). */
  continueReply(replyId: string, hooks?: ReplyHooks): ReplyWriter;
  /** Records the documents' passages a reply is given (while it streams too): null clears them. */
  setSources(id: string, sources: SourceDTO[] | null): void;
}
