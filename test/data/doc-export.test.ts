/**
 * A chat's attached documents travel with its Hearth JSON export, through the real parts: composeApp
 * over a real store and data folder, the real engine host with the tiny chat model, extraction in the
 * real worker. A thread with a document is exported from one data folder and imported into a fresh
 * one: the document's file is there with the same bytes, the imported chat lists it, it is indexed and
 * a turn in the imported chat is given it as a source. A document whose bytes were changed in the file
 * is left out with why (the rest imports); an export whose document's file is gone still exports and
 * names it; the documents count toward the export's cap.
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { MISSING_DOCUMENT, type DocumentDTO, type EventOf, type ExportFileDTO, type ImportProgressDTO, type MessageDTO } from '../../main/ipc/contract';
import { exportFile } from '../../main/data/export-file';
import { DocFiles } from '../../main/docs/files';
import { type ChatApp, nextDone, useChatApps } from '../helpers/chat';
import { until } from '../helpers/docs';

jest.setTimeout(180_000);

const apps = useChatApps((extra) => ({ chatDefaults: { maxTokens: 4, temperature: 0 }, ...extra }));

const NOTES = '# Field notes\n\nThe zanzibar quokka sleeps under the baobab tree.\n\nIt wakes at dusk.\n';
const REF = createHash('sha256').update(NOTES).digest('hex');

async function send(a: ChatApp, threadId: string, content: string, documents?: unknown[]): Promise<MessageDTO> {
  const done = nextDone(a.app, threadId);
  await a.call('chat.send', { threadId, content, ...(documents ? { documents } : {}) });
  return done;
}

/** A data folder with one chat that attached notes.md; its thread id. */
async function chatWithDocument(a: ChatApp): Promise<string> {
  await a.call('models.load', { path: a.modelPath });
  const { attachment } = await a.call('docs.store', { name: 'notes.md', data: Buffer.from(NOTES).toString('base64') });
  expect(attachment.ref).toBe(REF);
  const t = await a.call('threads.create', {});
  expect((await send(a, t.id, 'Where does the quokka sleep?', [attachment])).status).toBe('done');
  return t.id;
}

/** Imports a Hearth JSON text through the Data page's channels; the import's last progress. */
async function importText(a: ChatApp, text: string): Promise<ImportProgressDTO> {
  const file = path.join(a.dir, 'in.json');
  fs.writeFileSync(file, text);
  const ended = new Promise<ImportProgressDTO>((resolve) => {
    const off = a.app.services.subscribe((e, p) => {
      const prog = p as EventOf<'data.importProgress'>;
      if (e === 'data.importProgress' && prog.state !== 'running') {
        off();
        resolve(prog);
      }
    });
  });
  const preview = await a.call('data.import.preview', { source: { path: file }, from: 'auto' });
  await a.call('data.import.start', { jobId: preview.jobId });
  return ended;
}

test('exported with its thread, imported into a fresh data folder: the file, the chat\'s list, the indexing and a turn\'s sources', async () => {
  const from = apps.open();
  const threadId = await chatWithDocument(from);
  const out: ExportFileDTO = await from.call('data.export', { threadIds: [threadId], format: 'json' });
  const bundle = JSON.parse(out.data);
  expect(bundle).toMatchObject({ format: 'hearth.threads', version: 3 });
  expect(bundle.documents).toEqual([{ ref: REF, name: 'notes.md', kind: 'markdown', data: Buffer.from(NOTES).toString('base64') }]);
  expect(bundle.documentsMissing).toBeUndefined();

  const to = apps.open();
  const end = await importText(to, out.data);
  expect(end).toMatchObject({ state: 'done', imported: 1, documents: { linked: 1, skipped: [] } });
  // the same bytes under the same name
  expect(fs.readFileSync(path.join(to.paths.documents, REF), 'utf8')).toBe(NOTES);
  const ready = await until(() => to.call<DocumentDTO[]>('docs.list', { threadId }), (d) => d[0]?.state === 'ready', 'the imported document indexed');
  expect(ready).toEqual([expect.objectContaining({ ref: REF, name: 'notes.md', kind: 'markdown', removed: false })]);
  expect(ready[0].chunks).toBeGreaterThan(0);
  // a turn in the imported chat is given it
  await to.call('models.load', { path: to.modelPath });
  const reply = await send(to, threadId, 'What does the zanzibar quokka do at dusk?');
  expect(reply.status).toBe('done');
  expect(reply.sources).toEqual([expect.objectContaining({ n: 1, name: 'notes.md' })]);
  expect(reply.sources![0].text).toContain('sleeps under the baobab tree');
  // the keyword search finds it too
  const docId = to.app.store.docs.documentByHash(REF)!.id;
  expect(to.app.store.docs.searchText([docId], 'baobab', 5).length).toBeGreaterThan(0);

  // imported again: nothing new (the thread is a duplicate), the document stays linked once
  const again = await importText(to, out.data);
  expect(again).toMatchObject({ state: 'done', imported: 0, duplicates: 1 });
  expect(again.documents).toBeUndefined();
  expect(await to.call('docs.list', { threadId })).toHaveLength(1);
});

test('a document whose bytes are not its ref\'s is left out with why; the chat imports; a missing file is named by the export; documents count toward the cap', async () => {
  const from = apps.open();
  const threadId = await chatWithDocument(from);
  const out: ExportFileDTO = await from.call('data.export', { threadIds: [threadId], format: 'json' });
  const tampered = JSON.parse(out.data);
  tampered.documents[0].data = Buffer.from(NOTES.replace('dusk', 'dawn')).toString('base64');

  const to = apps.open({ model: null });
  const end = await importText(to, JSON.stringify(tampered));
  expect(end).toMatchObject({ state: 'done', imported: 1, error: null });
  // (not brought by importing the file again: no `again`)
  expect(end.documents).toEqual({ linked: 0, kept: 0, skipped: [{ ref: REF, name: 'notes.md', reason: expect.stringMatching(/not the content its ref names/) }] });
  expect(fs.existsSync(path.join(to.paths.documents, REF))).toBe(false);
  expect(to.app.store.docs.documentByHash(REF)).toBeNull();
  expect(await to.call('docs.list', { threadId })).toEqual([]);
  expect(to.app.store.messages.listAll(threadId)[0].attachments).toEqual([expect.objectContaining({ type: 'document', ref: REF })]);

  // the documents count toward the cap: under it without them, over it with them
  const reader = new DocFiles(from.paths.documents);
  const without = Buffer.byteLength(JSON.stringify({ ...JSON.parse(out.data), documents: undefined }));
  const req = { threadIds: [threadId], format: 'json' as const };
  expect((await exportFile(from.app.store, req, 0, without + 100, null)).threads).toBe(1);
  await expect(exportFile(from.app.store, req, 0, without + 100, reader)).rejects.toThrow(expect.objectContaining({ code: 'too_large' }));

  // the file gone: the export goes on and names it
  fs.rmSync(path.join(from.paths.documents, REF));
  const gone = JSON.parse((await from.call<ExportFileDTO>('data.export', { threadIds: [threadId], format: 'json' })).data);
  expect(gone.threads).toHaveLength(1);
  expect(gone.documents).toEqual([]);
  expect(gone.documentsMissing).toEqual([REF]);
  // such a file imports: the chat comes, its document is not here, and the import names it
  const other = apps.open({ model: null });
  expect(await importText(other, JSON.stringify(gone))).toMatchObject({
    state: 'done', imported: 1, documents: { linked: 0, kept: 0, skipped: [{ ref: REF, name: 'notes.md', reason: MISSING_DOCUMENT }] },
  });
  expect(await other.call('docs.list', { threadId })).toEqual([]);
});

test('a document the chat took out ("Remove from chat") is exported as taken out, and the imported chat keeps it out', async () => {
  const from = apps.open();
  const threadId = await chatWithDocument(from);
  await from.call('docs.remove', { threadId, ref: REF });
  const out: ExportFileDTO = await from.call('data.export', { threadIds: [threadId], format: 'json' });
  const bundle = JSON.parse(out.data);
  expect(bundle.threads[0].removedDocuments).toEqual([REF]);

  const to = apps.open();
  const end = await importText(to, out.data);
  expect(end.state).toBe('done');
  // listed, but removed: no turn is given it
  expect(await to.call<DocumentDTO[]>('docs.list', { threadId })).toEqual([expect.objectContaining({ ref: REF, removed: true })]);
  await to.call('models.load', { path: to.modelPath });
  expect((await send(to, threadId, 'What does the zanzibar quokka do at dusk?')).sources).toBeNull();
});
