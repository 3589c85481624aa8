/**
 * Threads exported as one file for data.export: Hearth JSON (one bundle, which Hearth imports back
 * losslessly, with the bytes of the documents its messages attach), one thread's Markdown, or a zip of one Markdown file per thread (unique, safe names).
 * The file crosses IPC whole, so it is capped at EXPORT_MAX_BYTES: more is refused with the way out
 * (fewer threads at a time).
 */
import { createHash } from 'crypto';
import yazl from 'yazl';
import { EXPORT_LEFT_OUT_SHOWN, IpcError, type ExportFileDTO, type RequestOf } from '../ipc/contract';
import type { Store } from '../store';
import { docKindOfName, SHA256_HEX } from '../params';
import { EXPORT_BUNDLE_FORMAT, EXPORT_VERSION, type BundleExport, type ExportedDocument, type ThreadExport } from '../store/export';
import { importWouldSkip } from './formats/hearth';
import { safeFileName } from './uploads';

/** the largest export (its data as it crosses IPC) */
export const EXPORT_MAX_BYTES = 256 * 1024 * 1024;

function tooLarge(threads: number, max: number): never {
  throw new IpcError('too_large', `the export of ${threads} threads is over ${Math.floor(max / (1024 * 1024))} MB: export fewer threads at a time`);
}

/** The threads asked for (null: every saved thread, oldest first), each checked to be here. */
export function threadIdsOf(store: Store, ids: readonly string[] | null): string[] {
  const out = ids ? [...ids] : (store.db.prepare('SELECT id FROM threads ORDER BY created_at, seq').pluck().all() as string[]);
  if (out.length === 0) throw new IpcError('invalid_input', 'there are no threads to export');
  for (const id of out) if (!store.threads.exists(id)) throw new IpcError('not_found', `thread ${id} is not here`);
  return out;
}

/** The names given so far (lower case, as Windows and macOS compare names), and for each name the next number to try. */
interface Names {
  taken: Set<string>;
  next: Map<string, number>;
}

/**
 * `name` once among the names given (case-insensitively): "x (2).md" after "x.md". The numbers below a
 * name's next were all taken when it moved past them (and stay taken), so each name costs about one try,
 * not one per name before it (20,000 chats titled alike took 49 s).
 */
function unique(name: string, ext: string, names: Names): string {
  const key = `${name}${ext}`.toLowerCase();
  for (let n = names.next.get(key) ?? 1; ; n++) {
    const candidate = `${name}${n > 1 ? ` (${n})` : ''}${ext}`;
    if (!names.taken.has(candidate.toLowerCase())) {
      names.taken.add(candidate.toLowerCase());
      names.next.set(key, n + 1);
      return candidate;
    }
  }
}

export const exportStamp = (now: number) => new Date(now).toISOString().slice(0, 10);

/** One Markdown file per thread, each with a unique name safe on every OS. */
export function* markdownFiles(store: Store, ids: readonly string[]): Generator<{ name: string; text: string }> {
  const names: Names = { taken: new Set(), next: new Map() };
  for (const id of ids) yield { name: unique(safeFileName(store.threads.get(id).title, 'chat'), '.md', names), text: store.exportThreadMarkdown(id) };
}

/** Reads a kept document's bytes by its ref (main/docs/files.ts's DocFiles): null when it is gone. */
export interface DocumentReader {
  get(ref: string): Promise<Buffer | null>;
}

/** The documents a thread's messages attach: ref → the name it was first attached with (a ref that names no content is no document). */
function attachedDocuments(t: ThreadExport, into: Map<string, string>): void {
  for (const m of t.messages) {
    for (const a of m.attachments) if (a.type === 'document' && SHA256_HEX.test(a.ref) && !into.has(a.ref)) into.set(a.ref, a.name ?? a.ref.slice(0, 12));
  }
}

/**
 * The Hearth bundle of these threads as the pieces of its JSON text, one thread at a time, then one
 * attached document at a time (the CLI writes them to a file as they come; data.export joins them under
 * its cap). A document whose file is gone, unreadable or not its content is named in documentsMissing:
 * the export goes on without it. Without `files` no document is carried. A thread an import would pass
 * over (past the bounds it reads one thread within) is written all the same, and told to `leftOut`.
 */
export async function* bundleParts(
  store: Store, ids: readonly string[], now: number, files: DocumentReader | null, leftOut?: (thread: { id: string; title: string }, reason: string) => void,
): AsyncGenerator<string> {
  const head: Omit<BundleExport, 'threads'> = { format: EXPORT_BUNDLE_FORMAT, version: EXPORT_VERSION, exportedAt: now };
  yield `${JSON.stringify(head).slice(0, -1)},"threads":[`;
  const refs = new Map<string, string>();
  for (let i = 0; i < ids.length; i++) {
    const t = store.exportThreadJson(ids[i]);
    attachedDocuments(t, refs);
    const json = JSON.stringify(t);
    const skip = leftOut ? importWouldSkip(json) : null;
    if (skip) leftOut?.({ id: t.thread.id, title: t.thread.title }, skip.reason);
    yield (i ? ',\n' : '\n') + json;
  }
  yield '\n]';
  if (files && refs.size > 0) {
    const missing: string[] = [];
    let n = 0;
    yield ',"documents":[';
    for (const [ref, name] of refs) {
      const bytes = await files.get(ref).catch(() => null);
      if (!bytes || createHash('sha256').update(bytes).digest('hex') !== ref) {
        missing.push(ref);
        continue;
      }
      const doc: ExportedDocument = { ref, name, kind: store.docs.documentByHash(ref)?.kind ?? docKindOfName(name), data: bytes.toString('base64') };
      yield (n++ ? ',\n' : '\n') + JSON.stringify(doc);
    }
    yield ']';
    if (missing.length > 0) yield `,"documentsMissing":${JSON.stringify(missing)}`;
  }
  yield '}\n';
}

export const bundleFileName = (now: number) => `hearth-chats-${exportStamp(now)}.json`;

function zip(files: { name: string; text: string }[], mtime: Date): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = new yazl.ZipFile();
    for (const f of files) z.addBuffer(Buffer.from(f.text, 'utf8'), f.name, { mtime });
    const chunks: Buffer[] = [];
    z.outputStream.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    z.end();
  });
}

export async function exportFile(store: Store, req: RequestOf<'data.export'>, now: number, max = EXPORT_MAX_BYTES, docs: DocumentReader | null = null): Promise<ExportFileDTO> {
  const ids = threadIdsOf(store, req.threadIds);
  if (req.format === 'json') {
    const parts: string[] = [];
    let bytes = 0;
    const leftOut: NonNullable<ExportFileDTO['leftOutOnImport']> = { count: 0, chats: [] };
    const tell = (t: { id: string; title: string }, reason: string) => {
      if (leftOut.count++ < EXPORT_LEFT_OUT_SHOWN) leftOut.chats.push({ threadId: t.id, title: t.title, reason });
    };
    for await (const part of bundleParts(store, ids, now, docs, tell)) {
      bytes += Buffer.byteLength(part);
      if (bytes > max) tooLarge(ids.length, max);
      parts.push(part);
    }
    return {
      fileName: bundleFileName(now), mime: 'application/json', encoding: 'utf8', data: parts.join(''), threads: ids.length,
      ...(leftOut.count > 0 ? { leftOutOnImport: leftOut } : {}),
    };
  }
  const files: { name: string; text: string }[] = [];
  let bytes = 0;
  for (const f of markdownFiles(store, ids)) {
    bytes += Buffer.byteLength(f.text);
    // base64 grows the zip by a third: the cap holds for what crosses IPC
    if (bytes * (ids.length > 1 ? 4 / 3 : 1) > max) tooLarge(ids.length, max);
    files.push(f);
  }
  if (files.length === 1) return { fileName: files[0].name, mime: 'text/markdown', encoding: 'utf8', data: files[0].text, threads: 1 };
  const data = (await zip(files, new Date(now))).toString('base64');
  if (data.length > max) tooLarge(ids.length, max);
  return { fileName: `hearth-chats-${exportStamp(now)}.zip`, mime: 'application/zip', encoding: 'base64', data, threads: ids.length };
}
