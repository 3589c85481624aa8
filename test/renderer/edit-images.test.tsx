/** @jest-environment jsdom */
/**
 * A sent message's images in its edit box, in jsdom: the box opens with the message's images as chips
 * (each with "Remove image <name>"), takes more as the composer does (the picker, a paste, a drop),
 * and Save sends the edited images with chat.edit (left out when they did not change); Cancel sends
 * nothing and leaves the message as it was. While the loaded model reads no images the box's Attach
 * files button (documents need no vision) says why images are refused, an image pasted is refused with
 * the reason, and an edit that keeps the message's images still saves its text.
 * Main is the FakeBridge (./fake-bridge).
 */
import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { ImageAttachment } from '../../main/ipc/contract';
import { ipcError, message } from './fake-bridge';
import { attachment, loaded, PNG_BYTES, pngFile, REF_A, REF_B, renderChat } from './render-chat';

const REF_C = 'c'.repeat(64);
const REF_D = 'd'.repeat(64);
const CAT = attachment(REF_A, 'cat.png');
const DOG = attachment(REF_B, 'dog.png');
const BIRD = attachment(REF_C, 'bird.png');
const FISH = attachment(REF_D, 'fish.png');
const NO_VISION = 'this model does not read images; load a vision model with its projector (mmproj)';

/** images.store as main answers it, for the images these tests attach. */
function storing(p: { name: string; data: string }): ImageAttachment {
  expect(Buffer.from(p.data, 'base64').equals(PNG_BYTES)).toBe(true);
  const stored = [CAT, DOG, BIRD, FISH].find((a) => a.name === p.name);
  if (!stored) throw new Error(`unexpected image ${p.name}`);
  return stored;
}

const u1 = message({ id: 'u1', role: 'user', content: 'What are these?', threadId: 't1', attachments: [CAT, DOG] });
const r1 = message({ id: 'r1', parentId: 'u1', content: 'A cat and a dog.', threadId: 't1' });

function setup(handlers: Parameters<typeof renderChat>[1] = {}, projector: string | null = '/m/mmproj.gguf') {
  return renderChat([u1, r1], { 'images.store': storing, 'images.read': () => ({ url: 'data:image/png;base64,QUJD' }), ...handlers }, loaded(projector));
}

const editBox = () => within(screen.getByRole('group', { name: 'Editing your message' }));
const chipNames = () =>
  editBox()
    .getAllByRole('listitem')
    .map((li) => li.querySelector('.image-chip-name')!.textContent);
const openEdit = () => fireEvent.click(screen.getByRole('button', { name: 'Edit message' }));

test("the edit box shows the message's images; one removed, others added by the picker, a paste and a drop; Save sends them with chat.edit", async () => {
  const u2 = message({ id: 'u2', role: 'user', content: 'And these?', threadId: 't1', attachments: [CAT, BIRD, FISH], alternative: { index: 1, count: 2 } });
  const r2 = message({ id: 'r2', parentId: 'u2', content: 'A cat, a bird and a fish.', threadId: 't1' });
  let release: () => void = () => undefined;
  const { bridge } = setup({
    'chat.edit': () => ({ userMessage: u2, reply: r2 }),
    'images.store': (p: { name: string; data: string }) =>
      p.name === 'fish.png' ? new Promise((resolve) => (release = () => resolve(storing(p)))) : storing(p),
  });
  openEdit();
  const chips = editBox().getByRole('list', { name: 'Attached images' });
  expect(chipNames()).toEqual(['cat.png', 'dog.png']);
  expect(((await within(chips).findByRole('img', { name: 'dog.png' })) as HTMLImageElement).src).toBe('data:image/png;base64,QUJD');
  // the composer's own images are not the edit's
  expect(screen.getAllByRole('list', { name: 'Attached images' })).toHaveLength(1);

  fireEvent.click(within(chips).getByRole('button', { name: 'Remove image dog.png' }));
  expect(chipNames()).toEqual(['cat.png']);
  // the picker of the edit box
  fireEvent.change(editBox().getByLabelText('Choose files'), { target: { files: [pngFile('bird.png')] } });
  expect(await within(chips).findByRole('img', { name: 'bird.png' })).toBeTruthy();
  // a paste of text goes into the box; a paste of an image attaches it
  const box = editBox().getByRole('textbox', { name: 'Edit message' });
  expect(fireEvent.paste(box, { clipboardData: { files: [], types: ['text/plain'] } })).toBe(true);
  expect(fireEvent.paste(box, { clipboardData: { files: [pngFile('fish.png')], types: ['Files'] } })).toBe(false);
  expect(await within(chips).findByRole('img', { name: 'fish.png (attaching)' })).toBeTruthy();
  // not saved while an image is still being stored
  const save = editBox().getByRole('button', { name: 'Save and send' }) as HTMLButtonElement;
  expect(save.disabled).toBe(true);
  await waitFor(() => expect(bridge.callsTo('images.store').map((p) => p.name)).toEqual(['bird.png', 'fish.png']));
  release();
  expect(await within(chips).findByRole('img', { name: 'fish.png' })).toBeTruthy();
  expect(save.disabled).toBe(false);
  // a drop on the edit box attaches too (the bird again; its second chip is removed)
  fireEvent.drop(screen.getByRole('group', { name: 'Editing your message' }), { dataTransfer: { files: [pngFile('bird.png')], types: ['Files'] } });
  await waitFor(() => expect(chipNames()).toEqual(['cat.png', 'bird.png', 'fish.png', 'bird.png']));
  // removed once it is being stored (removed while its file is still read, it would never be stored)
  await waitFor(() => expect(bridge.callsTo('images.store').map((p) => p.name)).toEqual(['bird.png', 'fish.png', 'bird.png']));
  fireEvent.click(within(chips).getAllByRole('button', { name: 'Remove image bird.png' })[1]);
  expect(chipNames()).toEqual(['cat.png', 'bird.png', 'fish.png']);

  fireEvent.change(box, { target: { value: 'And these?' } });
  fireEvent.click(save);
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toEqual([{ threadId: 't1', messageId: 'u1', content: 'And these?', attachments: [CAT, BIRD, FISH] }]));
  // the box closed; the new version shows its images
  expect(screen.queryByRole('group', { name: 'Editing your message' })).toBeNull();
  expect(await screen.findByText('A cat, a bird and a fish.')).toBeTruthy();
  const mine = screen.getByRole('article', { name: 'Your message' });
  expect(within(within(mine).getByRole('group', { name: 'Images' })).getAllByRole('img').map((i) => i.getAttribute('alt'))).toEqual(['cat.png', 'bird.png', 'fish.png']);
  expect(bridge.callsTo('images.store').map((p) => p.name)).toEqual(['bird.png', 'fish.png', 'bird.png']);
});

test('Cancel (or Escape) sends nothing and leaves the message as it was; the box opens again with its images', async () => {
  const { bridge } = setup({ 'chat.edit': () => Promise.reject(new Error('not expected')) });
  openEdit();
  fireEvent.click(editBox().getByRole('button', { name: 'Remove image cat.png' }));
  fireEvent.change(editBox().getByLabelText('Choose files'), { target: { files: [pngFile('bird.png')] } });
  expect(await editBox().findByRole('img', { name: 'bird.png' })).toBeTruthy();
  fireEvent.change(editBox().getByRole('textbox', { name: 'Edit message' }), { target: { value: 'Something else' } });
  fireEvent.click(editBox().getByRole('button', { name: 'Cancel' }));
  expect(screen.queryByRole('group', { name: 'Editing your message' })).toBeNull();
  const mine = screen.getByRole('article', { name: 'Your message' });
  expect(within(mine).getByText('What are these?')).toBeTruthy();
  expect(within(within(mine).getByRole('group', { name: 'Images' })).getAllByRole('img').map((i) => i.getAttribute('alt'))).toEqual(['cat.png', 'dog.png']);

  openEdit();
  expect(chipNames()).toEqual(['cat.png', 'dog.png']);
  expect((editBox().getByRole('textbox', { name: 'Edit message' }) as HTMLTextAreaElement).value).toBe('What are these?');
  fireEvent.click(editBox().getByRole('button', { name: 'Remove image dog.png' }));
  fireEvent.keyDown(editBox().getByRole('textbox', { name: 'Edit message' }), { key: 'Escape' });
  expect(screen.queryByRole('group', { name: 'Editing your message' })).toBeNull();
  openEdit();
  expect(chipNames()).toEqual(['cat.png', 'dog.png']);
  // saved unchanged: nothing to send
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  expect(screen.queryByRole('group', { name: 'Editing your message' })).toBeNull();
  expect(bridge.callsTo('chat.edit')).toEqual([]);
});

test('a model that reads no images: Attach files in the edit box says why images are refused, a pasted image is refused with the reason; an edit that keeps or drops the images saves', async () => {
  const u2 = message({ id: 'u2', role: 'user', content: 'Just the text', threadId: 't1', attachments: [CAT, DOG], alternative: { index: 1, count: 2 } });
  const r2 = message({ id: 'r2', parentId: 'u2', content: 'Text only.', threadId: 't1' });
  const { bridge } = setup({ 'chat.edit': () => ({ userMessage: u2, reply: r2 }) }, null);
  openEdit();
  const attach = editBox().getByRole('button', { name: 'Attach files', description: `Images cannot be read by this model: ${NO_VISION}` });
  expect(attach.hasAttribute('aria-disabled')).toBe(false);
  fireEvent.paste(editBox().getByRole('textbox', { name: 'Edit message' }), { clipboardData: { files: [pngFile('bird.png')], types: ['Files'] } });
  expect((await editBox().findByRole('alert')).textContent).toContain(NO_VISION);
  expect(bridge.callsTo('images.store')).toEqual([]);
  expect(chipNames()).toEqual(['cat.png', 'dog.png']);

  // the images kept: the text is saved, the images left out (the message keeps its own)
  fireEvent.change(editBox().getByRole('textbox', { name: 'Edit message' }), { target: { value: 'Just the text' } });
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toEqual([{ threadId: 't1', messageId: 'u1', content: 'Just the text' }]));
  expect(await screen.findByText('Text only.')).toBeTruthy();

  // the text emptied, the images kept: they go with it (chat.edit's request needs text or an image)
  openEdit();
  fireEvent.change(editBox().getByRole('textbox', { name: 'Edit message' }), { target: { value: '  ' } });
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toHaveLength(2));
  expect(bridge.callsTo('chat.edit')[1]).toEqual({ threadId: 't1', messageId: 'u2', content: '', attachments: [CAT, DOG] });
  // one dropped: the one left goes
  openEdit();
  fireEvent.click(editBox().getByRole('button', { name: 'Remove image cat.png' }));
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toHaveLength(3));
  expect(bridge.callsTo('chat.edit')[2]).toEqual({ threadId: 't1', messageId: 'u2', content: 'Just the text', attachments: [DOG] });
  // nothing left to say: Save is disabled
  openEdit();
  fireEvent.click(editBox().getByRole('button', { name: 'Remove image cat.png' }));
  fireEvent.click(editBox().getByRole('button', { name: 'Remove image dog.png' }));
  fireEvent.change(editBox().getByRole('textbox', { name: 'Edit message' }), { target: { value: '' } });
  expect((editBox().getByRole('button', { name: 'Save and send' }) as HTMLButtonElement).disabled).toBe(true);
});

test('an edit main refuses opens the box again with its text and images, the error said; saved again it goes', async () => {
  const u2 = message({ id: 'u2', role: 'user', content: 'Only the bird?', threadId: 't1', attachments: [BIRD], alternative: { index: 1, count: 2 } });
  const r2 = message({ id: 'r2', parentId: 'u2', content: 'A bird.', threadId: 't1' });
  let refuse = true;
  const { bridge } = setup({
    'chat.edit': () => (refuse ? Promise.reject(ipcError('busy', 'a reply is being written in this chat')) : { userMessage: u2, reply: r2 }),
  });
  openEdit();
  fireEvent.click(editBox().getByRole('button', { name: 'Remove image cat.png' }));
  fireEvent.click(editBox().getByRole('button', { name: 'Remove image dog.png' }));
  fireEvent.change(editBox().getByLabelText('Choose files'), { target: { files: [pngFile('bird.png')] } });
  expect(await editBox().findByRole('img', { name: 'bird.png' })).toBeTruthy();
  fireEvent.change(editBox().getByRole('textbox', { name: 'Edit message' }), { target: { value: 'Only the bird?' } });
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toHaveLength(1));
  // refused: the box is back with what was written and attached, and the error is shown
  expect(await screen.findByRole('group', { name: 'Editing your message' })).toBeTruthy();
  expect((editBox().getByRole('textbox', { name: 'Edit message' }) as HTMLTextAreaElement).value).toBe('Only the bird?');
  expect(chipNames()).toEqual(['bird.png']);
  expect(screen.getAllByRole('alert').some((a) => /reply is being written|busy|wait/i.test(a.textContent ?? ''))).toBe(true);
  refuse = false;
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toHaveLength(2));
  expect(bridge.callsTo('chat.edit')[1]).toEqual({ threadId: 't1', messageId: 'u1', content: 'Only the bird?', attachments: [BIRD] });
  await waitFor(() => expect(screen.queryByRole('group', { name: 'Editing your message' })).toBeNull());
});
