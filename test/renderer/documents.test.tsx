/** @jest-environment jsdom */
/**
 * Documents in the renderer, in jsdom (main is the FakeBridge): a document attached to the composer is
 * stored through docs.store and its chip follows its indexing (docs.progress, docs.changed) until it is
 * sent with chat.send's `documents` (and a sent message's edit box takes them the same way, for
 * chat.edit); a file too large is refused before it is read; main's refusal and
 * an empty PDF's note show on the chip; a sent message's documents show their state from docs.list with
 * Cancel, Retry and Remove from chat; a reply's citations are buttons that open the passage panel
 * (docs.passage) with the cited chunk marked; "What was retrieved" lists how each source was found;
 * Settings → Documents saves the documents settings and shows the status; an assistant's knowledge
 * folders are added, rescanned and removed.
 */
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import type { DocumentAttachment, MessageDTO } from '../../main/ipc/contract';
import { MAX_DOC_BYTES } from '../../main/params';
import { loadRecommended } from '../../main/models/recommended';
import { startEvents } from '../../renderer/src/app/events';
import { openDialog } from '../../renderer/src/app/uiSlice';
import { assistant, docsStatus, documentDTO, FakeBridge, ipcError, knowledgeFolder, message, settingsDTO, source } from './fake-bridge';
import { pngFile, renderChat, storing } from './render-chat';
import { renderApp } from './render-app';

const REF = 'd'.repeat(64);
const PDF_REF = 'f'.repeat(64);
const TEXT = 'Hearth keeps everything local.\n';

function docAttachment(ref: string, name: string, size = TEXT.length): DocumentAttachment {
  return { type: 'document', ref, name, mimeType: name.endsWith('.pdf') ? 'application/pdf' : 'text/plain', size };
}

function setup(messages: MessageDTO[], handlers: ConstructorParameters<typeof FakeBridge>[0] = {}) {
  const r = renderChat(messages, handlers);
  const stop = startEvents(r.store.dispatch, (cb) => cb());
  return { ...r, stop };
}

const composerChips = () => within(screen.getByRole('list', { name: 'Attached documents' }));

test('a document picked is stored; its chip follows docs.progress to ready; Send sends it as documents, with no text', async () => {
  const user = message({ id: 'u1', role: 'user', content: '', threadId: 't1', attachments: [docAttachment(REF, 'notes.txt')] });
  const reply = message({ id: 'r1', parentId: 'u1', status: 'streaming', threadId: 't1' });
  const { bridge, stop } = setup([], {
    'docs.store': (p: { name: string; data: string }) => {
      expect(Buffer.from(p.data, 'base64').toString()).toBe(TEXT);
      return { attachment: docAttachment(REF, p.name), document: documentDTO({ ref: REF, name: p.name }) };
    },
    'chat.send': () => ({ userMessage: user, reply }),
    'docs.list': () => [documentDTO({ ref: REF, state: 'ready', chunks: 1 })],
  });
  const send = screen.getByRole('button', { name: 'Send message' }) as HTMLButtonElement;
  fireEvent.change(screen.getByLabelText('Choose files'), { target: { files: [new File([TEXT], 'notes.txt', { type: 'text/plain' })] } });
  const chip = await composerChips().findByRole('listitem', { name: 'notes.txt' });
  await waitFor(() => expect(within(chip).getByRole('status').textContent).toBe('queued'));
  expect(bridge.callsTo('docs.store')).toEqual([{ name: 'notes.txt', data: Buffer.from(TEXT).toString('base64') }]);
  expect(chip.textContent).toContain('text');
  // stored: a message of documents alone can be sent
  expect(send.disabled).toBe(false);

  act(() => bridge.emit('docs.progress', { ref: REF, name: 'notes.txt', phase: 'embedding', done: 2, total: 4 }));
  expect(within(chip).getByRole('status').textContent).toBe('embedding 2 of 4');
  const bar = within(chip).getByRole('progressbar', { name: 'Indexing notes.txt' }) as HTMLProgressElement;
  expect([bar.value, bar.max]).toEqual([2, 4]);

  act(() => bridge.emit('docs.changed', { status: docsStatus({ documents: 1 }), refs: [REF], documents: [documentDTO({ ref: REF, state: 'ready', chunks: 3 })] }));
  expect(within(chip).getByRole('status').textContent).toBe('ready');
  expect(within(chip).queryByRole('progressbar')).toBeNull();

  fireEvent.click(send);
  await waitFor(() => expect(bridge.callsTo('chat.send')).toEqual([{ threadId: 't1', content: '', documents: [docAttachment(REF, 'notes.txt')] }]));
  expect(screen.queryByRole('list', { name: 'Attached documents' })).toBeNull();
  // the sent message shows its document with its state in the thread (docs.list)
  await waitFor(() => expect(bridge.callsTo('docs.list')).toEqual([{ threadId: 't1' }]));
  const sent = await screen.findByRole('article', { name: 'Your message' });
  const docChip = within(within(sent).getByRole('list', { name: 'Documents' })).getByRole('listitem', { name: 'notes.txt' });
  await waitFor(() => expect(within(docChip).getByRole('status').textContent).toBe('ready'));
  stop();
});

test('a file too large is refused before it is read; main refusing a kind says why on the chip; an empty PDF shows its note; images and documents dropped together go each their way', async () => {
  const { bridge, stop } = setup([], {
    'images.store': storing,
    'docs.store': (p: { name: string }) =>
      p.name === 'scan.pdf'
        ? { attachment: docAttachment(PDF_REF, 'scan.pdf'), document: documentDTO({ ref: PDF_REF, name: 'scan.pdf', kind: 'pdf', state: 'empty', note: 'no text found: this PDF looks scanned' }) }
        : Promise.reject(ipcError('invalid_input', 'song.mp3 is not a document Hearth reads')),
  });
  const big = new File(['x'], 'huge.pdf', { type: 'application/pdf' });
  Object.defineProperty(big, 'size', { value: MAX_DOC_BYTES + 1 });
  const read = jest.spyOn(FileReader.prototype, 'readAsDataURL');
  fireEvent.change(screen.getByLabelText('Choose files'), { target: { files: [big] } });
  const alert = await screen.findByRole('alert');
  expect(alert.textContent).toContain('huge.pdf is too large');
  expect(alert.textContent).toContain('a document may have at most 24 MiB');
  expect(read).not.toHaveBeenCalled();
  expect(bridge.callsTo('docs.store')).toEqual([]);
  expect(screen.queryByRole('list', { name: 'Attached documents' })).toBeNull();
  read.mockRestore();
  fireEvent.click(within(alert).getByRole('button', { name: 'Dismiss' }));

  const form = screen.getByRole('form', { name: 'Message composer' });
  fireEvent.drop(form, {
    dataTransfer: { files: [pngFile('cat.png'), new File(['%PDF-1.7'], 'scan.pdf', { type: 'application/pdf' }), new File(['ID3'], 'song.mp3', { type: 'audio/mpeg' })], types: ['Files'] },
  });
  const scan = await composerChips().findByRole('listitem', { name: 'scan.pdf' });
  await waitFor(() => expect(within(scan).getByRole('status').textContent).toBe('no text'));
  expect(scan.textContent).toContain('no text found: this PDF looks scanned');
  const song = composerChips().getByRole('listitem', { name: 'song.mp3' });
  await waitFor(() => expect(within(song).getByRole('alert').textContent).toContain('song.mp3 is not a document Hearth reads'));
  // the image went to images.store, the others to docs.store
  await waitFor(() => expect(bridge.callsTo('images.store').map((p) => p.name)).toEqual(['cat.png']));
  expect(bridge.callsTo('docs.store').map((p) => p.name).sort()).toEqual(['scan.pdf', 'song.mp3']);
  fireEvent.click(within(song).getByRole('button', { name: 'Remove song.mp3' }));
  expect(composerChips().queryByRole('listitem', { name: 'song.mp3' })).toBeNull();
  expect(composerChips().getByRole('listitem', { name: 'scan.pdf' })).toBeTruthy();
  stop();
});

test("a sent message's documents: Cancel while indexing, Retry once failed, Remove from chat; docs.changed naming one asks again", async () => {
  const user = message({ id: 'u1', role: 'user', content: 'Summarize', threadId: 't1', attachments: [docAttachment(REF, 'notes.txt')] });
  let listed = documentDTO({ ref: REF, state: 'embedding', progress: { ref: REF, name: 'notes.txt', phase: 'embedding', done: 1, total: 3 } });
  const { bridge, store, stop } = setup([], {
    'docs.list': () => [listed],
    'docs.cancel': () => {
      listed = documentDTO({ ref: REF, state: 'failed', error: 'embedding failed: the model is not an embedding model' });
      return { ok: true };
    },
    'docs.retry': () => ({ ok: true }),
    'docs.remove': () => {
      listed = { ...listed, removed: true };
      return { ok: true };
    },
  });
  // the thread opens with its messages: its documents' states are asked
  const { loadThread } = await import('../../renderer/src/features/chat/chatSlice');
  const { thread } = await import('./fake-bridge');
  await act(async () => void store.dispatch(loadThread.fulfilled({ thread: thread({ id: 't1' }), messages: [user] }, 'q2', 't1')));
  await waitFor(() => expect(bridge.callsTo('docs.list')).toHaveLength(1));
  const chip = () => within(screen.getByRole('list', { name: 'Documents' })).getByRole('listitem', { name: 'notes.txt' });
  await waitFor(() => expect(within(chip()).getByRole('status').textContent).toBe('embedding 1 of 3'));
  expect((within(chip()).getByRole('progressbar', { name: 'Indexing notes.txt' }) as HTMLProgressElement).value).toBe(1);
  expect(within(chip()).queryByRole('button', { name: 'Retry' })).toBeNull();

  fireEvent.click(within(chip()).getByRole('button', { name: 'Cancel' }));
  await waitFor(() => expect(bridge.callsTo('docs.cancel')).toEqual([{ ref: REF }]));
  await waitFor(() => expect(within(chip()).getByRole('alert').textContent).toBe('embedding failed: the model is not an embedding model'));
  expect(within(chip()).queryByRole('button', { name: 'Cancel' })).toBeNull();
  fireEvent.click(within(chip()).getByRole('button', { name: 'Retry' }));
  await waitFor(() => expect(bridge.callsTo('docs.retry')).toEqual([{ ref: REF }]));

  // a change to another document asks nothing; one naming this document asks for the thread's list again
  const asked = bridge.callsTo('docs.list').length;
  await act(async () => bridge.emit('docs.changed', { status: docsStatus(), refs: ['9'.repeat(64)], documents: [] }));
  expect(bridge.callsTo('docs.list')).toHaveLength(asked);
  listed = documentDTO({ ref: REF, state: 'ready', chunks: 3 });
  await act(async () => bridge.emit('docs.changed', { status: docsStatus(), refs: [REF], documents: [] }));
  await waitFor(() => expect(within(chip()).getByRole('status').textContent).toBe('ready'));
  expect(bridge.callsTo('docs.list')).toHaveLength(asked + 1);

  fireEvent.click(within(chip()).getByRole('button', { name: 'Remove from chat' }));
  await waitFor(() => expect(bridge.callsTo('docs.remove')).toEqual([{ threadId: 't1', ref: REF }]));
  await waitFor(() => expect(within(chip()).getByRole('status').textContent).toBe('removed'));
  expect(chip().querySelector('s')?.textContent).toBe('notes.txt');
  expect(within(chip()).queryByRole('button')).toBeNull();
  stop();
});

test("a sent message's edit box takes documents as the composer does: it opens with the message's, one removed and one picked; Save sends them with chat.edit; Cancel sends nothing", async () => {
  const MORE_REF = 'e'.repeat(64);
  const notes = docAttachment(REF, 'notes.txt');
  const more = docAttachment(MORE_REF, 'more.txt');
  const u1 = message({ id: 'u1', role: 'user', content: 'Summarize', threadId: 't1', attachments: [notes] });
  const r1 = message({ id: 'r1', parentId: 'u1', content: 'A summary.', threadId: 't1' });
  const u2 = message({ id: 'u2', role: 'user', content: 'Summarize this', threadId: 't1', attachments: [more], alternative: { index: 1, count: 2 } });
  const r2 = message({ id: 'r2', parentId: 'u2', content: 'Another summary.', threadId: 't1' });
  const { bridge, stop } = setup([u1, r1], {
    'docs.store': (p: { name: string }) => ({ attachment: docAttachment(MORE_REF, p.name), document: documentDTO({ ref: MORE_REF, name: p.name }) }),
    'chat.edit': () => ({ userMessage: u2, reply: r2 }),
  });
  const editBox = () => within(screen.getByRole('group', { name: 'Editing your message' }));
  const chips = () => editBox().getAllByRole('listitem').map((li) => li.getAttribute('aria-label'));
  const openEdit = () => fireEvent.click(screen.getByRole('button', { name: 'Edit message' }));

  // Cancel: nothing is sent, the message keeps its document, the box opens again with it
  openEdit();
  expect(chips()).toEqual(['notes.txt']);
  fireEvent.click(editBox().getByRole('button', { name: 'Remove notes.txt' }));
  fireEvent.change(editBox().getByLabelText('Choose files'), { target: { files: [new File([TEXT], 'more.txt', { type: 'text/plain' })] } });
  await waitFor(() => expect(chips()).toEqual(['more.txt']));
  fireEvent.click(editBox().getByRole('button', { name: 'Cancel' }));
  expect(screen.queryByRole('group', { name: 'Editing your message' })).toBeNull();
  const mine = screen.getByRole('article', { name: 'Your message' });
  expect(within(within(mine).getByRole('list', { name: 'Documents' })).getAllByRole('listitem').map((li) => li.getAttribute('aria-label'))).toEqual(['notes.txt']);

  // Save: the text and the documents as the box holds them (the composer's list is not the box's)
  openEdit();
  expect(chips()).toEqual(['notes.txt']);
  expect(screen.getAllByRole('list', { name: 'Attached documents' })).toHaveLength(1);
  fireEvent.click(editBox().getByRole('button', { name: 'Remove notes.txt' }));
  fireEvent.change(editBox().getByLabelText('Choose files'), { target: { files: [new File([TEXT], 'more.txt', { type: 'text/plain' })] } });
  const chip = await editBox().findByRole('listitem', { name: 'more.txt' });
  await waitFor(() => expect(within(chip).getByRole('status').textContent).toBe('queued'));
  fireEvent.change(editBox().getByRole('textbox', { name: 'Edit message' }), { target: { value: 'Summarize this' } });
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toEqual([{ threadId: 't1', messageId: 'u1', content: 'Summarize this', documents: [more] }]));
  expect(bridge.callsTo('docs.store').map((p) => p.name)).toEqual(['more.txt', 'more.txt']);
  expect(screen.queryByRole('group', { name: 'Editing your message' })).toBeNull();
  expect(await screen.findByText('Another summary.')).toBeTruthy();
  stop();
});

test("the edit box does not offer a document the thread removed (Remove from chat), nor sends it again with chat.edit", async () => {
  const GONE_REF = 'a'.repeat(64);
  const MORE_REF = 'e'.repeat(64);
  const notes = docAttachment(REF, 'notes.txt');
  const gone = docAttachment(GONE_REF, 'gone.txt');
  const more = docAttachment(MORE_REF, 'more.txt');
  const u1 = message({ id: 'u1', role: 'user', content: 'Summarize', threadId: 't1', attachments: [notes, gone] });
  const r1 = message({ id: 'r1', parentId: 'u1', content: 'A summary.', threadId: 't1' });
  const u2 = message({ id: 'u2', role: 'user', content: 'Summarize both', threadId: 't1', attachments: [notes, gone], alternative: { index: 1, count: 2 } });
  const r2 = message({ id: 'r2', parentId: 'u2', content: 'Another summary.', threadId: 't1' });
  const u3 = message({ id: 'u3', role: 'user', content: 'Summarize both', threadId: 't1', attachments: [notes, more], alternative: { index: 2, count: 3 } });
  const r3 = message({ id: 'r3', parentId: 'u3', content: 'A third summary.', threadId: 't1' });
  const edits = [{ userMessage: u2, reply: r2 }, { userMessage: u3, reply: r3 }];
  const { bridge, store, stop } = setup([], {
    'docs.list': () => [documentDTO({ ref: REF, name: 'notes.txt', state: 'ready', chunks: 1 }), documentDTO({ ref: GONE_REF, name: 'gone.txt', state: 'ready', chunks: 1, removed: true })],
    'docs.store': (p: { name: string }) => ({ attachment: docAttachment(MORE_REF, p.name), document: documentDTO({ ref: MORE_REF, name: p.name }) }),
    'chat.edit': () => edits.shift()!,
  });
  const { loadThread } = await import('../../renderer/src/features/chat/chatSlice');
  const { thread } = await import('./fake-bridge');
  await act(async () => void store.dispatch(loadThread.fulfilled({ thread: thread({ id: 't1' }), messages: [u1, r1] }, 'q3', 't1')));
  const mine = () => screen.getByRole('article', { name: 'Your message' });
  // the message shows the removed one struck through
  await waitFor(() => expect(within(within(mine()).getByRole('listitem', { name: 'gone.txt' })).getByRole('status').textContent).toBe('removed'));
  const editBox = () => within(screen.getByRole('group', { name: 'Editing your message' }));
  const chips = () => editBox().getAllByRole('listitem').map((li) => li.getAttribute('aria-label'));
  const openEdit = () => fireEvent.click(screen.getByRole('button', { name: 'Edit message' }));

  // the box opens without it; a text-only edit leaves the documents alone (the message keeps its own)
  openEdit();
  expect(chips()).toEqual(['notes.txt']);
  fireEvent.change(editBox().getByRole('textbox', { name: 'Edit message' }), { target: { value: 'Summarize both' } });
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toEqual([{ threadId: 't1', messageId: 'u1', content: 'Summarize both' }]));
  expect(await screen.findByText('Another summary.')).toBeTruthy();

  // a document added: the box's documents go, the removed one not among them
  openEdit();
  expect(chips()).toEqual(['notes.txt']);
  fireEvent.change(editBox().getByLabelText('Choose files'), { target: { files: [new File([TEXT], 'more.txt', { type: 'text/plain' })] } });
  await waitFor(() => expect(chips()).toEqual(['notes.txt', 'more.txt']));
  await waitFor(() => expect(within(editBox().getByRole('listitem', { name: 'more.txt' })).getByRole('status').textContent).toBe('queued'));
  fireEvent.click(editBox().getByRole('button', { name: 'Save and send' }));
  await waitFor(() => expect(bridge.callsTo('chat.edit')).toHaveLength(2));
  expect(bridge.callsTo('chat.edit')[1]).toEqual({ threadId: 't1', messageId: 'u2', content: 'Summarize both', documents: [notes, more] });
  stop();
});

describe('a reply with sources', () => {
  const whole = source({ n: 2, ref: REF, name: 'notes <b>md</b>.md', chunkId: null, page: null, heading: null, text: 'All of the notes.', mode: 'whole', score: null });
  const reply = message({ id: 'r1', role: 'assistant', threadId: 't1', content: 'Revenue grew [1]. The notes agree [2], not [9]; see [1](https://example.com).', sources: [source(), whole] });
  const passage = { ref: 'e'.repeat(64), name: 'report.pdf', kind: 'pdf', chunkId: 7, page: 3, heading: 'Results', before: ['Q3 was slow.'], text: 'Revenue grew 12%.', after: ['Costs fell.'] };

  test('its citations are buttons (only those of its sources, names escaped) opening the passage panel with the cited chunk marked; the Sources list opens them too', async () => {
    const scroll = jest.fn();
    Element.prototype.scrollIntoView = scroll;
    const { bridge, stop } = setup([reply], { 'docs.passage': () => passage });
    const article = screen.getByRole('article', { name: /Reply from/ });
    const cite1 = within(article).getByRole('button', { name: 'Source 1: report.pdf' });
    expect(cite1.textContent).toBe('[1]');
    // a name is text, never markup; [9] names no source; [1](url) stays a link
    expect(within(article).getByRole('button', { name: 'Source 2: notes <b>md</b>.md' })).toBeTruthy();
    expect(article.querySelector('.markdown b')).toBeNull();
    expect(within(article).queryByRole('button', { name: /Source 9/ })).toBeNull();
    expect(article.querySelector('.markdown')?.textContent).toContain('not [9]');
    expect(within(article).getByRole('link', { name: '1' }).getAttribute('href')).toBe('https://example.com');

    fireEvent.click(cite1);
    const panel = await screen.findByRole('complementary', { name: 'Passage' });
    await waitFor(() => expect(bridge.callsTo('docs.passage')).toEqual([{ chunkId: 7 }]));
    const mark = await within(panel).findByText('Revenue grew 12%.');
    expect(mark.tagName).toBe('MARK');
    expect(mark.getAttribute('aria-current')).toBe('true');
    expect(scroll).toHaveBeenCalled();
    expect(panel.textContent).toContain('report.pdf');
    expect(panel.textContent).toContain('p. 3 · Results');
    expect(within(panel).getByText('Q3 was slow.').className).toBe('passage-context');
    expect(within(panel).getByText('Costs fell.').className).toBe('passage-context');
    fireEvent.click(within(panel).getByRole('button', { name: 'Close passage' }));
    expect(screen.queryByRole('complementary', { name: 'Passage' })).toBeNull();

    // the Sources list: number, name, page and heading; a whole document shows the text its prompt held
    const list = within(article).getByRole('region', { name: 'Sources' });
    const items = within(list).getAllByRole('button');
    expect(items.map((b) => b.textContent)).toEqual(['[1] report.pdf · p. 3 · Results', '[2] notes <b>md</b>.md']);
    fireEvent.click(items[1]);
    const wholePanel = await screen.findByRole('complementary', { name: 'Passage' });
    expect(within(wholePanel).getByText('All of the notes.').tagName).toBe('MARK');
    expect(bridge.callsTo('docs.passage')).toHaveLength(1);
    stop();
  });

  test('a passage no longer stored (its document removed or indexed again) says so and shows the text the reply was given', async () => {
    const { stop } = setup([reply], { 'docs.passage': () => { throw ipcError('not_found', 'that passage is no longer stored'); } });
    const article = screen.getByRole('article', { name: /Reply from/ });
    fireEvent.click(within(article).getAllByRole('button', { name: 'Source 1: report.pdf' })[0]);
    const panel = await screen.findByRole('complementary', { name: 'Passage' });
    expect((await within(panel).findByRole('alert')).textContent).toMatch(/no longer exists/);
    const mark = within(panel).getByText(source().text);
    expect(mark.tagName).toBe('MARK');
    stop();
  });

  test('"What was retrieved" lists each source with its mode, scores and text', () => {
    const { stop } = setup([reply]);
    const toggle = screen.getByRole('button', { name: 'What was retrieved' });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(screen.queryByRole('list', { name: 'Retrieved passages' })).toBeNull();
    fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    const list = screen.getByRole('list', { name: 'Retrieved passages' });
    const first = within(list).getByRole('listitem', { name: 'Source 1: report.pdf' });
    const terms = (el: HTMLElement) => Object.fromEntries(Array.from(el.querySelectorAll('dl > div')).map((d) => [d.querySelector('dt')!.textContent, d.querySelector('dd')!.textContent]));
    expect(terms(first)).toEqual({ Mode: 'retrieved', 'Fused score': '0.0325', 'Keyword rank': '#1', 'Vector rank': '#2', Distance: '0.214', Rerank: '—' });
    expect(first.querySelector('blockquote')?.textContent).toBe('Revenue grew 12%.');
    const second = within(list).getByRole('listitem', { name: 'Source 2: notes <b>md</b>.md' });
    expect(terms(second)).toEqual({ Mode: 'whole document' });
    stop();
  });
});

test('Settings → Documents: the status with the job under way and why vectors are off; the settings saved whole; a bad value refused before it is sent', async () => {
  const models = [
    { path: '/m/embed.gguf', name: 'embed.gguf', fileSize: 1e8, pooling: 'mean' },
    { path: '/m/rerank.gguf', name: 'rerank.gguf', fileSize: 1e8, pooling: 'rank' },
  ];
  const r = renderApp({
    'models.list': () => models,
    'docs.status': () => docsStatus({ documents: 4, chunks: 120, embedded: 80, queued: 2, active: { ref: REF, name: 'big.pdf', phase: 'embedding', done: 30, total: 60 } }),
    'settings.update': (p: { documents: object }) => settingsDTO({ documents: p.documents as never }),
  });
  await waitFor(() => expect(r.bridge.callsTo('settings.get')).toHaveLength(1));
  await waitFor(() => expect(r.store.getState().models.list).toHaveLength(2));
  await act(async () => void r.store.dispatch(openDialog({ name: 'settings', section: 'documents' })));
  const dialog = screen.getByRole('dialog', { name: 'Settings' });
  await waitFor(() => expect(r.bridge.callsTo('docs.status')).toHaveLength(1));
  const status = await within(dialog).findByRole('region', { name: 'Documents status' });
  expect(status.textContent).toContain('Documents4');
  expect(status.textContent).toContain('With vectors80');
  expect(status.textContent).toContain('Queued2');
  expect((within(status).getByRole('progressbar', { name: 'Indexing big.pdf' }) as HTMLProgressElement).value).toBe(30);
  expect(within(status).getByRole('note').textContent).toBe('Keyword search only: no embedding model chosen');

  const embedding = within(dialog).getByLabelText('Embedding model') as HTMLSelectElement;
  expect(Array.from(embedding.options).map((o) => o.textContent)).toEqual(['None (keyword search only)', 'embed']);
  expect(embedding.value).toBe('');
  expect((within(dialog).getByLabelText('Rerank model') as HTMLSelectElement).value).toBe('');
  const save = within(dialog).getByRole('button', { name: 'Save documents settings' }) as HTMLButtonElement;
  expect(save.disabled).toBe(true);
  fireEvent.change(embedding, { target: { value: '/m/embed.gguf' } });
  fireEvent.change(within(dialog).getByLabelText('Rerank model'), { target: { value: '/m/rerank.gguf' } });
  fireEvent.change(within(dialog).getByLabelText('Chunk size (tokens)'), { target: { value: '512' } });
  fireEvent.change(within(dialog).getByLabelText('Passages per reply (top K)'), { target: { value: '0' } });
  fireEvent.click(save);
  expect((await within(dialog).findByRole('alert')).textContent).toMatch(/^Passages per reply \(top K\): /);
  expect(r.bridge.callsTo('settings.update')).toEqual([]);
  fireEvent.change(within(dialog).getByLabelText('Passages per reply (top K)'), { target: { value: '8' } });
  fireEvent.change(within(dialog).getByLabelText('Whole-document share of the context'), { target: { value: '0.25' } });
  fireEvent.click(save);
  await waitFor(() => expect(r.bridge.callsTo('settings.update')).toHaveLength(1));
  expect(r.bridge.callsTo('settings.update')[0]).toEqual({
    documents: { embeddingModel: '/m/embed.gguf', rerankModel: '/m/rerank.gguf', chunkTokens: 512, chunkOverlapTokens: 32, topK: 8, retrievalTokens: 2048, wholeDocumentShare: 0.25 },
  });
  await waitFor(() => expect(save.disabled).toBe(true));

  // docs.changed brings the status
  act(() => r.bridge.emit('docs.changed', { status: docsStatus({ documents: 5, embeddingModel: '/m/embed.gguf', vectorsOff: null }), refs: [], documents: [] }));
  expect(status.textContent).toContain('Documents5');
  expect(within(status).queryByRole('note')).toBeNull();
  expect(within(status).queryByRole('progressbar')).toBeNull();
  r.stop();
});

test("a new assistant's knowledge folders: chosen before it exists, added once it is created; a refused one says which and why", async () => {
  let folders: ReturnType<typeof knowledgeFolder>[] = [];
  const r = renderApp({
    'assistants.list': () => [],
    'assistants.create': (p: { name: string }) => assistant({ id: 'new1', name: p.name }),
    'docs.status': () => docsStatus({ folders }),
    'docs.folders.add': (p: { assistantId: string; path: string }) => {
      if (p.path === '/gone') return Promise.reject(ipcError('not_found', 'no folder /gone'));
      const f = knowledgeFolder({ id: folders.length + 10, assistantId: p.assistantId, path: p.path, state: 'scanning', files: 0, ready: 0, problems: 0 });
      folders = [...folders, f];
      return f;
    },
  });
  await waitFor(() => expect(r.store.getState().assistants.status).toBe('ready'));
  await act(async () => void r.store.dispatch(openDialog('assistants')));
  const dialog = screen.getByRole('dialog', { name: 'Assistants' });
  fireEvent.click(within(dialog).getByRole('button', { name: /New assistant/ }));
  fireEvent.change(within(dialog).getByRole('textbox', { name: 'Name' }), { target: { value: 'Reader' } });
  const field = within(dialog).getByLabelText('Folder to add (absolute path)');
  // a relative path is refused at once, and nothing is asked of main
  fireEvent.change(field, { target: { value: 'notes' } });
  fireEvent.click(within(dialog).getByRole('button', { name: 'Add folder' }));
  expect((await within(dialog).findByRole('alert')).textContent).toContain('absolute path');
  for (const p of ['/data/notes', '/gone', '/data/notes']) {
    fireEvent.change(field, { target: { value: p } });
    fireEvent.keyDown(field, { key: 'Enter' });
  }
  const list = within(dialog).getByRole('list', { name: 'Knowledge folders' });
  // the same folder twice is one entry
  expect(within(list).getAllByRole('listitem').map((li) => li.getAttribute('aria-label'))).toEqual(['/data/notes', '/gone']);
  expect(within(within(list).getByRole('listitem', { name: '/gone' })).getByRole('status').textContent).toBe('Added when the assistant is created');
  expect(r.bridge.callsTo('docs.folders.add')).toEqual([]);
  expect(r.bridge.callsTo('assistants.create')).toEqual([]);

  fireEvent.click(within(dialog).getByRole('button', { name: 'Create assistant' }));
  await waitFor(() => expect(r.bridge.callsTo('docs.folders.add')).toEqual([{ assistantId: 'new1', path: '/data/notes' }, { assistantId: 'new1', path: '/gone' }]));
  // the saved assistant's list shows the added folder (docs.status asked again), and the refusal names its folder
  const saved = await within(dialog).findByRole('listitem', { name: '/data/notes' });
  expect(within(saved).getByRole('status').textContent).toBe('Scanning…');
  expect((await within(dialog).findByRole('alert')).textContent).toContain('/gone:');
  r.stop();
});

describe('Settings → Documents offers each role the models that fit it', () => {
  const library = [
    { path: '/m/chat.gguf', name: 'chat.gguf', fileSize: 1e9, pooling: 'none' },
    { path: '/m/embed.gguf', name: 'embed.gguf', fileSize: 1e8, pooling: 'mean' },
    { path: '/m/bge.gguf', name: 'bge.gguf', fileSize: 1e8, pooling: 'cls' },
    { path: '/m/rerank.gguf', name: 'rerank.gguf', fileSize: 1e8, pooling: 'rank' },
    { path: '/m/cut.gguf', name: 'cut.gguf', fileSize: 4096, pooling: null },
    { path: '/elsewhere/gone.gguf', name: 'gone', fileSize: 0, origin: 'reference', source: 'file', missing: true, pooling: null },
  ];

  async function openDocuments(models: object[], documents: object, more: ConstructorParameters<typeof FakeBridge>[0] = {}) {
    const r = renderApp({ 'models.list': () => models, 'settings.get': () => settingsDTO({ documents: documents as never }), ...more });
    await waitFor(() => expect(r.bridge.callsTo('settings.get')).toHaveLength(1));
    await waitFor(() => expect(r.store.getState().models.list).toHaveLength(models.length));
    await act(async () => void r.store.dispatch(openDialog({ name: 'settings', section: 'documents' })));
    const dialog = screen.getByRole('dialog', { name: 'Settings' });
    const select = (name: string) => within(dialog).getByRole('combobox', { name }) as HTMLSelectElement;
    const options = (name: string) => Array.from(select(name).options).map((o) => o.textContent);
    /** what the select's description says (its hint, and why the choice cannot be used, or that none fits) */
    const description = (name: string) => (select(name).getAttribute('aria-describedby') ?? '').split(' ').map((id) => document.getElementById(id)?.textContent).join(' | ');
    /** stops its events and takes it off the page (the next one renders alone) */
    const close = () => (r.stop(), r.unmount());
    return { ...r, dialog, select, options, description, close };
  }

  test('only embedding models for the embedding model, only rerankers for the reranker; a saved choice that does not fit stays, marked with why', async () => {
    const r = await openDocuments(library, { embeddingModel: '/m/chat.gguf', rerankModel: '/m/embed.gguf' });
    expect(r.options('Embedding model')).toEqual(['None (keyword search only)', 'chat (not an embedding model: its GGUF has no pooling (a model to chat with))', 'embed', 'bge']);
    expect(r.select('Embedding model').value).toBe('/m/chat.gguf');
    expect(r.select('Embedding model').getAttribute('aria-invalid')).toBe('true');
    expect(r.description('Embedding model')).toContain('The chosen model, chat, cannot be used: not an embedding model: its GGUF has no pooling');
    expect(r.options('Rerank model')).toEqual(['None', 'embed (not a reranker: its GGUF has mean pooling, not rank)', 'rerank']);
    expect(r.description('Rerank model')).toContain('The chosen model, embed, cannot be used: not a reranker');
    // a fitting choice: the unfit one is no longer offered, nothing is marked
    fireEvent.change(r.select('Embedding model'), { target: { value: '/m/bge.gguf' } });
    expect(r.options('Embedding model')).toEqual(['None (keyword search only)', 'embed', 'bge']);
    expect(r.select('Embedding model').getAttribute('aria-invalid')).toBeNull();
    expect(r.description('Embedding model')).not.toContain('cannot be used');
    r.close();

    // a saved model no longer in the library, one whose header cannot be read, a missing reference: each says so
    for (const [saved, why] of [['/m/old.gguf', 'not in the library'], ['/m/cut.gguf', 'its GGUF header could not be read'], ['/elsewhere/gone.gguf', 'its file is missing']]) {
      const again = await openDocuments(library, { embeddingModel: saved });
      expect(again.options('Embedding model')[1]).toBe(`${saved.split('/').pop()!.replace('.gguf', '')} (${why})`);
      again.close();
    }
  });

  test('while the library is being listed, a saved choice is shown as it is: no reason, no empty notice, nothing fetched', async () => {
    let answer!: (v: object[]) => void;
    const r = renderApp({ 'models.list': () => new Promise<object[]>((res) => (answer = res)), 'settings.get': () => settingsDTO({ documents: { embeddingModel: '/m/embed.gguf' } as never }) });
    await waitFor(() => expect(r.bridge.callsTo('settings.get')).toHaveLength(1));
    await act(async () => void r.store.dispatch(openDialog({ name: 'settings', section: 'documents' })));
    const dialog = screen.getByRole('dialog', { name: 'Settings' });
    const select = within(dialog).getByRole('combobox', { name: 'Embedding model' }) as HTMLSelectElement;
    expect(select.value).toBe('/m/embed.gguf');
    expect(Array.from(select.options).map((o) => o.textContent)).toEqual(['None (keyword search only)', 'embed']);
    expect(select.getAttribute('aria-invalid')).toBeNull();
    expect(within(dialog).queryByText(/Your library has no/)).toBeNull();
    expect(r.bridge.callsTo('hub.recommended')).toEqual([]);
    // listed: judged
    await act(async () => answer(library));
    await waitFor(() => expect(Array.from(select.options).map((o) => o.textContent)).toEqual(['None (keyword search only)', 'embed', 'bge']));
    expect(select.value).toBe('/m/embed.gguf');
    r.stop();
  });

  test('a library without an embedding model or a reranker says so and leads to the hub: the recommended embedding model, or a search', async () => {
    const recommended = await loadRecommended();
    const suggested = recommended.find((m) => m.use === 'embedding')!;
    const r = await openDocuments([library[0]], {}, { 'hub.recommended': () => ({ models: recommended }) });
    expect(r.options('Embedding model')).toEqual(['None (keyword search only)']);
    expect(r.options('Rerank model')).toEqual(['None']);
    expect(r.description('Embedding model')).toContain('Your library has no embedding model (a GGUF with pooling');
    expect(r.description('Rerank model')).toContain('Your library has no reranker (a GGUF with rank pooling');
    const get = await within(r.dialog).findByRole('button', { name: `Get ${suggested.name}` });
    expect(r.bridge.callsTo('hub.recommended')).toHaveLength(1);
    await act(async () => void fireEvent.click(get));
    expect(screen.queryByRole('dialog', { name: 'Settings' })).toBeNull();
    expect(r.store.getState().ui.page).toBe('hub');
    expect(r.store.getState().hub.repo).toBe(suggested.repo);
    r.close();

    const again = await openDocuments([library[0]], {});
    await act(async () => void fireEvent.click(within(again.dialog).getByRole('button', { name: 'Find rerankers on the hub' })));
    expect(screen.queryByRole('dialog', { name: 'Settings' })).toBeNull();
    expect(again.store.getState().ui.page).toBe('hub');
    expect(again.store.getState().hub.query).toBe('reranker');
    again.close();
  });
});

test("an assistant's knowledge folders: listed with their state and counts; Rescan, Remove and Add folder ask main, then the status again", async () => {
  const poet = assistant({ id: 'a1', name: 'Poet' });
  let folders = [knowledgeFolder(), knowledgeFolder({ id: 2, assistantId: 'a2', path: '/other' })];
  const r = renderApp({
    'assistants.list': () => [poet],
    'docs.status': () => docsStatus({ folders }),
    'docs.folders.rescan': (p: { id: number }) => ({ ...knowledgeFolder({ id: p.id }), state: 'scanning' }),
    'docs.folders.remove': (p: { id: number }) => {
      folders = folders.filter((f) => f.id !== p.id);
      return { ok: true };
    },
    'docs.folders.add': (p: { assistantId: string; path: string }) => {
      if (!p.path.startsWith('/')) return Promise.reject(ipcError('invalid_input', 'the folder must be an absolute path'));
      const f = knowledgeFolder({ id: 3, assistantId: p.assistantId, path: p.path, state: 'scanning', files: 0, ready: 0, problems: 0 });
      folders = [...folders, f];
      return f;
    },
  });
  await waitFor(() => expect(r.store.getState().assistants.status).toBe('ready'));
  await act(async () => void r.store.dispatch(openDialog('assistants')));
  await waitFor(() => expect(r.bridge.callsTo('docs.status')).toHaveLength(1));
  const dialog = screen.getByRole('dialog', { name: 'Assistants' });
  const list = await within(dialog).findByRole('list', { name: 'Knowledge folders' });
  expect(within(list).getAllByRole('listitem').map((li) => li.getAttribute('aria-label'))).toEqual(['/home/me/Notes']);
  const row = within(list).getByRole('listitem', { name: '/home/me/Notes' });
  expect(within(row).getByRole('status').textContent).toBe('Watching');
  expect(row.textContent).toContain('3 files, 2 ready, 1 with problems');

  fireEvent.click(within(row).getByRole('button', { name: 'Rescan' }));
  await waitFor(() => expect(r.bridge.callsTo('docs.folders.rescan')).toEqual([{ id: 1 }]));
  await waitFor(() => expect(r.bridge.callsTo('docs.status')).toHaveLength(2));

  const field = within(dialog).getByLabelText('Folder to add (absolute path)');
  fireEvent.change(field, { target: { value: 'relative/path' } });
  fireEvent.click(within(dialog).getByRole('button', { name: 'Add folder' }));
  expect((await within(dialog).findByRole('alert')).textContent).toContain('the folder must be an absolute path');
  fireEvent.change(field, { target: { value: ' /data/docs ' } });
  fireEvent.keyDown(field, { key: 'Enter' });
  await waitFor(() => expect(r.bridge.callsTo('docs.folders.add')).toEqual([{ assistantId: 'a1', path: 'relative/path' }, { assistantId: 'a1', path: '/data/docs' }]));
  expect(await within(list).findByRole('listitem', { name: '/data/docs' })).toBeTruthy();
  expect((field as HTMLInputElement).value).toBe('');
  // Enter added the folder, not the assistant form's submit
  expect(r.bridge.callsTo('assistants.update')).toEqual([]);

  fireEvent.click(within(within(list).getByRole('listitem', { name: '/home/me/Notes' })).getByRole('button', { name: 'Remove' }));
  await waitFor(() => expect(r.bridge.callsTo('docs.folders.remove')).toEqual([{ id: 1 }]));
  await waitFor(() => expect(within(list).queryByRole('listitem', { name: '/home/me/Notes' })).toBeNull());
  r.stop();
});
