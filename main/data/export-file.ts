/**
 * Threads exported as one file for data.export: Hearth JSON (one bundle, which Hearth imports back
 * losslessly), one thread's Markdown, or a zip of one Markdown file per thread (unique, safe names).
 * The file crosses IPC whole, so it is capped at EXPORT_MAX_BYTES: more is refused with the way out
 * (fewer threads at a time).
 */
import yazl from 'yazl';
import { IpcError, type ExportFileDTO, type RequestOf } from '../ipc/contract';
import type { Store } from '../store';
import { EXPORT_BUNDLE_FORMAT, EXPORT_VERSION, type BundleExport } from '../store/export';
import { safeFileName } from './uploads';

/** the largest export (its data as it crosses IPC) */
export const EXPORT_MAX_BYTES = 256 * 1024 * 1024;

function tooLarge(threads: number, max: number): never {
  throw new IpcError('too_large', `the export of ${threads} threads is over ${Math.floor(max / (1024 * 1024))} MB: export fewer threads at a time`);
}

/** Every saved thread's id, oldest first. */
function allThreadIds(store: Store): string[] {
  return store.db.prepare('SELECT id FROM threads ORDER BY created_at, seq').pluck().all() as string[];
}

/** `name` once among `taken` (case-insensitively, as Windows and macOS see names): "x (2).md" after "x.md". */
function unique(name: string, ext: string, taken: Set<string>): string {
  for (let n = 1; ; n++) {
    const candidate = `${name}${n > 1 ? ` (${n})` : ''}${ext}`;
    if (!taken.has(candidate.toLowerCase())) {
      taken.add(candidate.toLowerCase());
      return candidate;
    }
  }
}

const stamp = (now: number) => new Date(now).toISOString().slice(0, 10);

function zip(files: { name: string; text: string }[], mtime: Date): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const z = new yazl.ZipFile();
    for (const f of files) z.addBuffer(Buffer.from(f.text, 'utf8'), f.name, { mtime });
    const chunks: Buffer[] = [];
    z.outputStream.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
    z.end();
  });
}

export async function exportFile(store: Store, req: RequestOf<'data.export'>, now: number, max = EXPORT_MAX_BYTES): Promise<ExportFileDTO> {
  const ids = req.threadIds ?? allThreadIds(store);
  if (ids.length === 0) throw new IpcError('invalid_input', 'there are no threads to export');
  for (const id of ids) if (!store.threads.exists(id)) throw new IpcError('not_found', `thread ${id} is not here`);
  if (req.format === 'json') {
    const threads: BundleExport['threads'] = [];
    let bytes = 0;
    for (const id of ids) {
      const t = store.exportThreadJson(id);
      bytes += Buffer.byteLength(JSON.stringify(t));
      if (bytes > max) tooLarge(ids.length, max);
      threads.push(t);
    }
    const bundle: BundleExport = { format: EXPORT_BUNDLE_FORMAT, version: EXPORT_VERSION, exportedAt: now, threads };
    const data = JSON.stringify(bundle, null, 1);
    if (Buffer.byteLength(data) > max) tooLarge(ids.length, max);
    return { fileName: `hearth-chats-${stamp(now)}.json`, mime: 'application/json', encoding: 'utf8', data, threads: ids.length };
  }
  const taken = new Set<string>();
  const files: { name: string; text: string }[] = [];
  let bytes = 0;
  for (const id of ids) {
    const text = store.exportThreadMarkdown(id);
    bytes += Buffer.byteLength(text);
    // base64 grows the zip by a third: the cap holds for what crosses IPC
    if (bytes * (ids.length > 1 ? 4 / 3 : 1) > max) tooLarge(ids.length, max);
    files.push({ name: unique(safeFileName(store.threads.get(id).title, 'chat'), '.md', taken), text });
  }
  if (files.length === 1) return { fileName: files[0].name, mime: 'text/markdown', encoding: 'utf8', data: files[0].text, threads: 1 };
  const data = (await zip(files, new Date(now))).toString('base64');
  if (data.length > max) tooLarge(ids.length, max);
  return { fileName: `hearth-chats-${stamp(now)}.zip`, mime: 'application/zip', encoding: 'base64', data, threads: ids.length };
}
