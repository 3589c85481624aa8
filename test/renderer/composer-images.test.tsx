/** @jest-environment jsdom */
/**
 * Images in the composer and the thread, in jsdom: an image picked, pasted or dropped is stored
 * through images.store and shows as a chip (with its own Remove button) until the message is sent
 * with its attachment; a refused file says why; while the loaded model reads no images the Attach
 * files button (documents need no vision) says why images would be refused, and refuses them; a sent message shows its images, read back through images.read, with
 * their file names as text alternatives. Main is the FakeBridge (./fake-bridge).
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { MessageDTO, ModelState } from '../../main/ipc/contract';
import { modelStateReceived } from '../../renderer/src/features/models/modelsSlice';
import { IMAGE_CALLS_IN_FLIGHT } from '../../main/params';
import { FakeBridge, ipcError, message } from './fake-bridge';
import { attachment, loaded, PNG_BYTES, pngFile, REF_A, REF_B, renderChat, storing } from './render-chat';

function setup(messages: MessageDTO[], handlers: ConstructorParameters<typeof FakeBridge>[0] = {}, models?: ModelState) {
  return renderChat(messages, { 'images.store': storing, ...handlers }, models);
}

const chips = () => within(screen.getByRole('list', { name: 'Attached images' }));

test('an image picked with "Attach files" shows as a chip; Remove takes it off; Send sends the rest as attachments', async () => {
  const user = message({ id: 'u1', role: 'user', content: 'What are these?', threadId: 't1', attachments: [attachment(REF_B, 'dog.png')] });
  const reply = message({ id: 'r1', parentId: 'u1', status: 'streaming', threadId: 't1' });
  const { bridge } = setup([], { 'chat.send': () => ({ userMessage: user, reply }), 'images.read': () => ({ url: 'data:image/png;base64,AAAA' }) }, loaded('/m/mmproj.gguf'));

  const attach = screen.getByRole('button', { name: 'Attach files' }) as HTMLButtonElement;
  expect(attach.disabled).toBe(false);
  const picker = screen.getByLabelText('Choose files') as HTMLInputElement;
  expect(picker.type).toBe('file');
  // the images a model reads, then the documents Hearth reads (by extension)
  expect(picker.accept.startsWith('image/png,image/jpeg,image/gif,image/bmp,.txt,')).toBe(true);
  expect(picker.accept.split(',')).toEqual(expect.arrayContaining(['.pdf', '.docx', '.md', '.csv']));
  // the button opens the picker
  const click = jest.spyOn(picker, 'click').mockImplementation(() => undefined);
  fireEvent.click(attach);
  expect(click).toHaveBeenCalled();

  fireEvent.change(picker, { target: { files: [pngFile('cat.png'), pngFile('dog.png')] } });
  // each is stored, then shown by its name
  expect(await chips().findByRole('img', { name: 'cat.png' })).toBeTruthy();
  expect(await chips().findByRole('img', { name: 'dog.png' })).toBeTruthy();
  expect(bridge.callsTo('images.store').map((p) => p.name).sort()).toEqual(['cat.png', 'dog.png']);
  expect((chips().getByRole('img', { name: 'cat.png' }) as HTMLImageElement).src).toBe(`data:image/png;base64,${PNG_BYTES.toString('base64')}`);

  fireEvent.click(chips().getByRole('button', { name: 'Remove image cat.png' }));
  expect(chips().queryByRole('img', { name: 'cat.png' })).toBeNull();

  const box = screen.getByRole('textbox', { name: 'Message' });
  fireEvent.change(box, { target: { value: 'What are these?' } });
  fireEvent.click(screen.getByRole('button', { name: 'Send message' }));
  await waitFor(() => expect(bridge.callsTo('chat.send')).toEqual([{ threadId: 't1', content: 'What are these?', attachments: [attachment(REF_B, 'dog.png')] }]));
  // the chips went with the message
  expect(screen.queryByRole('list', { name: 'Attached images' })).toBeNull();
  // and the sent message shows its image, named by its file
  const sent = await screen.findByRole('article', { name: 'Your message' });
  expect(within(sent).getByRole('img', { name: 'dog.png' })).toBeTruthy();
});

test('an image alone can be sent; a paste of an image attaches it, a drop too; a refused file says why', async () => {
  const user = message({ id: 'u1', role: 'user', content: '', threadId: 't1', attachments: [attachment(REF_A, 'cat.png')] });
  const reply = message({ id: 'r1', parentId: 'u1', status: 'streaming', threadId: 't1' });
  const { bridge } = setup([], {
    'chat.send': () => ({ userMessage: user, reply }),
    'images.read': () => ({ url: 'data:image/png;base64,AAAA' }),
  });
  const send = screen.getByRole('button', { name: 'Send message' }) as HTMLButtonElement;
  expect(send.disabled).toBe(true);
  const box = screen.getByRole('textbox', { name: 'Message' });
  // text pasted goes to the box (not prevented); an image pasted is attached
  expect(fireEvent.paste(box, { clipboardData: { files: [], types: ['text/plain'] } })).toBe(true);
  expect(fireEvent.paste(box, { clipboardData: { files: [pngFile('cat.png')], types: ['Files'] } })).toBe(false);
  expect(await chips().findByRole('img', { name: 'cat.png' })).toBeTruthy();
  await waitFor(() => expect(send.disabled).toBe(false));
  fireEvent.click(send);
  await waitFor(() => expect(bridge.callsTo('chat.send')).toEqual([{ threadId: 't1', content: '', attachments: [attachment(REF_A, 'cat.png')] }]));

  // a dropped file that main refuses: no chip, and the reason
  bridge.handlers['images.store'] = () => Promise.reject(ipcError('invalid_input', 'notes.webp is not an image Hearth can send to a model: only PNG, JPEG, GIF or BMP files are read'));
  const form = screen.getByRole('form', { name: 'Message composer' });
  fireEvent.drop(form, { dataTransfer: { files: [new File([PNG_BYTES], 'notes.webp', { type: 'image/webp' })], types: ['Files'] } });
  const alert = await screen.findByRole('alert');
  expect(alert.textContent).toContain('only PNG, JPEG, GIF or BMP files are read');
  expect(screen.queryByRole('list', { name: 'Attached images' })).toBeNull();
  fireEvent.click(within(alert).getByRole('button', { name: 'Dismiss' }));
  expect(screen.queryByRole('alert')).toBeNull();
  // an empty file is refused here, saying so (main is not asked)
  const stored = bridge.callsTo('images.store').length;
  fireEvent.drop(form, { dataTransfer: { files: [new File([], 'img.png', { type: 'image/png' })], types: ['Files'] } });
  expect((await screen.findByRole('alert')).textContent).toContain('img.png is empty: it is no image');
  expect(bridge.callsTo('images.store')).toHaveLength(stored);
});

test('a failed send gives the images back', async () => {
  const { bridge } = setup([], { 'chat.send': () => Promise.reject(ipcError('invalid_input', 'this model does not read images; load a vision model with its projector (mmproj)')) });
  fireEvent.change(screen.getByLabelText('Choose files'), { target: { files: [pngFile('cat.png')] } });
  expect(await chips().findByRole('img', { name: 'cat.png' })).toBeTruthy();
  fireEvent.change(screen.getByRole('textbox', { name: 'Message' }), { target: { value: 'Look' } });
  fireEvent.click(screen.getByRole('button', { name: 'Send message' }));
  await waitFor(() => expect(bridge.callsTo('chat.send')).toHaveLength(1));
  expect((await screen.findByRole('alert')).textContent).toContain('does not read images');
  expect(chips().getByRole('img', { name: 'cat.png' })).toBeTruthy();
});

test('a loaded model without a projector: Attach files stays enabled (documents need no vision) and says why images are refused; an image picked or pasted is refused with the reason', async () => {
  const { bridge, store } = setup([], {}, loaded(null));
  const attach = screen.getByRole('button', { name: 'Attach files' }) as HTMLButtonElement;
  expect(attach.hasAttribute('aria-disabled')).toBe(false);
  const reason = 'Images cannot be read by this model: this model does not read images; load a vision model with its projector (mmproj)';
  expect(attach.title).toBe(reason);
  expect(screen.getByRole('button', { name: 'Attach files', description: reason })).toBe(attach);
  // the button opens the picker; an image picked is refused with the reason
  const picker = screen.getByLabelText('Choose files') as HTMLInputElement;
  const click = jest.spyOn(picker, 'click').mockImplementation(() => undefined);
  fireEvent.click(attach);
  expect(click).toHaveBeenCalled();
  fireEvent.change(picker, { target: { files: [pngFile('cat.png')] } });
  expect((await screen.findByRole('alert')).textContent).toContain('this model does not read images');
  fireEvent.click(within(screen.getByRole('alert')).getByRole('button', { name: 'Dismiss' }));
  fireEvent.paste(screen.getByRole('textbox', { name: 'Message' }), { clipboardData: { files: [pngFile('cat.png')], types: ['Files'] } });
  expect((await screen.findByRole('alert')).textContent).toContain('this model does not read images');
  expect(bridge.callsTo('images.store')).toEqual([]);
  // a vision model loaded: the reason goes
  act(() => void store.dispatch(modelStateReceived(loaded('/m/mmproj.gguf'))));
  expect(attach.getAttribute('aria-describedby')).toBeNull();
  expect(attach.title).toBe('Attach images or documents (or paste or drop them)');
});

test("a thread's images are read once each, named by their files; one no longer stored says so", async () => {
  const u1 = message({ id: 'u1', role: 'user', content: 'Two pictures', threadId: 't1', attachments: [attachment(REF_A, 'cat.png'), attachment(REF_B, 'gone.png')] });
  const r1 = message({ id: 'r1', parentId: 'u1', content: 'Nice.', threadId: 't1' });
  const u2 = message({ id: 'u2', role: 'user', content: 'Again', parentId: 'r1', threadId: 't1', attachments: [attachment(REF_A, 'cat.png')] });
  const { bridge } = setup([u1, r1, u2], {
    'images.read': (p: { ref: string }) => (p.ref === REF_A ? { url: 'data:image/png;base64,QUJD' } : Promise.reject(ipcError('image_missing', 'the image is no longer stored'))),
  });
  const [first, second] = screen.getAllByRole('article', { name: 'Your message' });
  expect(((await within(first).findByRole('img', { name: 'cat.png' })) as HTMLImageElement).src).toBe('data:image/png;base64,QUJD');
  expect(await within(first).findByRole('img', { name: 'gone.png (no longer stored)' })).toBeTruthy();
  expect(await within(second).findByRole('img', { name: 'cat.png' })).toBeTruthy();
  expect(bridge.callsTo('images.read').map((p) => p.ref).sort()).toEqual([REF_A, REF_B]);
});

test('a page reads at most IMAGE_CALLS_IN_FLIGHT images at once (what browser mode runs for a socket); the others wait their turn', async () => {
  const refs = ['c', 'd', 'e', 'f'].map((c) => c.repeat(64));
  const u1 = message({ id: 'u1', role: 'user', content: 'Four pictures', threadId: 't1', attachments: refs.map((r, i) => attachment(r, `${i}.png`)) });
  const held: (() => void)[] = [];
  let most = 0;
  const { bridge } = setup([u1], {
    'images.read': () =>
      new Promise((resolve) => {
        held.push(() => resolve({ url: 'data:image/png;base64,QUJD' }));
        most = Math.max(most, held.length);
      }),
  });
  await waitFor(() => expect(held).toHaveLength(IMAGE_CALLS_IN_FLIGHT));
  // every read was asked for at once: the others wait until one ends
  await act(async () => undefined);
  expect(bridge.callsTo('images.read')).toHaveLength(IMAGE_CALLS_IN_FLIGHT);
  for (let n = 0; n < refs.length; n++) {
    await waitFor(() => expect(held.length).toBeGreaterThan(0));
    await act(async () => held.shift()!());
  }
  await waitFor(() => expect(screen.getAllByRole('img', { name: /^\d\.png$/ })).toHaveLength(refs.length));
  expect(bridge.callsTo('images.read').map((p) => p.ref)).toEqual(refs);
  expect(most).toBe(IMAGE_CALLS_IN_FLIGHT);
});
