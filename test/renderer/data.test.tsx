/** @jest-environment jsdom */
/**
 * Settings → Data in the renderer: a file sent to main in pieces (offsets, the upload's id, the last
 * flag; the pieces put together are the file) with a progress bar, the preview main answers (counts,
 * what is left out and why), the import with its progress bar and its end, cancel (during the upload
 * and during the import), exports handed to the browser as a download (text and base64 zip; a chat's
 * Export menu), a backup restored after a confirmation, an erase after typing "erase", the
 * "Restarting…" overlay and the reload when main is back, and a file dropped on the window. Main is
 * the in-memory FakeBridge.
 */
import { act, cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { eraseSummary } from '../../main/data-folder/erase-scope';
import type { ImportPreviewDTO, ImportProgressDTO } from '../../main/ipc/contract';
import { DOCUMENTS_AGAIN_HINT, UNREAD_DOCUMENT, UPLOAD_CHUNK_BYTES } from '../../main/ipc/contract';
import { formatBytes } from '../../renderer/src/app/format';
import { openDialog } from '../../renderer/src/app/uiSlice';
import { page } from '../../renderer/src/features/data/page';
import { RESTART_GIVE_UP_MS, RESTART_POLL_MS } from '../../renderer/src/features/data/listeners';
import { documentDTO, thread } from './fake-bridge';
import { renderApp } from './render-app';

const JOB = 'job-1';
const UPLOAD = 'upload-0001';

function preview(over: Partial<ImportPreviewDTO> = {}): ImportPreviewDTO {
  return {
    jobId: JOB,
    format: 'chatgpt',
    name: 'export.zip',
    threads: 3,
    messages: 42,
    duplicates: 1,
    firstAt: Date.UTC(2024, 0, 5, 12),
    lastAt: Date.UTC(2025, 5, 20, 12),
    skipped: [
      { reason: 'no messages', count: 2 },
      { reason: 'a voice conversation', count: 1 },
    ],
    ...over,
  };
}

function progress(over: Partial<ImportProgressDTO> = {}): ImportProgressDTO {
  return { jobId: JOB, state: 'running', done: 0, total: 4, imported: 0, messages: 0, duplicates: 0, error: null, ...over };
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The upload's handler: records each piece's bytes and answers the id and the bytes so far. */
function uploads() {
  const pieces: Buffer[] = [];
  return {
    pieces,
    handler: (p: { chunk: string; offset: number }) => {
      pieces.push(Buffer.from(p.chunk, 'base64'));
      return { uploadId: UPLOAD, bytes: p.offset + pieces[pieces.length - 1].length };
    },
  };
}

async function openData(handlers: Parameters<typeof renderApp>[0] = {}) {
  const r = renderApp(handlers);
  await waitFor(() => expect(r.bridge.callsTo('settings.get')).toHaveLength(1));
  await act(async () => void r.store.dispatch(openDialog({ name: 'settings', section: 'data' })));
  const dialog = screen.getByRole('dialog', { name: 'Settings' });
  expect(within(dialog).getByRole('tab', { name: 'Data' }).getAttribute('aria-selected')).toBe('true');
  return { ...r, dialog };
}

const pick = (dialog: HTMLElement, file: File) => fireEvent.change(within(dialog).getByLabelText('Choose a file to import'), { target: { files: [file] } });

/** A file of `n` bytes, each byte its position mod 251 (so a piece out of place shows). */
function bytesFile(n: number, name: string): File {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return new File([b], name, { type: 'application/zip' });
}

afterEach(() => jest.restoreAllMocks());

describe('Settings → Data → Import chats', () => {
  test('a file larger than a piece goes in pieces (progress shown), then its preview: counts, dates and what is left out', async () => {
    const up = uploads();
    const second = deferred();
    const { bridge, dialog } = await openData({
      'data.import.upload': async (p) => {
        if (p.offset > 0 && p.offset < 2 * UPLOAD_CHUNK_BYTES) await second.promise;
        return up.handler(p);
      },
      'data.import.preview': () => preview(),
    });
    fireEvent.change(within(dialog).getByRole('combobox', { name: 'Format' }), { target: { value: 'chatgpt' } });
    expect(within(dialog).getByRole('option', { name: 'Detect automatically' })).toBeTruthy();
    const size = 2 * UPLOAD_CHUNK_BYTES + 1000;
    const file = bytesFile(size, 'export.zip');
    const slice = jest.spyOn(Blob.prototype, 'slice');
    pick(dialog, file);
    // the second piece waits: the bar says the first reached main
    const bar = await within(dialog).findByRole('progressbar', { name: 'Reading the file' });
    await waitFor(() => expect(bar.getAttribute('aria-valuenow')).toBe(String(Math.floor((UPLOAD_CHUNK_BYTES / size) * 100))));
    expect(within(dialog).getByLabelText('Choose a file to import')).toHaveProperty('disabled', true);
    second.resolve();
    const card = await within(dialog).findByRole('region', { name: 'Import preview' });
    const calls = bridge.callsTo('data.import.upload');
    expect(calls.map((c) => [c.uploadId, c.offset, c.last, c.name])).toEqual([
      [undefined, 0, false, 'export.zip'],
      [UPLOAD, UPLOAD_CHUNK_BYTES, false, 'export.zip'],
      [UPLOAD, 2 * UPLOAD_CHUNK_BYTES, true, 'export.zip'],
    ]);
    expect('uploadId' in calls[0]).toBe(false);
    expect(Buffer.concat(up.pieces).equals(Buffer.from(await readBytes(file)))).toBe(true);
    // the file was read a piece at a time, never whole
    expect(slice.mock.calls.map((c) => [c[0], c[1]])).toEqual([
      [0, UPLOAD_CHUNK_BYTES],
      [UPLOAD_CHUNK_BYTES, 2 * UPLOAD_CHUNK_BYTES],
      [2 * UPLOAD_CHUNK_BYTES, 3 * UPLOAD_CHUNK_BYTES],
    ]);
    expect(bridge.callsTo('data.import.preview')).toEqual([{ source: { upload: UPLOAD }, from: 'chatgpt' }]);
    const facts = Object.fromEntries([...card.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    expect(facts).toMatchObject({ File: 'export.zip', Format: 'ChatGPT data export', Chats: '3', Messages: '42', 'Already imported': '1' });
    expect(facts.Dates).toContain('2024');
    expect(facts.Dates).toContain('2025');
    expect([...within(card).getByRole('list', { name: 'Left out' }).querySelectorAll('li')].map((li) => li.textContent)).toEqual(['no messages: 2', 'a voice conversation: 1']);
    expect(within(dialog).getByRole('button', { name: 'Import 3 chats' })).toBeTruthy();
    expect(bridge.callsTo('data.import.start')).toEqual([]);
    // another file instead: main drops the preview's job
    bridge.handlers['data.import.cancel'] = () => ({ ok: true });
    pick(dialog, new File(['{}'], 'other.json'));
    await waitFor(() => expect(bridge.callsTo('data.import.cancel')).toEqual([{ jobId: JOB }]));
  });

  test('the import runs with a progress bar; its end says what was added and the chat list is asked again', async () => {
    const started = deferred<ImportProgressDTO>();
    const { bridge, dialog } = await openData({
      'data.import.upload': uploads().handler,
      'data.import.preview': () => preview({ format: 'hearth', name: 'chats.json' }),
      'data.import.start': () => started.promise,
    });
    pick(dialog, new File(['{"threads":[]}'], 'chats.json', { type: 'application/json' }));
    fireEvent.click(await within(dialog).findByRole('button', { name: 'Import 3 chats' }));
    await waitFor(() => expect(bridge.callsTo('data.import.start')).toEqual([{ jobId: JOB }]));
    const listed = bridge.callsTo('threads.list').length;
    act(() => bridge.emit('data.importProgress', progress({ done: 1, imported: 1, messages: 10 })));
    expect(within(dialog).getByRole('progressbar', { name: 'Importing chats' }).getAttribute('aria-valuenow')).toBe('25');
    act(() => bridge.emit('data.importProgress', progress({ done: 3, imported: 2, messages: 30, duplicates: 1 })));
    expect(within(dialog).getByRole('progressbar', { name: 'Importing chats' }).getAttribute('aria-valuenow')).toBe('75');
    // another job's progress is not this one's
    act(() => bridge.emit('data.importProgress', progress({ jobId: 'other', state: 'done', done: 9, total: 9 })));
    expect(within(dialog).getByRole('progressbar', { name: 'Importing chats' })).toBeTruthy();
    act(() => bridge.emit('data.importProgress', progress({ state: 'done', done: 4, imported: 3, messages: 42, duplicates: 1 })));
    expect(within(dialog).queryByRole('progressbar')).toBeNull();
    expect(within(dialog).getByText('Imported 3 chats (42 messages); 1 chat imported before left out.')).toBeTruthy();
    await waitFor(() => expect(bridge.callsTo('threads.list').length).toBe(listed + 1));
    // the answer arriving after the last event changes nothing
    await act(async () => started.resolve(progress({ state: 'done', done: 4, imported: 3, messages: 42, duplicates: 1 })));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Done' }));
    expect(within(dialog).queryByRole('region', { name: 'Import preview' })).toBeNull();
    expect(within(dialog).getByLabelText('Choose a file to import')).toHaveProperty('disabled', false);
  });

  test('a Hearth JSON import\'s end says how many attached documents were kept, and lists those left out with why', async () => {
    const { bridge, dialog } = await openData({
      'data.import.upload': uploads().handler,
      'data.import.preview': () => preview({ format: 'hearth', name: 'chats.json' }),
      'data.import.start': () => progress(),
    });
    pick(dialog, new File(['{"threads":[]}'], 'chats.json', { type: 'application/json' }));
    fireEvent.click(await within(dialog).findByRole('button', { name: 'Import 3 chats' }));
    await waitFor(() => expect(bridge.callsTo('data.import.start')).toEqual([{ jobId: JOB }]));
    const bad = 'ab'.repeat(32);
    act(() => bridge.emit('data.importProgress', progress({ state: 'done', done: 3, imported: 3, messages: 9, documents: { linked: 3, kept: 2, skipped: [{ ref: bad, reason: 'its bytes are not the content its ref names' }] } })));
    // documents kept, each once (three links to two documents)
    expect(within(dialog).getByText('Imported 3 chats (9 messages). 2 attached documents kept.')).toBeTruthy();
    expect([...within(dialog).getByRole('list', { name: 'Attached documents not imported:' }).querySelectorAll('li')].map((li) => li.textContent))
      .toEqual([`A document (${bad.slice(0, 12)}…): its bytes are not the content its ref names`]);
    expect(within(dialog).queryByText(/delete those chats and import the file again/)).toBeNull();
  });

  test('a Hearth JSON file read again for its documents shows that read with its bytes; Cancel stops it and says what was kept and what not, by name', async () => {
    const { bridge, dialog } = await openData({
      'data.import.upload': uploads().handler,
      'data.import.preview': () => preview({ format: 'hearth', name: 'chats.json' }),
      'data.import.start': () => progress(),
      'data.import.cancel': () => ({ ok: true }),
    });
    pick(dialog, new File(['{"threads":[]}'], 'chats.json', { type: 'application/json' }));
    fireEvent.click(await within(dialog).findByRole('button', { name: 'Import 3 chats' }));
    await within(dialog).findByRole('progressbar', { name: 'Importing chats' });
    expect(within(dialog).queryByRole('progressbar', { name: 'Reading attached documents' })).toBeNull();
    const mb = 1024 * 1024;
    act(() => bridge.emit('data.importProgress', progress({ done: 4, imported: 4, messages: 8, readingDocuments: { bytes: 30 * mb, total: 120 * mb } })));
    const bar = within(dialog).getByRole('progressbar', { name: 'Reading attached documents' });
    expect(bar.getAttribute('aria-valuenow')).toBe('25');
    expect(bar.getAttribute('aria-valuetext')).toBe(`Reading the file again for attached documents: ${formatBytes(30 * mb)} of ${formatBytes(120 * mb)}`);
    expect(within(dialog).getByText(/^4 chats imported\. Now the file is read again for the documents they attach; Cancel stops this/)).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(bridge.callsTo('data.import.cancel')).toEqual([{ jobId: JOB }]));
    // the chats were all in: the import is done, the documents not read named
    const unread = 'cd'.repeat(32);
    const reason = UNREAD_DOCUMENT;
    act(() => bridge.emit('data.importProgress', progress({
      state: 'done', done: 4, imported: 4, messages: 8, documents: { linked: 1, kept: 1, skipped: [{ ref: unread, name: 'report.pdf', reason, again: true }] },
    })));
    expect(within(dialog).queryByRole('progressbar')).toBeNull();
    expect(within(dialog).getByText('Imported 4 chats (8 messages). 1 attached document kept.')).toBeTruthy();
    expect([...within(dialog).getByRole('list', { name: 'Attached documents not imported:' }).querySelectorAll('li')].map((li) => li.textContent))
      .toEqual([`report.pdf (${unread.slice(0, 12)}…): ${reason}`]);
    expect(within(dialog).getByText(DOCUMENTS_AGAIN_HINT)).toBeTruthy();
  });

  test('cancel: while running main is asked to stop and says what was kept; while uploading no more pieces are sent', async () => {
    const { bridge, dialog } = await openData({
      'data.import.upload': uploads().handler,
      'data.import.preview': () => preview(),
      'data.import.start': () => progress(),
      'data.import.cancel': () => ({ ok: true }),
    });
    pick(dialog, new File(['{}'], 'conversations.json'));
    fireEvent.click(await within(dialog).findByRole('button', { name: 'Import 3 chats' }));
    await within(dialog).findByRole('progressbar', { name: 'Importing chats' });
    act(() => bridge.emit('data.importProgress', progress({ done: 1, imported: 1, messages: 5 })));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(bridge.callsTo('data.import.cancel')).toEqual([{ jobId: JOB }]));
    act(() => bridge.emit('data.importProgress', progress({ state: 'cancelled', done: 1, imported: 1, messages: 5 })));
    expect(within(dialog).getByText('Cancelled: 1 chat imported before it stopped is kept.')).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Done' }));

    // an upload cancelled between two pieces: the rest is not sent and nothing is previewed
    const first = deferred();
    let sent = 0;
    bridge.handlers['data.import.upload'] = async (p: { offset: number; chunk: string }) => {
      sent++;
      await first.promise;
      return { uploadId: UPLOAD, bytes: p.offset + Buffer.from(p.chunk, 'base64').length };
    };
    const previews = bridge.callsTo('data.import.preview').length;
    pick(dialog, bytesFile(UPLOAD_CHUNK_BYTES + 10, 'big.zip'));
    await waitFor(() => expect(sent).toBe(1));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await act(async () => first.resolve());
    expect(await within(dialog).findByText('Cancelled: nothing was imported.')).toBeTruthy();
    expect(sent).toBe(1);
    expect(bridge.callsTo('data.import.preview').length).toBe(previews);
  });

  test("main's refusal of the file is shown", async () => {
    const { dialog } = await openData({
      'data.import.upload': uploads().handler,
      'data.import.preview': () => Promise.reject(Object.assign(new Error('export.zip is not an export Hearth reads'), { code: 'invalid_input' })),
    });
    pick(dialog, new File(['PK'], 'export.zip'));
    expect((await within(dialog).findByRole('alert')).textContent).toContain('export.zip is not an export Hearth reads');
  });
});

/** A Blob's bytes (jsdom's Blob has no arrayBuffer in every version: FileReader does). */
function readBytes(b: Blob): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(new Uint8Array(r.result as ArrayBuffer));
    r.onerror = () => reject(r.error);
    r.readAsArrayBuffer(b);
  });
}

/** Catches downloads: the <a download> clicked, its file name and the blob behind its URL. */
function catchDownloads() {
  const blobs = new Map<string, Blob>();
  let n = 0;
  Object.assign(URL, { createObjectURL: (b: Blob) => (blobs.set(`blob:${++n}`, b), `blob:${n}`), revokeObjectURL: () => undefined });
  const got: { name: string; blob: Blob | undefined; attached: boolean }[] = [];
  jest.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
    got.push({ name: this.download, blob: blobs.get(this.getAttribute('href') ?? ''), attached: this.isConnected });
  });
  return got;
}

describe('Settings → Data → Export', () => {
  test('Export all chats downloads the file main made: Hearth JSON as text, Markdown as the zip’s bytes', async () => {
    const got = catchDownloads();
    const zip = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0xff, 0x00, 0x80]);
    const { bridge, dialog } = await openData({
      'data.export': (p: { format: string }) =>
        p.format === 'json'
          ? { fileName: 'hearth-chats-2026-12-03.json', mime: 'application/json', encoding: 'utf8', data: '{"threads":["é"]}', threads: 2 }
          : { fileName: 'hearth-chats-2026-12-03.zip', mime: 'application/zip', encoding: 'base64', data: zip.toString('base64'), threads: 2 },
    });
    fireEvent.click(within(dialog).getByRole('radio', { name: 'Hearth JSON' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Export all chats' }));
    await waitFor(() => expect(got).toHaveLength(1));
    expect(bridge.callsTo('data.export')).toEqual([{ threadIds: null, format: 'json' }]);
    expect(got[0].name).toBe('hearth-chats-2026-12-03.json');
    expect(got[0].attached).toBe(true);
    expect(Buffer.from(await readBytes(got[0].blob!)).toString('utf8')).toBe('{"threads":["é"]}');
    expect(await within(dialog).findByText('Exported 2 chats to hearth-chats-2026-12-03.json.')).toBeTruthy();

    fireEvent.click(within(dialog).getByRole('radio', { name: 'Markdown' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Export all chats' }));
    await waitFor(() => expect(got).toHaveLength(2));
    expect(got[1].name).toBe('hearth-chats-2026-12-03.zip');
    expect(Buffer.from(await readBytes(got[1].blob!)).equals(zip)).toBe(true);
    expect(document.querySelector('a[download]')).toBeNull();
  });

  test('chosen chats: the ones ticked are exported, in the format chosen', async () => {
    const got = catchDownloads();
    const threads = [thread({ id: 't1', title: 'Trip plans' }), thread({ id: 't2', title: 'Recipes' }), thread({ id: 't3', title: 'Taxes' })];
    const { bridge, dialog } = await openData({
      'threads.list': () => ({ threads, nextCursor: null }),
      'data.export': () => ({ fileName: 'hearth-chats-2026-12-03.zip', mime: 'application/zip', encoding: 'base64', data: 'UEsDBA==', threads: 2 }),
    });
    // nothing chosen: only "Export all chats"
    expect(within(dialog).queryByRole('button', { name: /chosen/ })).toBeNull();
    const group = within(dialog).getByRole('group', { name: 'Chats to export' });
    await waitFor(() => expect(within(group).getAllByRole('checkbox')).toHaveLength(3));
    fireEvent.click(within(group).getByRole('checkbox', { name: 'Trip plans' }));
    fireEvent.click(within(group).getByRole('checkbox', { name: 'Taxes' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Export 2 chosen chats' }));
    await waitFor(() => expect(got).toHaveLength(1));
    expect(bridge.callsTo('data.export')).toEqual([{ threadIds: ['t1', 't3'], format: 'md' }]);
    // untick one: the button says one
    fireEvent.click(within(group).getByRole('checkbox', { name: 'Trip plans' }));
    expect(within(dialog).getByRole('button', { name: 'Export 1 chosen chat' })).toBeTruthy();
  });

  test("a chat's Export menu exports that chat as Markdown or Hearth JSON", async () => {
    const got = catchDownloads();
    const t = thread({ id: 't1', title: 'Trip plans' });
    const { bridge } = renderApp({
      'threads.list': () => ({ threads: [t], nextCursor: null }),
      'data.export': (p: { format: string }) => ({ fileName: `Trip plans.${p.format}`, mime: 'text/markdown', encoding: 'utf8', data: '# Trip plans', threads: 1 }),
    });
    const button = await screen.findByRole('button', { name: 'Export Trip plans' });
    expect(button.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(button);
    const menu = screen.getByRole('menu', { name: 'Export Trip plans as' });
    expect(within(menu).getAllByRole('menuitem').map((m) => m.textContent)).toEqual(['Markdown', 'Hearth JSON']);
    fireEvent.click(within(menu).getByRole('menuitem', { name: 'Markdown' }));
    expect(screen.queryByRole('menu')).toBeNull();
    await waitFor(() => expect(got).toHaveLength(1));
    expect(bridge.callsTo('data.export')).toEqual([{ threadIds: ['t1'], format: 'md' }]);
    expect(got[0].name).toBe('Trip plans.md');
    fireEvent.click(button);
    expect(document.activeElement?.textContent).toBe('Markdown');
    fireEvent.keyDown(screen.getByRole('menu'), { key: 'ArrowDown' });
    expect(document.activeElement?.textContent).toBe('Hearth JSON');
    fireEvent.keyDown(screen.getByRole('menu'), { key: 'Escape' });
    expect(screen.queryByRole('menu')).toBeNull();
    expect(document.activeElement).toBe(button);
  });

  test('an export holding chats an import would leave out says so: in a toast from a chat\'s menu, in the note on the Data page', async () => {
    catchDownloads();
    const t = thread({ id: 't1', title: 'Deep arguments' });
    const reason = 'conversations nested deeper than 256 levels (too deeply nested to import)';
    const file = {
      fileName: 'hearth-chats-2026-12-07.json', mime: 'application/json', encoding: 'utf8', data: '{}', threads: 1,
      leftOutOnImport: { count: 1, chats: [{ threadId: 't1', title: 'Deep arguments', reason }] },
    };
    const words = `One chat in the file would be left out by an import ("Deep arguments": ${reason}). A Markdown export keeps it readable.`;
    renderApp({ 'threads.list': () => ({ threads: [t], nextCursor: null }), 'data.export': () => file });
    fireEvent.click(await screen.findByRole('button', { name: 'Export Deep arguments' }));
    fireEvent.click(within(screen.getByRole('menu')).getByRole('menuitem', { name: 'Hearth JSON' }));
    expect(await screen.findByText(words)).toBeTruthy();
    cleanup();
    const { dialog } = await openData({ 'data.export': () => ({ ...file, threads: 3, leftOutOnImport: { count: 3, chats: file.leftOutOnImport.chats } }) });
    fireEvent.click(within(dialog).getByRole('radio', { name: 'Hearth JSON' }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Export all chats' }));
    expect(await within(dialog).findByText(
      `Exported 3 chats to hearth-chats-2026-12-07.json. 3 chats in the file would be left out by an import ("Deep arguments": ${reason}; and 2 more). A Markdown export keeps them readable.`,
    )).toBeTruthy();
    // the page's note says it: no toast besides
    expect(screen.queryByText(/^3 chats in the file/)).toBeNull();
  });
});

const BACKUP = { name: 'hearth-20261201-093000.db', bytes: 2_000_000, createdAt: Date.UTC(2026, 11, 1, 9, 30) };

describe('Settings → Data → Backups, folder, erase, restart', () => {
  test('Restore asks first (the current data is backed up, the app restarts); backups can be made and kept', async () => {
    let list = { folder: '/data/backups', settings: { daily: true, keep: 7 }, backups: [BACKUP] };
    const { bridge, dialog } = await openData({
      'data.backups.list': () => list,
      'data.backups.restore': () => ({ ok: true }),
      'data.backups.settings': (p: { daily?: boolean; keep?: number }) => (list = { ...list, settings: { ...list.settings, ...p } }),
      'data.backups.create': () => (list = { ...list, backups: [{ ...BACKUP, name: 'hearth-20261203-100000.db', createdAt: Date.UTC(2026, 11, 3, 10) }, BACKUP] }),
    });
    const backups = await within(dialog).findByRole('list', { name: 'Backups' });
    fireEvent.click(within(backups).getByRole('button', { name: /^Restore the backup of / }));
    const ask = screen.getByRole('dialog', { name: 'Restore this backup?' });
    expect(ask.textContent).toContain('Your current data is backed up first');
    expect(ask.textContent).toContain('Hearth restarts');
    fireEvent.click(within(ask).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog', { name: 'Restore this backup?' })).toBeNull();
    expect(bridge.callsTo('data.backups.restore')).toEqual([]);
    fireEvent.click(within(backups).getByRole('button', { name: /^Restore the backup of / }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Restore this backup?' })).getByRole('button', { name: 'Restore and restart' }));
    await waitFor(() => expect(bridge.callsTo('data.backups.restore')).toEqual([{ name: BACKUP.name }]));

    fireEvent.click(within(dialog).getByRole('checkbox', { name: 'Back up every day' }));
    await waitFor(() => expect(bridge.callsTo('data.backups.settings')).toEqual([{ daily: false }]));
    const keep = within(dialog).getByRole('spinbutton', { name: 'Backups to keep' });
    fireEvent.change(keep, { target: { value: '500' } });
    fireEvent.blur(keep);
    expect((keep as HTMLInputElement).value).toBe('7'); // out of bounds: not sent
    fireEvent.change(keep, { target: { value: '3' } });
    fireEvent.blur(keep);
    await waitFor(() => expect(bridge.callsTo('data.backups.settings')[1]).toEqual({ keep: 3 }));
    fireEvent.click(within(dialog).getByRole('button', { name: 'Back up now' }));
    await waitFor(() => expect(within(dialog).getByRole('list', { name: 'Backups' }).querySelectorAll('li')).toHaveLength(2));
  });

  test('where this app cannot restart itself, restore and move are off and say why', async () => {
    const { dialog } = await openData({
      'data.folder': () => ({ folder: '/srv/hearth', canRestart: false }),
      'data.backups.list': () => ({ folder: '/srv/hearth/backups', settings: { daily: true, keep: 7 }, backups: [BACKUP] }),
    });
    await waitFor(() => expect((within(dialog).getByRole('textbox', { name: 'Data folder' }) as HTMLInputElement).value).toBe('/srv/hearth'));
    const restore = await within(dialog).findByRole('button', { name: /^Restore the backup of / });
    expect(restore).toHaveProperty('disabled', true);
    expect(within(dialog).getByRole('textbox', { name: 'Move data to' })).toHaveProperty('disabled', true);
    expect(within(dialog).getByRole('button', { name: 'Move and restart' })).toHaveProperty('disabled', true);
    expect(within(dialog).getAllByText(/cannot restart itself here/)).toHaveLength(2);
  });

  test('moving the data folder shows its progress', async () => {
    const { bridge, dialog } = await openData({ 'data.move': () => new Promise(() => undefined) });
    fireEvent.change(within(dialog).getByRole('textbox', { name: 'Move data to' }), { target: { value: '/mnt/big/hearth' } });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Move and restart' }));
    await waitFor(() => expect(bridge.callsTo('data.move')).toEqual([{ to: '/mnt/big/hearth' }]));
    act(() => bridge.emit('data.moveProgress', { bytes: 512, total: 2048, file: 'hearth.db' }));
    const bar = within(dialog).getByRole('progressbar', { name: 'Moving data' });
    expect(bar.getAttribute('aria-valuenow')).toBe('25');
    expect(bar.getAttribute('aria-valuetext')).toContain('hearth.db');
  });

  test('Erase everything says what goes and what stays, and waits for "erase" typed', async () => {
    const { bridge, dialog } = await openData({ 'data.erase': () => ({ ok: true }) });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Erase everything…' }));
    const ask = screen.getByRole('dialog', { name: 'Erase everything?' });
    // main's own list (erase-scope.ts: the one the erase deletes by), keys and logs included
    expect([...within(ask).getByRole('list', { name: 'What is erased' }).querySelectorAll('li')].map((li) => li.textContent)).toEqual(eraseSummary('everything').goes);
    expect(ask.textContent).toContain('the Hugging Face token, the tools’ and remote providers’ keys');
    expect(ask.textContent).toContain('The models stay');
    const go = within(ask).getByRole('button', { name: 'Erase everything' });
    expect(go).toHaveProperty('disabled', true);
    fireEvent.change(within(ask).getByRole('textbox', { name: 'Type erase to confirm' }), { target: { value: 'eras' } });
    expect(go).toHaveProperty('disabled', true);
    fireEvent.change(within(ask).getByRole('textbox', { name: 'Type erase to confirm' }), { target: { value: 'erase' } });
    const listed = bridge.callsTo('threads.list').length;
    fireEvent.click(go);
    await waitFor(() => expect(bridge.callsTo('data.erase')).toEqual([{ scope: 'everything' }]));
    expect(await within(dialog).findByText('Everything was erased.')).toBeTruthy();
    await waitFor(() => expect(bridge.callsTo('threads.list').length).toBe(listed + 1));

    fireEvent.click(within(dialog).getByRole('button', { name: 'Erase all chats…' }));
    const chats = screen.getByRole('dialog', { name: 'Erase all chats?' });
    expect([...within(chats).getByRole('list', { name: 'What is erased' }).querySelectorAll('li')].map((li) => li.textContent)).toEqual(eraseSummary('threads').goes);
    expect(chats.textContent).toContain('the images and documents of chats deleted before');
    expect(chats.textContent).toContain('Assistants, settings, backups and models stay. The backups still hold these chats\' text');
    fireEvent.click(within(chats).getByRole('button', { name: 'Cancel' }));
    expect(bridge.callsTo('data.erase')).toHaveLength(1);
  });

  test('the files of deleted chats: how many and their size, deleted after asking; a file left says so; none: the button is off', async () => {
    let left = { files: 3, bytes: 3 * 1024 * 1024, keepDays: 30 };
    const { bridge, dialog } = await openData({
      'data.stray': () => left,
      'data.stray.empty': () => left,
    });
    const section = within(dialog).getByRole('region', { name: 'Files of deleted chats' });
    await waitFor(() => expect(section.textContent).toContain(`Set aside now: 3 files (${formatBytes(3 * 1024 * 1024)}).`));
    expect(section.textContent).toContain('set aside for 30 days (those attached within the last hour, an hour later), so that restoring a backup brings the chat back with them');
    fireEvent.click(within(section).getByRole('button', { name: 'Delete them now…' }));
    const ask = screen.getByRole('dialog', { name: 'Delete the files of deleted chats?' });
    expect(ask.textContent).toContain('will be deleted for good. A backup restored after this (or a restore undone) brings its chats back without these images and documents.');
    fireEvent.click(within(ask).getByRole('button', { name: 'Cancel' }));
    expect(bridge.callsTo('data.stray.empty')).toEqual([]);
    // one could not be deleted: said, and counted
    left = { files: 1, bytes: 1024, keepDays: 30 };
    fireEvent.click(within(section).getByRole('button', { name: 'Delete them now…' }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Delete the files of deleted chats?' })).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(bridge.callsTo('data.stray.empty')).toEqual([{ keep: [] }]));
    expect((await within(section).findByRole('status')).textContent).toBe('1 file could not be deleted (the log says why).');
    expect(section.textContent).toContain('Set aside now: 1 file');
    left = { files: 0, bytes: 0, keepDays: 30 };
    fireEvent.click(within(section).getByRole('button', { name: 'Delete them now…' }));
    fireEvent.click(within(screen.getByRole('dialog', { name: 'Delete the files of deleted chats?' })).getByRole('button', { name: 'Delete' }));
    await waitFor(() => expect(within(section).getByRole('status').textContent).toBe('Deleted.'));
    expect(section.textContent).toContain('None are set aside now.');
    expect(within(section).getByRole('button', { name: 'Delete them now…' })).toHaveProperty('disabled', true);
  });

  test('app.restarting covers the window with "Restarting…"; the page reloads once main answers again', async () => {
    const reload = jest.spyOn(page, 'reload').mockImplementation(() => undefined);
    let up = false;
    const { bridge } = await openData({
      'app.info': () => (up ? { appVersion: '0.1.0', llamaCommit: 'b1234', backends: ['CPU'], devices: [], dataDir: '/data', logsDir: '/data/logs', canOpenLogsFolder: false } : Promise.reject(Object.assign(new Error('closed'), { code: 'disconnected' }))),
    });
    act(() => bridge.emit('app.restarting', { reason: 'Restoring the backup of 1 December.' }));
    const overlay = screen.getByRole('alertdialog', { name: 'Restarting…' });
    expect(overlay.textContent).toContain('Restoring the backup of 1 December.');
    await waitFor(() => expect(bridge.callsTo('app.info').length).toBeGreaterThanOrEqual(2), { timeout: 4000 });
    expect(reload).not.toHaveBeenCalled();
    up = true;
    await waitFor(() => expect(reload).toHaveBeenCalledTimes(1), { timeout: 4000 });
  });

  test('a restart in the same server (browser mode: app.info answers throughout) reloads the page once another instance answers', async () => {
    const reload = jest.spyOn(page, 'reload').mockImplementation(() => undefined);
    let instance = 'first';
    const { bridge } = await openData({
      'app.info': () => ({ appVersion: '0.1.0', llamaCommit: 'b1234', backends: ['CPU'], devices: [], dataDir: '/data', logsDir: '/data/logs', canOpenLogsFolder: false, instance }),
    });
    await waitFor(() => expect(bridge.callsTo('app.info').length).toBeGreaterThanOrEqual(1));
    act(() => bridge.emit('app.restarting', { reason: 'Restoring the backup of 1 December.' }));
    const asked = bridge.callsTo('app.info').length;
    // the same instance answering: not back yet
    await waitFor(() => expect(bridge.callsTo('app.info').length).toBeGreaterThanOrEqual(asked + 2), { timeout: 4000 });
    expect(reload).not.toHaveBeenCalled();
    instance = 'second';
    await waitFor(() => expect(reload).toHaveBeenCalledTimes(1), { timeout: 4000 });
    // well before RESTART_GIVE_UP_MS of answering
    expect(bridge.callsTo('app.info').length).toBeLessThan(asked + RESTART_GIVE_UP_MS / RESTART_POLL_MS);
  });
});

describe('a file dropped on the window', () => {
  test('a .json outside the message box opens Settings → Data with its preview; on the message box it is attached as before', async () => {
    const { bridge } = renderApp({
      'data.import.upload': uploads().handler,
      'data.import.preview': () => preview({ format: 'lmstudio', name: 'conversation.json', threads: 1, duplicates: 0, skipped: [] }),
      'docs.store': (p: { name: string }) => documentDTO({ name: p.name }),
      'data.import.start': () => new Promise(() => undefined),
    });
    await waitFor(() => expect(bridge.callsTo('settings.get')).toHaveLength(1));
    const json = () => new File(['{"messages":[]}'], 'conversation.json', { type: 'application/json' });
    // on the composer: a document, as always
    fireEvent.drop(screen.getByRole('form', { name: 'Message composer' }), { dataTransfer: { files: [json()], types: ['Files'] } });
    await waitFor(() => expect(bridge.callsTo('docs.store').map((c) => c.name)).toEqual(['conversation.json']));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(bridge.callsTo('data.import.upload')).toEqual([]);
    // beside it: the import
    fireEvent.dragOver(document.body, { dataTransfer: { files: [json()], types: ['Files'] } });
    fireEvent.drop(document.body, { dataTransfer: { files: [json()], types: ['Files'] } });
    const dialog = screen.getByRole('dialog', { name: 'Settings' });
    expect(within(dialog).getByRole('tab', { name: 'Data' }).getAttribute('aria-selected')).toBe('true');
    const card = await within(dialog).findByRole('region', { name: 'Import preview' });
    expect(card.textContent).toContain('LM Studio conversations');
    expect(within(dialog).getByRole('button', { name: 'Import 1 chat' })).toBeTruthy();
    expect(bridge.callsTo('data.import.upload')).toHaveLength(1);
    expect(bridge.callsTo('docs.store')).toHaveLength(1);
    // another drop while this one is imported: refused with a toast
    fireEvent.click(within(dialog).getByRole('button', { name: 'Import 1 chat' }));
    fireEvent.drop(document.body, { dataTransfer: { files: [json()], types: ['Files'] } });
    expect(await screen.findByText('conversation.json was not imported: another import is under way (Settings → Data).')).toBeTruthy();
    expect(bridge.callsTo('data.import.upload')).toHaveLength(1);
  });

  test('another kind of file beside the message box is not imported: a toast says where files go', async () => {
    const { bridge } = renderApp();
    await waitFor(() => expect(bridge.callsTo('settings.get')).toHaveLength(1));
    fireEvent.drop(document.body, { dataTransfer: { files: [new File(['x'], 'photo.png', { type: 'image/png' })], types: ['Files'] } });
    expect(await screen.findByText(/drop a chat export \(\.json or \.zip\)/)).toBeTruthy();
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(bridge.callsTo('data.import.upload')).toEqual([]);
  });
});
