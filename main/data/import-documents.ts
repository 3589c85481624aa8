/**
 * The documents a Hearth JSON bundle carries (version 3: `documents`, their bytes), adopted by an
 * import: each whose bytes are its ref's content (SHA-256) is kept as `<data>/documents/<ref>` (not
 * written again when it is there), its row made ('queued' when new) and linked to the imported threads
 * whose messages attach it, under the attachment's name. A document stored here already, carried or
 * not, is just linked. A carried document whose bytes are not its ref's, or are too large, is skipped
 * with why, and so is one the read did not reach when it was cancelled; a link a thread cannot take (its limit of documents) is skipped too. Nothing here fails
 * the import: the threads are written before. The documents' service is told the refs to index
 * (without it, as for the CLI, the app indexes the queued ones at its next start).
 */
import { createHash } from 'crypto';
import type { ImportProgressDTO } from '../ipc/contract';
import type { Logger } from '../logging';
import { docKindOfName, MAX_DOC_BYTES, SHA256_HEX } from '../params';
import type { Store } from '../store';
import { isStoreError } from '../store/errors';
import type { ExportedDocument } from '../store/export';
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

/** The carried document's bytes, or why they are not kept. */
function checked(d: ExportedDocument): Buffer | string {
  const bytes = Buffer.from(d.data, 'base64');
  if (bytes.length === 0) return 'the document is empty';
  if (bytes.length > MAX_DOC_BYTES) return `the document is ${bytes.length} bytes; a document may have at most ${MAX_DOC_BYTES}`;
  if (createHash('sha256').update(bytes).digest('hex') !== d.ref) return 'its bytes are not the content its ref names (the file was changed)';
  return bytes;
}


/** Why a document is not kept when the documents' read failed before it was found. */
export const unreadDocument = (error: string) => `the file could not be read again for it (${error})`;

/**
 * Keeps the `carried` documents the written `threads` attach and links them, each document's row and
 * links in one transaction. `unread`: why a document neither carried nor stored here was not found, when
 * the read stopped short (null: it read the whole file, so the export named it missing).
 */
export async function adoptDocuments(deps: ImportedDocumentsDeps, carried: readonly ExportedDocument[], threads: readonly WrittenThread[], unread: string | null = null): Promise<DocumentsAdopted> {
  const docs = deps.store.docs;
  const out: DocumentsAdopted = { linked: 0, skipped: [] };
  const skip = (ref: string, name: string | undefined, reason: string) => {
    out.skipped.push({ ref, ...(name !== undefined ? { name } : {}), reason });
    deps.logger.warn(`imports: the document ${ref.slice(0, 12)}… was not kept: ${reason}`);
  };
  // the documents the written threads attach: ref → each thread's name for it
  const wanted = new Map<string, Map<string, string>>();
  for (const t of threads) {
    for (const d of t.documents) wanted.set(d.ref, (wanted.get(d.ref) ?? new Map<string, string>()).set(t.threadId, d.name));
  }
  const removedIn = new Map(threads.map((t) => [t.threadId, t.removed]));
  const bytesOf = new Map<string, ExportedDocument>();
  for (const d of carried) if (!bytesOf.has(d.ref)) bytesOf.set(d.ref, d);
  const toIndex: string[] = [];
  for (const [ref, names] of wanted) {
    const d = bytesOf.get(ref);
    const named = d?.name ?? names.values().next().value;
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
        skip(ref, named, `its file could not be written: ${(e as Error).message}`);
        continue;
      }
      size = bytes.length;
    }
    // the row and its links in one transaction (an unlinked row is the garbage collector's)
    deps.store.db.transaction(() => {
      const row = d ? docs.ensureDocument({ hash: ref, kind, size }) : docs.documentByHash(ref);
      if (!row) {
        // neither carried nor stored here: the export named it missing, or the read stopped before it
        if (unread !== null) skip(ref, named, unread);
        return;
      }
      for (const [threadId, name] of names) {
        try {
          deps.store.db.transaction(() => {
            docs.linkThread(threadId, row.id, name);
            // one the chat had taken out stays out (shown removed, as in the chat exported)
            if (removedIn.get(threadId)?.has(ref)) docs.unlinkThread(threadId, row.id);
            else out.linked++;
          })();
        } catch (e) {
          // the store's refusal (a chat's limit of documents) leaves this link out; SQLite's own failure
          // (a full disk, an I/O error) may have ended the transaction: it ends the adoption
          if (!isStoreError(e)) throw e;
          skip(ref, name, `it could not be linked to its chat: ${(e as Error).message}`);
        }
      }
      if (row.state === 'queued') toIndex.push(ref);
    })();
  }
  if (toIndex.length > 0) deps.index?.(toIndex);
  return out;
}
