/** Waiting on the chat service's events in tests that drive the real services. */
import type { App } from '../../main/compose';
import type { EventOf, MessageDTO } from '../../main/ipc/contract';

/** The next `chat.done` of a thread: its final message. */
export function nextDone(app: App, threadId: string): Promise<MessageDTO> {
  return new Promise((resolve) => {
    const off = app.services.subscribe((event, payload) => {
      if (event === 'chat.done' && (payload as EventOf<'chat.done'>).threadId === threadId) {
        off();
        resolve((payload as EventOf<'chat.done'>).message);
      }
    });
  });
}
