/**
 * Documents as chips: those a composer holds for its next message (stored by docs.store as they were
 * attached; removed with their own button), and those a sent message carries, with their live state
 * (docs.list, docs.progress): a progress bar and Cancel while indexed, Retry once failed or cancelled,
 * the note of one that yields no text, and Remove from chat (a removed one stays, struck through).
 */
import { docKindOfName } from '../../../../main/params';
import type { DocumentAttachment, DocumentDTO, MessageDTO } from '../../../../main/ipc/contract';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Icon } from '../../components/Icon';
import {
  type AttachedDoc,
  cancelDocument,
  docDetached,
  docRefused,
  documentsOf,
  isIndexing,
  removeDocument,
  retryDocument,
  selectAttachedDocs,
  selectDocsError,
  selectDocument,
  selectRemovedFrom,
} from './docsSlice';

/** A document's state in words (what its chip says beside its name). */
export function stateText(d: DocumentDTO): string {
  switch (d.state) {
    case 'queued':
      return 'queued';
    case 'extracting':
      return 'extracting text…';
    case 'embedding':
      return d.progress && d.progress.total > 0 ? `embedding ${d.progress.done} of ${d.progress.total}` : 'embedding…';
    case 'ready':
      return 'ready';
    case 'empty':
      return 'no text';
    case 'failed':
      return 'failed';
    case 'cancelled':
      return 'cancelled';
  }
}

/** The progress bar of a document being indexed (indeterminate until a progress event gives done of total). */
function IndexProgress({ name, d }: { name: string; d: DocumentDTO }) {
  const p = d.progress;
  return p && p.total > 0 ? (
    <progress aria-label={`Indexing ${name}`} max={p.total} value={p.done} />
  ) : (
    <progress aria-label={`Indexing ${name}`} />
  );
}

/** What a chip says under its name: the error of a failed one, the note of one with something to know. */
function DocNotes({ d }: { d: DocumentDTO }) {
  return (
    <>
      {d.state === 'failed' && d.error && (
        <span role="alert" className="doc-chip-error">
          {d.error}
        </span>
      )}
      {d.note && <span className="doc-chip-note">{d.note}</span>}
    </>
  );
}

function kindOf(name: string, d: DocumentDTO | undefined): string {
  return d?.kind ?? docKindOfName(name) ?? 'file';
}

/** One document of a composer: being stored, stored (its state from then on), or refused by main (why). */
function ComposerDocChip({ composerKey, doc }: { composerKey: string; doc: AttachedDoc }) {
  const dispatch = useAppDispatch();
  const d = useAppSelector((s) => (doc.attachment ? selectDocument(s, doc.attachment.ref) : undefined));
  const state = doc.status === 'storing' ? 'storing' : doc.status === 'refused' ? 'refused' : (d?.state ?? 'queued');
  return (
    <li className={`doc-chip state-${state}`} aria-label={doc.name} aria-busy={doc.status === 'storing' || (d && isIndexing(d)) || undefined}>
      <span className="doc-chip-head">
        <span className="doc-chip-name">{doc.name}</span>
        <span className="doc-chip-kind">{kindOf(doc.name, d)}</span>
        <span className="doc-chip-state" role="status">
          {doc.status === 'storing' ? 'storing…' : doc.status === 'refused' ? 'refused' : d ? stateText(d) : 'stored'}
        </span>
        <button type="button" className="icon-button small" aria-label={`Remove ${doc.name}`} title="Remove" onClick={() => dispatch(docDetached({ key: composerKey, id: doc.id }))}>
          <Icon name="close" size={14} />
        </button>
      </span>
      {doc.status === 'refused' && doc.error && (
        <span role="alert" className="doc-chip-error">
          {doc.error}
        </span>
      )}
      {d && isIndexing(d) && <IndexProgress name={doc.name} d={d} />}
      {d && <DocNotes d={d} />}
    </li>
  );
}

/** The documents a composer holds (`composerKey`: a thread, or NEW_CHAT), and why the last file was refused. */
export function ComposerDocs({ composerKey }: { composerKey: string }) {
  const dispatch = useAppDispatch();
  const docs = useAppSelector((s) => selectAttachedDocs(s, composerKey));
  const error = useAppSelector((s) => selectDocsError(s, composerKey));
  if (!docs.length && !error) return null;
  return (
    <div className="composer-docs">
      {docs.length > 0 && (
        <ul aria-label="Attached documents" className="doc-chips">
          {docs.map((d) => (
            <ComposerDocChip key={d.id} composerKey={composerKey} doc={d} />
          ))}
        </ul>
      )}
      {error && (
        <p role="alert" className="inline-error">
          {error}{' '}
          <button type="button" className="link-button" onClick={() => dispatch(docRefused({ key: composerKey, error: null }))}>
            Dismiss
          </button>
        </p>
      )}
    </div>
  );
}

/** One document a sent message carries, with what can be done to it in this thread. */
function MessageDocChip({ threadId, a }: { threadId: string; a: DocumentAttachment }) {
  const dispatch = useAppDispatch();
  const d = useAppSelector((s) => selectDocument(s, a.ref));
  const removed = useAppSelector((s) => selectRemovedFrom(s, threadId, a.ref));
  const error = useAppSelector((s) => s.docs.actionErrors[a.ref]);
  const arg = { threadId, ref: a.ref };
  return (
    <li className={`doc-chip${removed ? ' removed' : ''}${d ? ` state-${d.state}` : ''}`} aria-label={a.name} aria-busy={(d && isIndexing(d)) || undefined}>
      <span className="doc-chip-head">
        <span className="doc-chip-name">{removed ? <s>{a.name}</s> : a.name}</span>
        <span className="doc-chip-kind">{kindOf(a.name, d)}</span>
        <span className="doc-chip-state" role="status">
          {removed ? 'removed' : d ? stateText(d) : ''}
        </span>
      </span>
      {!removed && d && isIndexing(d) && <IndexProgress name={a.name} d={d} />}
      {!removed && d && <DocNotes d={d} />}
      {error && (
        <span role="alert" className="doc-chip-error">
          {error}
        </span>
      )}
      {!removed && d && (
        <span className="doc-chip-actions">
          {isIndexing(d) && (
            <button type="button" className="link-button" onClick={() => void dispatch(cancelDocument(arg))}>
              Cancel
            </button>
          )}
          {(d.state === 'failed' || d.state === 'cancelled') && (
            <button type="button" className="link-button" onClick={() => void dispatch(retryDocument(arg))}>
              Retry
            </button>
          )}
          <button type="button" className="link-button" onClick={() => void dispatch(removeDocument(arg))}>
            Remove from chat
          </button>
        </span>
      )}
    </li>
  );
}

/** A user message's documents, each with its live state in the message's thread. */
export function MessageDocs({ message }: { message: MessageDTO }) {
  const docs = documentsOf(message);
  if (!docs.length) return null;
  return (
    <ul className="doc-chips message-docs" aria-label="Documents">
      {docs.map((a) => (
        <MessageDocChip key={a.ref} threadId={message.threadId} a={a} />
      ))}
    </ul>
  );
}
