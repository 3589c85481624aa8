/**
 * The Library page: the models on this disk (the models folder's and those added by reference), each
 * with its size, quantization, architecture, parameters and where it comes from; Load, Load settings,
 * Delete (a model of the models folder, after a confirmation naming its files) or Remove from library
 * (a reference: its file stays). An import form takes a file's path and copies, moves or references it.
 */
import { FormEvent, useState } from 'react';
import type { LibraryModelDTO } from '../../../../main/ipc/contract';
import { formatBytes, modelLabel } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { pageShown } from '../../app/uiSlice';
import { Dialog } from '../../components/Dialog';
import { loadModel, selectModels, selectModelState } from '../models/modelsSlice';
import { FILE_ROLE_LABELS, loadableRole } from '../../../../main/params';
import { DiscoveredModels } from '../welcome/Welcome';
import {
  deleteAsked, deleteDismissed, deleteLibraryModel, importLibraryFile, ImportMode, importMessagesCleared, LibraryFacts, openLoadSettings, removeLibraryReference,
  selectLibrary, selectModelsDir, whereFrom,
} from './librarySlice';

const fileName = (p: string) => p.split(/[\\/]/).pop() ?? p;

/** 1234567890 → "1.2 B", 350000000 → "350 M" */
function formatParameters(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} K`;
  return String(n);
}

const IMPORT_MODES: { mode: ImportMode; label: string }[] = [
  { mode: 'copy', label: 'Copy into the models folder' },
  { mode: 'move', label: 'Move into the models folder' },
  { mode: 'link', label: 'Use it where it is (reference)' },
];

function ModelRow({ m, facts }: { m: LibraryModelDTO; facts: LibraryFacts | undefined }) {
  const dispatch = useAppDispatch();
  const state = useAppSelector(selectModelState);
  const lib = useAppSelector(selectLibrary);
  const name = modelLabel(m.name);
  const f = facts?.facts ?? null;
  const loaded = state.loaded?.path === m.path;
  const loading = state.loading?.path === m.path;
  const busy = lib.busy === m.path;
  const error = lib.actionError?.path === m.path ? lib.actionError.text : null;
  return (
    <tr className={m.missing ? 'library-row missing' : 'library-row'} aria-label={name}>
      <th scope="row" className="library-name">
        <span title={m.path}>{name}</span>
        {m.missing && <span className="library-badge missing-badge">Missing</span>}
        {!loadableRole(m.role) && <span className="library-badge">{FILE_ROLE_LABELS[m.role!].replace(/^./, (c) => c.toUpperCase())}</span>}
        {facts?.projector && (
          <span className="library-badge" title={`Vision projector: ${facts.projector}`}>
            Vision: {facts.projector.split(/[\\/]/).pop()}
          </span>
        )}
        {facts && facts.files.length > 1 && <span className="library-badge">{facts.files.length} parts</span>}
        {error && (
          <span className="field-error" role="alert">
            {error}
          </span>
        )}
      </th>
      <td>{m.missing ? '—' : formatBytes(m.fileSize)}</td>
      <td>{f?.fileType ?? '—'}</td>
      <td>{f?.architecture ?? '—'}</td>
      <td>{f ? formatParameters(f.parameters) : '—'}</td>
      <td className="library-from">{whereFrom(m)}</td>
      <td className="library-actions">
        <div className="library-actions-inner">
        {loaded ? (
          <span className="library-loaded">Loaded</span>
        ) : (
          <button type="button" className="button small" disabled={m.missing || loading || !loadableRole(m.role)} aria-label={`Load ${name}`} onClick={() => void dispatch(loadModel(m.path))}>
            {loading ? 'Loading…' : 'Load'}
          </button>
        )}
        <button type="button" className="button small ghost" disabled={m.missing || !loadableRole(m.role)} aria-label={`Load settings of ${name}`} onClick={() => dispatch(openLoadSettings(m.path))}>
          Load settings
        </button>
        {m.origin === 'folder' ? (
          <button type="button" className="button small danger" disabled={busy} aria-label={`Delete ${name}`} onClick={() => dispatch(deleteAsked(m.path))}>
            Delete
          </button>
        ) : (
          <button type="button" className="button small" disabled={busy} aria-label={`Remove ${name} from library`}
            title="Remove from library (the file stays where it is)" onClick={() => void dispatch(removeLibraryReference(m.path))}>
            Remove
          </button>
        )}
        </div>
      </td>
    </tr>
  );
}

function DeleteDialog({ m, facts }: { m: LibraryModelDTO; facts: LibraryFacts | undefined }) {
  const dispatch = useAppDispatch();
  const state = useAppSelector(selectModelState);
  const cancel = () => dispatch(deleteDismissed());
  const files = facts?.files ?? [m.path];
  const inUse = state.loaded?.path === m.path || state.loading?.path === m.path;
  return (
    <Dialog title={`Delete ${modelLabel(m.name)}?`} onClose={cancel} className="confirm-dialog">
      <p>{files.length > 1 ? `These ${files.length} files are deleted from disk (${formatBytes(m.fileSize)}):` : `This file is deleted from disk (${formatBytes(m.fileSize)}):`}</p>
      <ul className="library-files" aria-label="Files to delete">
        {files.map((f) => (
          <li key={f}>{fileName(f)}</li>
        ))}
      </ul>
      {inUse && <p className="muted">It is loaded: it is unloaded first.</p>}
      <div className="form-actions">
        <button type="button" className="button" data-autofocus onClick={cancel}>
          Cancel
        </button>
        <button type="button" className="button primary danger-fill" onClick={() => void dispatch(deleteLibraryModel(m.path))}>
          Delete
        </button>
      </div>
    </Dialog>
  );
}

function ImportForm() {
  const dispatch = useAppDispatch();
  const lib = useAppSelector(selectLibrary);
  const [file, setFile] = useState('');
  const [mode, setMode] = useState<ImportMode>('copy');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (file.trim()) void dispatch(importLibraryFile({ path: file.trim(), mode }));
  };
  return (
    <form className="library-import" aria-labelledby="library-import-title" onSubmit={submit}>
      <h3 id="library-import-title">Import a file</h3>
      <div className="library-import-row">
        <div className="field grow">
          <label htmlFor="library-import-path">Path of a .gguf file</label>
          <input
            id="library-import-path"
            type="text"
            value={file}
            placeholder="/home/me/Downloads/model-Q4_K_M.gguf"
            spellCheck={false}
            onChange={(e) => {
              setFile(e.target.value);
              if (lib.importError || lib.importNote) dispatch(importMessagesCleared());
            }}
          />
        </div>
        <div className="field">
          <label htmlFor="library-import-mode">How</label>
          <select id="library-import-mode" value={mode} onChange={(e) => setMode(e.target.value as ImportMode)}>
            {IMPORT_MODES.map((o) => (
              <option key={o.mode} value={o.mode}>
                {o.label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="button primary" disabled={lib.importing || !file.trim()}>
          {lib.importing ? 'Importing…' : 'Import'}
        </button>
      </div>
      {lib.importing && lib.importProgress && lib.importProgress.total > 0 && (
        <div className="library-import-progress">
          <progress max={lib.importProgress.total} value={lib.importProgress.bytes} aria-label="Import progress" />
          <span className="muted">
            {formatBytes(lib.importProgress.bytes)} of {formatBytes(lib.importProgress.total)}
          </span>
        </div>
      )}
      {lib.importError && (
        <p className="field-error" role="alert">
          {lib.importError}
        </p>
      )}
      {lib.importNote && (
        <p className="library-note" role="status">
          {lib.importNote}
        </p>
      )}
    </form>
  );
}

export function LibraryPage() {
  const dispatch = useAppDispatch();
  const models = useAppSelector(selectModels);
  const listStatus = useAppSelector((s) => s.models.listStatus);
  const lib = useAppSelector(selectLibrary);
  const modelsDir = useAppSelector(selectModelsDir);
  const confirming = lib.confirmDelete ? models.find((m) => m.path === lib.confirmDelete) : undefined;
  return (
    <section className="page library-page" aria-labelledby="library-page-title">
      <h2 id="library-page-title">My models</h2>
      {modelsDir && (
        <p className="library-folder">
          Models folder: <code>{modelsDir}</code>
        </p>
      )}
      {listStatus === 'ready' && models.length === 0 ? (
        <p className="library-empty">
          No models yet.{' '}
          <button type="button" className="link-button" onClick={() => dispatch(pageShown('hub'))}>
            Find models
          </button>{' '}
          on Hugging Face, or import a file below.
        </p>
      ) : (
        <div className="library-table-wrap">
          <table className="library-table" aria-label="Models">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Size</th>
                <th scope="col">Quantization</th>
                <th scope="col">Architecture</th>
                <th scope="col">Parameters</th>
                <th scope="col">From</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {models.map((m) => (
                <ModelRow key={m.path} m={m} facts={lib.facts[m.path]} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <ImportForm />
      <DiscoveredModels />
      {confirming && <DeleteDialog m={confirming} facts={lib.facts[confirming.path]} />}
    </section>
  );
}
