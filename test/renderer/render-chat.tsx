/**
 * The chat view on a FakeBridge, for the chat suites (chat-view, composer-images, edit-images): a
 * store with thread t1 loaded with `messages` and selected (and, when given, the models' state), and
 * <ChatView> rendered. Also the images those suites attach: a few PNG bytes, stored by images.store as
 * main answers it.
 */
import { render } from '@testing-library/react';
import { Provider } from 'react-redux';
import type { ImageAttachment, MessageDTO, ModelState } from '../../main/ipc/contract';
import { setBridge } from '../../renderer/src/app/bridge';
import { makeStore } from '../../renderer/src/app/store';
import { loadThread } from '../../renderer/src/features/chat/chatSlice';
import { ChatView } from '../../renderer/src/features/chat/ChatView';
import { modelStateReceived } from '../../renderer/src/features/models/modelsSlice';
import { threadSelected } from '../../renderer/src/features/threads/threadsSlice';
import { FakeBridge, thread } from './fake-bridge';

export function renderChat(messages: MessageDTO[], handlers: ConstructorParameters<typeof FakeBridge>[0] = {}, models?: ModelState) {
  const bridge = new FakeBridge(handlers);
  setBridge(bridge);
  const store = makeStore();
  if (models) store.dispatch(modelStateReceived(models));
  store.dispatch(loadThread.fulfilled({ thread: thread({ id: 't1', title: 'Test' }), messages }, 'q', 't1'));
  store.dispatch(threadSelected('t1'));
  const ui = render(
    <Provider store={store}>
      <ChatView />
    </Provider>,
  );
  return { bridge, store, ...ui };
}

/** A model loaded, with this projector (null: it reads no images). */
export const loaded = (projector: string | null): ModelState => ({
  loaded: { path: '/m/a.gguf', contextSize: 2048, tokensUsed: 0, tokensUsedBy: null, projector },
  loading: null,
  error: null,
});

export const PNG_BYTES = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
export const REF_A = 'a'.repeat(64);
export const REF_B = 'b'.repeat(64);

export function attachment(ref: string, name: string): ImageAttachment {
  return { type: 'image', ref, name, mimeType: 'image/png', size: PNG_BYTES.length };
}

/** images.store as main answers it: a ref per name (REF_A for cat.png, REF_B for anything else). */
export function storing(p: { name: string; data: string }): ImageAttachment {
  expect(Buffer.from(p.data, 'base64').equals(PNG_BYTES)).toBe(true);
  return attachment(p.name === 'cat.png' ? REF_A : REF_B, p.name);
}

export function pngFile(name: string): File {
  return new File([PNG_BYTES], name, { type: 'image/png' });
}
