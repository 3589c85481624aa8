/**
 * The documents a Hearth JSON bundle carries (version 3: `documents`, their bytes), adopted by an
 * import: each whose bytes are its ref's content (SHA-256) is kept as `<data>/documents/<ref>` (not
 * written again when it is there), its row made ('queued' when new) and linked to the imported threads
 * whose messages attach it, under the attachment's name. A document stored here already, carried or
 * not, is just linked. A carried document whose bytes are not its ref's, or are too large, is skipped
 * with why, and so is one the read did not reach when it was cancelled; a link a thread cannot take (its
 * limit of documents) is skipped too. SQLite's own failure (a full disk) ends the adoption: the documents
 * kept before it are reported and indexed, the rest named with the error. Nothing here fails the import:
 * the threads are written before. The documents' service is told the refs to index
 * (without it, as for the CLI, the app indexes the queued ones at its next start).
 */
import { MISSING_DOCUMENT, UNKEPT_DOCUMENT, type ImportProgressDTO } from '../ipc/contract';
import type { Logger } from '../logging';
import { docKindOfName, MAX_DOC_BYTES, SHA256_HEX } from '../params';
import type { Store } from '../store';
import { whenUnlocked } from '../store/busy';
import { isStoreError } from '../store/errors';
import type { CarriedDocument } from './formats/hearth';
import type { Attachment } from '../store/types';

export interface ImportedDocumentsDeps {
  store: Store;
  /** where documents are kept (main/docs/files.ts's DocFiles) */
  files: { put(bytes: Uint8Array): Promise<string> };
  /** the documents' service: queues the adopted documents' indexing (absent in the CLI) */
  index?: (refs: string[]) => void;
  logger: Logger;
}

/** What an import did with the documents (the import's last progress carries it). */
export type DocumentsAdopted = NonNullable<ImportProgressDTO['documents']>;

/** A thread the import wrote: the documents its messages attach (ref, the name first given), and those it had taken out. */
export interface WrittenThread {
  threadId: string;
  documents: readonly { ref: string; name: string }[];
  removed: ReadonlySet<string>;
}

/** The documents messages attach, once each: ref and the name it was first attached with (a ref that names no content is no document). */
export function attachedDocumentsOf(messages: readonly { attachments: readonly Attachment[] }[]): { ref: string; name: string }[] {
  const out = new Map<string, string>();
  for (const m of messages) {
    for (const a of m.attachments) if (a.type === 'document' && SHA256_HEX.test(a.ref) && !out.has(a.ref)) out.set(a.ref, a.name ?? a.ref.slice(0, 12));
  }
  return [...out].map(([ref, name]) => ({ ref, name }));
}

/** The carried document's bytes, or why they are not kept (their hash was taken by the read that found them). */
function checked(d: CarriedDocument): Buffer | string {
  const { bytes } = d;
  if (bytes.length === 0) return 'the document is empty';
  if (bytes.length > MAX_DOC_BYTES) return `the document is ${bytes.length} bytes; a document may have at most ${MAX_DOC_BYTES}`;
  if (!d.holdsRef) return 'its bytes are not the content its ref names (the file was changed)';
  return bytes;
}


/** Why a document is not kept when the documents' read failed before it was found. */
export const unreadDocument = (error: string) => `the file could not be read again for it (${error})`;

/**
 * Keeps the `carried` documents the written `threads` attach and links them, each document's row and
 * links in one transaction. `unread`: why a document neither carried nor stored here was not found, when
 * the read stopped short (null: it read the whole file, so the file does not carry it: MISSING_DOCUMENT).
 * `signal`: a cancel stops it between documents (those kept stay; the rest are named, UNKEPT_DOCUMENT).
 */
export async function adoptDocuments(
  deps: ImportedDocumentsDeps, carried: readonly CarriedDocument[], threads: readonly WrittenThread[], unread: string | null = null, signal?: AbortSignal,
): Promise<DocumentsAdopted> {
  const docs = deps.store.docs;
  const out: DocumentsAdopted = { linked: 0, kept: 0, skipped: [] };
  // `again`: the same file imported again, once these chats are deleted, brings it (the step stopped short)
  const skip = (ref: string, name: string | undefined, reason: string, again = false) => {
    out.skipped.push({ ref, ...(name !== undefined ? { name } : {}), reason, ...(again ? { again } : {}) });
    deps.logger.warn(`imports: the document ${ref.slice(0, 12)}… was not kept: ${reason}`);
  };
  // the documents the written threads attach: ref → each thread's name for it
  const wanted = new Map<string, Map<string, string>>();
  for (const t of threads) {
    for (const d of t.documents) wanted.set(d.ref, (wanted.get(d.ref) ?? new Map<string, string>()).set(t.threadId, d.name));
  }
  const removedIn = new Map(threads.map((t) => [t.threadId, t.removed]));
  const bytesOf = new Map<string, CarriedDocument>();
  for (const d of carried) if (!bytesOf.has(d.ref)) bytesOf.set(d.ref, d);
  // the name a skip gives it: the carried document's, else the first chat's
  const nameOf = (ref: string): string | undefined => bytesOf.get(ref)?.name ?? wanted.get(ref)?.values().next().value;
  const toIndex: string[] = [];
  const refs = [...wanted.keys()];
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i];
    if (signal?.aborted) {
      // (one the read did not reach keeps that reason)
      for (const r of refs.slice(i)) skip(r, nameOf(r), !bytesOf.has(r) && unread !== null ? unread : UNKEPT_DOCUMENT, true);
      break;
    }
    const names = wanted.get(ref)!;
    const d = bytesOf.get(ref);
    const named = nameOf(ref);
    // the kind from the name, as an attached file's (a file's claim is not trusted to pick the reader)
    const kind = d ? docKindOfName(d.name) : null;
    let size = 0;
    if (d) {
      const bytes = checked(d);
      if (typeof bytes === 'string') {
        skip(ref, named, bytes);
        continue;
      }
      try {
        await deps.files.put(bytes);
      } catch (e) {
        // a full disk, a folder it may not write: the file imported again brings it once that is mended
        skip(ref, named, `its file could not be written: ${(e as Error).message}`, true);
        continue;
      }
      size = bytes.length;
    }
    // the row and its links in one transaction (an unlinked row is the garbage collector's); counted once it is in
    let kept: { linked: number; refused: { name: string; reason: string }[]; queued: boolean } | null;
    try {
      // IMMEDIATE: it reads, then writes; another process's write in between (the CLI's) would otherwise fail
      // its upgrade at once; a lock another process holds is waited for with timers, off main's thread
      kept = await whenUnlocked(deps.store.db, () => {
        const row = d ? docs.ensureDocument({ hash: ref, kind, size }) : docs.documentByHash(ref);
        if (!row) return null;
        const done = { linked: 0, refused: [] as { name: string; reason: string }[], queued: row.state === 'queued' };
        for (const [threadId, name] of names) {
          try {
            deps.store.db.transaction(() => {
              docs.linkThread(threadId, row.id, name);
              // one the chat had taken out stays out (shown removed, as in the chat exported)
              if (removedIn.get(threadId)?.has(ref)) docs.unlinkThread(threadId, row.id);
              else done.linked++;
            })();
          } catch (e) {
            // the store's refusal (a chat's limit of documents) leaves this link out; SQLite's own failure
            // (a full disk, an I/O error) may have ended the transaction: it ends the adoption (below)
            if (!isStoreError(e)) throw e;
            done.refused.push({ name, reason: `it could not be linked to its chat: ${(e as Error).message}` });
          }
        }
        return done;
      });
    } catch (e) {
      if (isStoreError(e)) {
        skip(ref, named, `Hearth could not keep it: ${(e as Error).message}`);
        continue;
      }
      // SQLite's own failure: this document and the rest are named with it; those kept before are reported
      // and indexed
      deps.logger.warn(`imports: keeping the imported chats' documents failed: ${(e as Error).message}`);
      for (const r of refs.slice(i)) skip(r, nameOf(r), `Hearth could not keep it: ${(e as Error).message}`, true);
      break;
    }
    if (!kept) {
      // neither carried nor stored here: the read stopped before it, or the file does not carry it
      if (unread !== null) skip(ref, named, unread, true);
      else skip(ref, named, MISSING_DOCUMENT);
      continue;
    }
    out.linked += kept.linked;
    // kept: linked to a chat, or kept taken out as the chat had it
    if (names.size > kept.refused.length) out.kept++;
    for (const r of kept.refused) skip(ref, r.name, r.reason);
    if (kept.queued) toIndex.push(ref);
  }
  if (toIndex.length > 0) deps.index?.(toIndex);
  return out;
}
