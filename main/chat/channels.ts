/**
 * The conversation channels of the IPC contract: threads.*, messages.*, chat.* (turns are started
 * and stopped by ./turns.ts), images.* (the images messages carry, ./images.ts) and search.query over
 * the stored chats.
 */
import type { EngineClient } from '../engine/client';
import { CHAT_MODEL_ID, ModelLibrary } from '../models/library';
import type { Handlers, Services } from '../services';
import type { Store } from '../store';
import type { ImageSweep } from './image-sweep';
import type { ImageStore } from './images';
import type { ThreadSessions } from './sessions';
import type { ChatService } from './turns';
import { toThreadDTO } from './dto';
import { ChatViews } from './views';

export function chatChannels(deps: {
  store: Store;
  engine: EngineClient;
  library: ModelLibrary;
  services: Services;
  views: ChatViews;
  chat: ChatService;
  images: ImageStore;
  sessions?: ThreadSessions;
  /** deletes the images no message refers to any more (./image-sweep.ts) */
  imageSweep: ImageSweep;
}): Handlers {
  const { store, services, views, chat } = deps;
  const changed = (t: ReturnType<typeof toThreadDTO>) => {
    services.emit('threads.changed', { thread: t });
    return t;
  };
  return {
    'threads.list': (r) => {
      const page = store.threads.list({ limit: r.limit, cursor: r.cursor, archived: r.archived });
      return { threads: page.items.map(toThreadDTO), nextCursor: page.nextCursor };
    },
    'threads.create': (r) => {
      const input = { assistantId: r.assistantId ?? views.defaultAssistantId(), model: r.modelPath ?? null };
      return changed(toThreadDTO(r.temporary ? store.temporary.threads.create(input) : store.threads.create(input)));
    },
    'threads.get': (r) => views.view(r.id),
    'threads.rename': (r) => changed(toThreadDTO(views.api(r.id).threads.rename(r.id, r.title))),
    'threads.pin': (r) => changed(toThreadDTO(views.api(r.id).threads.setPinned(r.id, r.pinned))),
    'threads.archive': (r) => changed(toThreadDTO(views.api(r.id).threads.setArchived(r.id, r.archived))),
    'threads.setModel': (r) => changed(toThreadDTO(chat.setModel(r.id, r.model))),
    'threads.delete': async (r) => {
      await chat.stop(r.id);
      // a temporary chat's images go with it (unless a message elsewhere refers to the same image); a saved
      // chat's are set aside by the sweep, as a backup that holds the chat may be restored
      const temporary = store.temporary.has(r.id);
      const discarded = temporary ? store.temporary.attachmentRefs(r.id) : undefined;
      views.api(r.id).threads.delete(r.id);
      // its cached conversation goes with it (the sequence, the saved file)
      await deps.sessions?.forget(r.id);
      services.emit('threads.deleted', { id: r.id, ...(temporary ? { temporary } : {}) });
      // and the images no message refers to any more (the sweep logs its failures; it never throws)
      void deps.imageSweep.run(discarded);
      return { ok: true as const };
    },
    'messages.switchAlternative': (r) => {
      const threadId = views.threadOfMessage(r.messageId);
      views.api(threadId).messages.switchAlternative(r.messageId, r.direction);
      return views.view(threadId);
    },
    'chat.send': (r) => chat.send(r),
    'chat.stop': async (r) => {
      await chat.stop(r.threadId);
      return { ok: true as const };
    },
    'chat.regenerate': (r) => chat.regenerate(r.threadId, r.messageId),
    'chat.edit': (r) => chat.edit(r),
    'chat.continue': (r) => chat.continue(r.threadId, r.messageId),
    'images.store': async (r) => {
      const a = await deps.images.addBase64(r.data, r.name);
      // its grace period (an image in a composer, not sent yet) counts from now
      deps.imageSweep.noteStored(a.ref);
      return a;
    },
    'images.read': async (r) => ({ url: await deps.images.dataUrl(r.ref) }),
    'chat.countTokens': async (r) => {
      if (!deps.library.loadedPath) return { tokens: Math.ceil(r.text.length / 4) };
      const toks = await deps.engine.tokenize(CHAT_MODEL_ID, r.text, { addSpecial: false });
      return { tokens: toks.length };
    },
    'search.query': (r) => {
      const res = store.search({ query: r.q, threadId: r.threadId, limit: r.limit, offset: r.offset });
      return { hits: res.hits.map((h) => ({ threadId: h.threadId, threadTitle: h.threadTitle, messageId: h.messageId, snippet: h.snippet })) };
    },
  };
}
