/**
 * What the data-folder tests share: browser mode's restart host over a data folder (the App as
 * composeApp builds it), the events an App sends, its threads (with an image or a document attached, and
 * the sweeps that set those aside), and a Jan data folder to import.
 */
import fs from 'fs';
import path from 'path';
import { composeApp, type App } from '../../main/compose';
import { restartableApp, type RestartableApp } from '../../main/cli/restartable';
import type { EngineClient } from '../../main/engine/client';
import type { EventName, EventOf } from '../../main/ipc/contract';
import { silentLogger } from '../../main/logging';
import { ensureDataDir, resolveDataDir } from '../../main/paths';
import { tmpDir } from '../store/helpers';
import type { ImageAttachment } from '../../main/ipc/contract';
import { IMAGE_GRACE_MS } from '../../main/chat/image-sweep';
import { ImageStore } from '../../main/chat/images';
import { testPng } from '../helpers/images';

/** Browser mode's host over `dir`: each start resolves the data folder again (following a move). */
export function host(dir: string, engine: EngineClient): RestartableApp {
  return restartableApp(
    (restart) => composeApp({ paths: ensureDataDir(resolveDataDir(dir, {}, () => undefined)), engine, appVersion: '0.0.0-test', logger: silentLogger, restart }),
    () => undefined,
    silentLogger,
    engine,
  );
}

/** Waits for the restart the request asked for (the port runs on the next tick). */
export async function restarted(h: RestartableApp): Promise<App> {
  await new Promise((r) => setImmediate(r));
  await h.settled();
  return h.current();
}

export function record(app: App): { of<E extends EventName>(e: E): EventOf<E>[] } {
  const seen: { event: string; payload: unknown }[] = [];
  app.services.subscribe((event, payload) => seen.push({ event, payload }));
  return { of: <E extends EventName>(e: E) => seen.filter((s) => s.event === e).map((s) => s.payload as EventOf<E>) };
}

/**
 * An image kept as images.store keeps it (without its note to the sweep, which keeps an image a composer
 * stored lately until close), in a new thread's message; its file made older than the sweep's grace period.
 */
export async function threadWithImage(app: App, dir: string, title: string, n: number): Promise<{ image: ImageAttachment; file: string; threadId: string }> {
  const image = await new ImageStore(path.join(dir, 'images')).add(testPng(n), `${n}.png`);
  const t = app.store.threads.create({ title });
  app.store.messages.add({ threadId: t.id, role: 'user', content: 'look', attachments: [image] });
  const file = path.join(dir, 'images', `${image.ref}.png`);
  const old = (Date.now() - IMAGE_GRACE_MS - 60_000) / 1000;
  fs.utimesSync(file, old, old);
  return { image, file, threadId: t.id };
}

/**
 * A document kept as docs.store keeps it, linked to a thread's message, its row made older than the
 * collector's grace period unless `young` (attached within the hour); its file.
 */
export async function linkedDocument(app: App, dir: string, threadId: string, text: string, opts: { young?: boolean } = {}): Promise<string> {
  const { attachment } = (await app.services.handle('docs.store', { name: 'notes.txt', data: Buffer.from(text).toString('base64') })) as { attachment: { ref: string } };
  const row = app.store.docs.documentByHash(attachment.ref)!;
  app.store.docs.linkThread(threadId, row.id, 'notes.txt');
  if (!opts.young) app.store.db.prepare('UPDATE documents SET stored_at = 0 WHERE id = ?').run(row.id);
  return path.join(dir, 'documents', attachment.ref);
}

/** The app once its image and document sweeps asked for so far have ended. */
export async function swept(app: App): Promise<App> {
  await app.imageSweep.idle();
  await app.docs.garbage.swept();
  return app;
}

/** What images.read answers for testPng(n). */
export const pngUrl = (n: number) => ({ url: `data:image/png;base64,${testPng(n).toString('base64')}` });

export const titles = (app: App) => app.store.threads.list({ limit: 100 }).items.map((t) => t.title).sort();

export function addThread(app: App, title: string, messages = 1): string {
  const t = app.store.threads.create({ assistantId: 'default', model: null });
  app.store.threads.rename(t.id, title);
  for (let i = 0; i < messages; i++) app.store.messages.add({ threadId: t.id, role: 'user', content: `${title} message ${i} ${'x'.repeat(500)}` });
  return t.id;
}

export const SEC = 1_700_000_000;

/** A Jan data folder of `n` threads (two messages each, the second an answer) and its assistant (in a folder cleanupDirs removes). */
export function janFolder(n: number, opts: { bad?: boolean; prefix?: string } = {}): string {
  const root = tmpDir();
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  for (let i = 0; i < n; i++) {
    const id = `${opts.prefix ?? 'jan'}_${SEC + i}`;
    write(`threads/${id}/thread.json`, JSON.stringify({ id, object: 'thread', title: `Jan chat ${i}`, assistants: [{ id: 'jan', name: 'Jan', model: 'llama3.2-3b' }], created: SEC + i * 100, updated: SEC + i * 100 + 50 }));
    write(`threads/${id}/messages.jsonl`, [
      JSON.stringify({ id: `${id}-q`, role: 'user', content: [{ type: 'text', text: { value: `Question ${i} about goroutines` } }], status: 'ready', created_at: SEC + i * 100 + 1 }),
      JSON.stringify({ id: `${id}-a`, role: 'assistant', content: [{ type: 'text', text: { value: `<think>basics</think>Answer ${i}: light threads` } }], status: 'ready', created_at: SEC + i * 100 + 2 }),
      ...(opts.bad && i === n - 1 ? ['{"id": "broken", "role": "narrator"}'] : []),
    ].join('\n'));
  }
  write('assistants/jan/assistant.json', JSON.stringify({ id: 'jan', name: 'Jan', instructions: 'You are Jan.', created_at: SEC }));
  return root;
}
