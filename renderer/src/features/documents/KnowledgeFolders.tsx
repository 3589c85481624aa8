/**
 * An assistant's knowledge folders (in the assistants dialog): each folder Hearth watches for it, with
 * its state, its files, how many are ready and how many have problems, Rescan and Remove; and a folder
 * added by its absolute path (browser mode has no native folder picker, nor does the preload offer
 * one). The folders come from docs.status (asked when the dialog opens, kept by docs.changed).
 * A new assistant's form holds the folders chosen before it is saved (`pending`): they are added when
 * the assistant is created (AssistantsDialog), and any that Hearth refuses says why there.
 */
import { KeyboardEvent, useState } from 'react';
import type { KnowledgeFolderDTO } from '../../../../main/ipc/contract';
import { ABSOLUTE_PATH } from '../../../../main/ipc/models';
import { formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { addFolder, folderErrorCleared, removeFolder, rescanFolder, selectDocsStatus } from './docsSlice';

const STATE_TEXT: Record<KnowledgeFolderDTO['state'], string> = { scanning: 'Scanning…', watching: 'Watching', failed: 'Cannot be read' };

function FolderRow({ f, busy }: { f: KnowledgeFolderDTO; busy: boolean }) {
  const dispatch = useAppDispatch();
  return (
    <li aria-label={f.path} className="folder-row">
      <div className="folder-path">{f.path}</div>
      <div className="folder-meta">
        <span role="status">{STATE_TEXT[f.state]}</span>
        <span>
          {' · '}
          {formatInt(f.files)} {f.files === 1 ? 'file' : 'files'}, {formatInt(f.ready)} ready
          {f.problems > 0 && `, ${formatInt(f.problems)} with problems`}
        </span>
      </div>
      {f.error && (
        <p role="alert" className="inline-error">
          {f.error}
        </p>
      )}
      <div className="folder-actions">
        <button type="button" className="button small" disabled={busy} onClick={() => void dispatch(rescanFolder(f.id))}>
          Rescan
        </button>
        <button type="button" className="button small danger" disabled={busy} onClick={() => void dispatch(removeFolder(f.id))}>
          Remove
        </button>
      </div>
    </li>
  );
}

/** The folders of an assistant not saved yet: paths kept by its form, added when it is created. */
export interface PendingFolders {
  paths: string[];
  onChange: (paths: string[]) => void;
}

/** A saved assistant's folders (`assistantId`), or a new one's chosen paths (`pending`). */
export function KnowledgeFolders(props: { assistantId: string } | { pending: PendingFolders }) {
  const dispatch = useAppDispatch();
  const status = useAppSelector(selectDocsStatus);
  const busy = useAppSelector((s) => s.docs.folderBusy);
  const savedError = useAppSelector((s) => s.docs.folderError);
  const [path, setPath] = useState('');
  const [pendingError, setPendingError] = useState<string | null>(null);
  const assistantId = 'assistantId' in props ? props.assistantId : null;
  const pending = 'pending' in props ? props.pending : null;
  const folders = status?.folders.filter((f) => f.assistantId === assistantId) ?? [];
  const error = pending ? pendingError : savedError;
  const add = async () => {
    const p = path.trim();
    if (!p) return;
    if (pending) {
      // checked as main checks it on creation; the folder itself is read then
      if (!ABSOLUTE_PATH.test(p)) return setPendingError('Give the folder’s absolute path.');
      if (!pending.paths.includes(p)) pending.onChange([...pending.paths, p]);
      setPendingError(null);
      setPath('');
      return;
    }
    const r = await dispatch(addFolder({ assistantId: assistantId!, path: p }));
    if (addFolder.fulfilled.match(r)) setPath('');
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    // Enter adds the folder (not the assistant form's submit)
    if (e.key !== 'Enter') return;
    e.preventDefault();
    void add();
  };
  return (
    <fieldset className="knowledge-folders">
      <legend>Knowledge folders</legend>
      <p className="hint">The assistant’s replies draw on the documents in these folders; Hearth indexes them as they change.</p>
      {pending ? (
        pending.paths.length === 0 ? (
          <p className="muted">No folders.</p>
        ) : (
          <ul aria-label="Knowledge folders" className="folder-list">
            {pending.paths.map((p) => (
              <li key={p} aria-label={p} className="folder-row">
                <div className="folder-path">{p}</div>
                <div className="folder-meta">
                  <span role="status">Added when the assistant is created</span>
                </div>
                <div className="folder-actions">
                  <button type="button" className="button small danger" aria-label={`Remove ${p}`} onClick={() => pending.onChange(pending.paths.filter((x) => x !== p))}>
                    Remove
                  </button>
                </div>
              </li>
            ))}
          </ul>
        )
      ) : status === null ? (
        <p role="status" className="muted">
          Asking Hearth about its folders…
        </p>
      ) : folders.length === 0 ? (
        <p className="muted">No folders.</p>
      ) : (
        <ul aria-label="Knowledge folders" className="folder-list">
          {folders.map((f) => (
            <FolderRow key={f.id} f={f} busy={busy} />
          ))}
        </ul>
      )}
      <div className="row">
        <div className="field grow">
          <label htmlFor={`folder-path-${assistantId ?? 'new'}`}>Folder to add (absolute path)</label>
          <input id={`folder-path-${assistantId ?? 'new'}`} value={path} placeholder="/home/me/Notes" onChange={(e) => setPath(e.target.value)} onKeyDown={onKeyDown} />
        </div>
        <button type="button" className="button" disabled={busy || !path.trim()} onClick={() => void add()}>
          Add folder
        </button>
      </div>
      {error && (
        <p role="alert" className="inline-error">
          {error}{' '}
          <button type="button" className="link-button" onClick={() => (pending ? setPendingError(null) : dispatch(folderErrorCleared()))}>
            Dismiss
          </button>
        </p>
      )}
    </fieldset>
  );
}
