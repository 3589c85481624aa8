/**
 * hearth chats import|export: another app's chats (or Hearth JSON) into the data folder's store, and
 * the store's threads out to a folder. The import is the Data page's job (main/data/import-job.ts):
 * a preview first (printed), then one transaction per conversation; Ctrl+C stops between
 * conversations (those written stay). Exports write one Markdown file per thread, or one Hearth bundle (with its chats' attached documents).
 */
import fs from 'fs';
import path from 'path';
import { DOCUMENTS_AGAIN_HINT, DOCUMENTS_LEFT_OUT_SHOWN, EXPORT_FORMATS, IMPORT_FORMAT_NAMES, IMPORT_FORMATS, ImportFormatChoice, type ImportPreviewDTO, type ImportProgressDTO } from '../ipc/contract';
import type { Logger } from '../logging';
import type { Store } from '../store';
import { bundleFileName, bundleParts, markdownFiles, threadIdsOf } from '../data/export-file';
import { openImport } from '../data/formats/detect';
import { quote } from '../data/formats/tree';
import { ImportJobs } from '../data/import-job';
import { Uploads } from '../data/uploads';
import { makeDirs } from '../dirs';
import { DocFiles } from '../docs/files';
import { dataPaths } from '../paths';
import { type ParsedArgs, spelling, UsageError } from './args';

export const CHATS_USAGE = `  chats import FILE|DIR [--from auto|${IMPORT_FORMATS.join('|')}] [--preview] [--json]
                                                another app's chats into Hearth: ChatGPT's or
                                                Claude's data export (the .zip or its
                                                conversations.json), LM Studio's conversations
                                                folder, Open WebUI's export, Jan's threads, Hearth
                                                JSON; a preview is printed first (--preview: only
                                                that); importing the same file again adds nothing
  chats export --out DIR [--format md|json] [--thread ID[,ID…]] [--json]
                                                threads (default all) to DIR: one Markdown file per
                                                thread (default), or one Hearth JSON bundle (with
                                                the chats' attached documents)`;

/** the options of each chats command (hearth.ts takes their union for `chats`; each command refuses the other's) */
const SUB_FLAGS = { import: ['from', 'preview', 'json'], export: ['out', 'format', 'thread', 'json'] } as const;
export const CHATS_FLAGS: readonly string[] = [...new Set(Object.values(SUB_FLAGS).flat())];
export const CHATS_BOOLEANS = ['preview'];

export interface ChatsContext {
  parsed: ParsedArgs;
  /** the words after `chats` */
  rest: string[];
  dataDir: string;
  openStore: () => Store;
  logger: Logger;
}

const dateOf = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString().slice(0, 10));
/** A mebibyte, as the import's progress counts a file's bytes. */
const MIB = 1024 * 1024;
/** The Ctrl+C that ends the command at once, whatever it is doing (the ones before stop its steps). */
const SIGINT_EXIT = 3;

function printPreview(p: ImportPreviewDTO): void {
  const span = p.firstAt === null ? '' : `, ${dateOf(p.firstAt)} to ${dateOf(p.lastAt)}`;
  process.stdout.write(`${p.name}: ${IMPORT_FORMAT_NAMES[p.format]}\n`);
  process.stdout.write(`  ${p.threads} new ${p.threads === 1 ? 'chat' : 'chats'}, ${p.messages} ${p.messages === 1 ? 'message' : 'messages'}${span}\n`);
  if (p.duplicates) process.stdout.write(`  ${p.duplicates} imported before (skipped)\n`);
  for (const s of p.skipped) process.stdout.write(`  left out: ${s.reason} (${s.count})\n`);
}

async function importCommand({ parsed, rest, dataDir, openStore, logger }: ChatsContext): Promise<number> {
  if (rest.length !== 1) throw new UsageError('usage: hearth chats import FILE|DIR [--from FORMAT] [--preview] [--json]');
  const fromFlag = parsed.flags.from ?? 'auto';
  const from = ImportFormatChoice.safeParse(fromFlag);
  if (!from.success) throw new UsageError(`${spelling(parsed, 'from')} must be one of ${ImportFormatChoice.options.join(', ')}, not ${JSON.stringify(fromFlag)}`);
  const json = parsed.flags.json === true;
  const file = path.resolve(rest[0]);
  const store = openStore();
  let sent: ImportProgressDTO | null = null;
  const tty = process.stderr.isTTY && !json;
  const jobs = new ImportJobs({
    store,
    readers: openImport,
    // a path is read where it is: nothing is uploaded
    uploads: new Uploads(path.join(dataDir, 'imports'), logger),
    // a Hearth bundle's documents are kept here; the app indexes them at its next start
    documents: { files: new DocFiles(dataPaths(dataDir).documents) },
    logger,
    emit: (p) => {
      sent = p;
      if (!json && p.state === 'running' && p.total > 0) {
        const r = p.readingDocuments;
        const line = r
          ? `reading the file again for attached documents: ${Math.floor(r.bytes / MIB)}/${Math.ceil(r.total / MIB)} MiB (Ctrl+C skips the rest)`
          : `importing: ${p.done}/${p.total} chats, ${p.messages} messages`;
        process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      }
    },
  });
  try {
    const preview = await jobs.preview({ path: file }, from.data);
    if (!json) printPreview(preview);
    if (parsed.flags.preview === true) {
      if (json) process.stdout.write(JSON.stringify({ preview }, null, 2) + '\n');
      return 0;
    }
    jobs.start(preview.jobId);
    // Ctrl+C stops the step under way: the chats between two of them, then the read of their documents, then their keeping; a third ends the command
    let presses = 0;
    const stop = () => {
      if (++presses >= SIGINT_EXIT) process.exit(130);
      try {
        jobs.cancel(preview.jobId);
      } catch {
        // it ended meanwhile
      }
    };
    process.on('SIGINT', stop);
    const end = await jobs.finished!;
    process.removeListener('SIGINT', stop);
    if (tty && sent) process.stderr.write('\n');
    if (json) process.stdout.write(JSON.stringify({ preview, result: end }, null, 2) + '\n');
    else if (end.state === 'done') process.stdout.write(`imported ${end.imported} chats (${end.messages} messages)${end.duplicates ? `; ${end.duplicates} imported before were skipped` : ''}\n`);
    else if (end.state === 'cancelled') process.stdout.write(`stopped: ${end.imported} chats imported before the stop stay\n`);
    if (!json && end.documents) {
      const { kept, skipped } = end.documents;
      process.stdout.write(`  ${kept} attached document${kept === 1 ? '' : 's'} kept\n`);
      // a name from the file is quoted (JSON's escapes): one line, no C0 control character reaches the terminal
      for (const d of skipped.slice(0, DOCUMENTS_LEFT_OUT_SHOWN)) process.stdout.write(`  document ${d.name ? `${quote(d.name)} (${d.ref.slice(0, 12)}…)` : `${d.ref.slice(0, 12)}…`} left out: ${d.reason}\n`);
      if (skipped.length > DOCUMENTS_LEFT_OUT_SHOWN) process.stdout.write(`  and ${skipped.length - DOCUMENTS_LEFT_OUT_SHOWN} more left out (--json lists them all)\n`);
      if (skipped.some((d) => d.again)) process.stdout.write(`  ${DOCUMENTS_AGAIN_HINT}\n`);
    }
    if (end.state === 'failed') throw new Error(`the import failed after ${end.imported} chats (those stay): ${end.error}`);
    return end.state === 'done' ? 0 : 1;
  } finally {
    await jobs.close();
    store.close();
  }
}

async function exportCommand({ parsed, rest, dataDir, openStore }: ChatsContext): Promise<number> {
  if (rest.length !== 0) throw new UsageError('usage: hearth chats export --out DIR [--format md|json] [--thread ID[,ID…]]');
  const out = parsed.flags.out;
  if (typeof out !== 'string' || out.trim() === '') throw new UsageError(`hearth chats export needs ${spelling(parsed, 'out')} DIR: the folder the files go to`);
  const format = parsed.flags.format ?? 'md';
  if (!(EXPORT_FORMATS as readonly unknown[]).includes(format)) throw new UsageError(`${spelling(parsed, 'format')} must be one of ${EXPORT_FORMATS.join(', ')}, not ${JSON.stringify(format)}`);
  const thread = parsed.flags.thread;
  const ids = typeof thread === 'string' ? thread.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const dir = path.resolve(out);
  const store = openStore();
  try {
    const chosen = threadIdsOf(store, ids);
    makeDirs(dir);
    const written: string[] = [];
    // never over a file that is there: the user's own files stay
    const write = async (name: string, parts: Iterable<string> | AsyncIterable<string>) => {
      const target = path.join(dir, name);
      const fd = fs.openSync(target, 'wx');
      try {
        for await (const p of parts) fs.writeSync(fd, p);
      } finally {
        fs.closeSync(fd);
      }
      written.push(target);
    };
    try {
      // a chat an import would pass over is written all the same, and said
      const leftOut = (t: { id: string; title: string }, reason: string) => process.stderr.write(`warning: the chat ${quote(t.title)} (${t.id}) is in the file, but an import would leave it out: ${reason}\n`);
      if (format === 'json') await write(bundleFileName(Date.now()), bundleParts(store, chosen, Date.now(), new DocFiles(dataPaths(dataDir).documents), leftOut));
      else for (const f of markdownFiles(store, chosen)) await write(f.name, [f.text]);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${dir} already holds ${path.basename((e as NodeJS.ErrnoException).path ?? '')}: export to an empty folder`);
      throw e;
    }
    if (parsed.flags.json === true) process.stdout.write(JSON.stringify({ threads: chosen.length, files: written }, null, 2) + '\n');
    else process.stdout.write(`exported ${chosen.length} chats to ${dir} (${written.length} ${written.length === 1 ? 'file' : 'files'})\n`);
    return 0;
  } finally {
    store.close();
  }
}

/** hearth chats import|export. */
export async function chatsCommand(ctx: ChatsContext): Promise<number> {
  const [sub, ...rest] = ctx.rest;
  if (sub === 'import' || sub === 'export') {
    const own: readonly string[] = SUB_FLAGS[sub];
    const other = Object.keys(ctx.parsed.flags).find((f) => CHATS_FLAGS.includes(f) && !own.includes(f));
    if (other) throw new UsageError(`hearth chats ${sub} has no option ${spelling(ctx.parsed, other)}: see hearth --help`);
  }
  if (sub === 'import') return importCommand({ ...ctx, rest });
  if (sub === 'export') return exportCommand({ ...ctx, rest });
  throw new UsageError('usage: hearth chats import FILE|DIR … or hearth chats export --out DIR … (see hearth --help)');
}
