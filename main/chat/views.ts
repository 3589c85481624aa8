/**
 * What the renderer sees of chats: the store a thread lives in (SQLite, or memory for a temporary
 * chat), and its threads and messages (with their alternatives) in the contract's shapes (./dto.ts).
 */
import type { MessageDTO, ThreadDTO } from '../ipc/contract';
import { isStoreError, MessagesApi, Store, ThreadsApi } from '../store';
import { toMessageDTO, toThreadDTO } from './dto';
import { parseRemoteModelRef } from '../params';

/** A model file's name without folder and extension, or a remote model's id (what a reply records as its model). */
export function modelName(p: string | null): string | undefined {
  if (p === null) return undefined;
  const remote = parseRemoteModelRef(p);
  if (remote) return remote.model;
  return p.split(/[\\/]/).pop()!.replace(/\.gguf$/i, '');
}

/** The threads and messages of the store a thread lives in, and its DTOs. */
export class ChatViews {
  constructor(private readonly store: Store) {}

  /** A temporary chat's thread lives in memory, every other in SQLite. */
  api(threadId: string): { threads: ThreadsApi; messages: MessagesApi } {
    return this.store.temporary.has(threadId) ? this.store.temporary : { threads: this.store.threads, messages: this.store.messages };
  }

  thread(threadId: string): ThreadDTO {
    return toThreadDTO(this.api(threadId).threads.get(threadId));
  }

  /** A thread with the messages on its current path. */
  view(threadId: string): { thread: ThreadDTO; messages: MessageDTO[] } {
    const { threads, messages } = this.api(threadId);
    return { thread: toThreadDTO(threads.get(threadId)), messages: messages.list(threadId).map(toMessageDTO) };
  }

  /** One message, with its place among its alternatives when it is on the thread's path. */
  message(threadId: string, id: string): MessageDTO {
    const { messages } = this.api(threadId);
    const onPath = messages.list(threadId).find((m) => m.id === id);
    return toMessageDTO(onPath ?? { ...messages.get(id), alternatives: { index: 0, count: 1, ids: [id] } });
  }

  /** The thread a message belongs to, in SQLite or among the temporary chats. */
  threadOfMessage(messageId: string): string {
    try {
      return this.store.messages.get(messageId).threadId;
    } catch (e) {
      if (!isStoreError(e, 'not_found')) throw e;
      return this.store.temporary.messages.get(messageId).threadId;
    }
  }

  defaultAssistantId(): string {
    return this.store.settings.get('defaultAssistantId');
  }
}
