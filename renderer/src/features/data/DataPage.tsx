/**
 * Settings → Data: import other apps' chats (./ImportSection.tsx), export chats (a download),
 * backups (now, daily, how many are kept; restore after asking: the current data is backed up
 * first and the app restarts; delete), the data folder (where it is, move it: the app restarts), the
 * files of deleted chats set aside (delete them now) and erasing (all chats, or everything) after a
 * confirmation that says what goes.
 */
import { ReactNode, useState } from 'react';
import { BACKUP_KEEP, ERASE_SCOPES, EXPORT_FORMATS } from '../../../../main/ipc/contract';
import { eraseSummary, type EraseScope } from '../../../../main/data-folder/erase-scope';
import { formatBytes, formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Dialog } from '../../components/Dialog';
import { selectDataDir, selectSettings } from '../settings/settingsSlice';
import { selectVisibleThreads } from '../threads/threadsSlice';
import { selectData, selectNoRestart } from './dataSlice';
import { ImportSection, ProgressBar } from './ImportSection';
import { createBackup, deleteBackup, emptyStray, eraseData, EXPORT_FORMAT_NAMES, exportChats, moveDataFolder, restoreBackup, saveBackupSettings } from './thunks';

type ExportFormat = (typeof EXPORT_FORMATS)[number];

const when = (ms: number) => new Date(ms).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** A question before something that cannot be undone: its own dialog (title as its name), Cancel focused first. */
function Confirm(props: { title: string; children: ReactNode; action: string; onCancel: () => void; onConfirm: () => void; disabled?: boolean }) {
  return (
    <Dialog title={props.title} onClose={props.onCancel} className="confirm-dialog">
      {props.children}
      <div className="form-actions">
        <button type="button" className="button" data-autofocus onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" className="button primary danger-fill" disabled={props.disabled} onClick={props.onConfirm}>
          {props.action}
        </button>
      </div>
    </Dialog>
  );
}

/** A choice of the chats the list has loaded, for exporting a selection. */
function ChatChoice({ chosen, setChosen, disabled }: { chosen: ReadonlySet<string>; setChosen: (next: Set<string>) => void; disabled: boolean }) {
  const threads = useAppSelector(selectVisibleThreads);
  const toggle = (id: string, on: boolean) => {
    const next = new Set(chosen);
    if (on) next.add(id);
    else next.delete(id);
    setChosen(next);
  };
  return (
    <details className="chat-choice">
      <summary>Choose chats{chosen.size ? ` (${chosen.size} chosen)` : ''}</summary>
      {threads.length === 0 ? (
        <p className="muted">No chats yet.</p>
      ) : (
        <div role="group" aria-label="Chats to export" className="stack">
          {threads.map((t) => (
            <label key={t.id} className="check">
              <input type="checkbox" checked={chosen.has(t.id)} disabled={disabled} onChange={(e) => toggle(t.id, e.target.checked)} />
              {t.title}
            </label>
          ))}
        </div>
      )}
    </details>
  );
}

function ExportSection() {
  const dispatch = useAppDispatch();
  const { exporting, exportNote } = useAppSelector(selectData);
  const [format, setFormat] = useState<ExportFormat>('md');
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  // a chat deleted meanwhile is no longer chosen
  const known = new Set(useAppSelector(selectVisibleThreads).map((t) => t.id));
  const picked = [...chosen].filter((id) => known.has(id));
  return (
    <section className="stack" aria-labelledby="data-export-title">
      <h4 id="data-export-title">Export chats</h4>
      <p className="muted">Markdown to read anywhere (a .zip of one file per chat), or Hearth JSON to import again, here or on another computer. Export every chat, the chats you choose, or one chat from its menu in the list.</p>
      <fieldset className="radio-row">
        <legend>Export as</legend>
        {EXPORT_FORMATS.map((f) => (
          <label key={f} className={`radio-card${format === f ? ' checked' : ''}`}>
            <input type="radio" name="data-export-format" value={f} checked={format === f} onChange={() => setFormat(f)} />
            {EXPORT_FORMAT_NAMES[f]}
          </label>
        ))}
      </fieldset>
      <ChatChoice chosen={chosen} setChosen={setChosen} disabled={exporting} />
      <div className="form-actions">
        <span role="status" className={exportNote?.kind === 'failed' ? 'inline-error' : 'muted'}>
          {exportNote?.text}
        </span>
        {picked.length > 0 && (
          <button type="button" className="button" disabled={exporting} onClick={() => void dispatch(exportChats({ threadIds: picked, format }))}>
            {`Export ${picked.length} chosen ${picked.length === 1 ? 'chat' : 'chats'}`}
          </button>
        )}
        <button type="button" className="button primary" disabled={exporting} onClick={() => void dispatch(exportChats({ threadIds: null, format }))}>
          {exporting ? 'Exporting…' : 'Export all chats'}
        </button>
      </div>
    </section>
  );
}

function KeepField({ keep, disabled }: { keep: number; disabled: boolean }) {
  const dispatch = useAppDispatch();
  const [value, setValue] = useState(String(keep));
  const [shown, setShown] = useState(keep);
  if (shown !== keep) {
    setShown(keep);
    setValue(String(keep));
  }
  const n = Number(value);
  const valid = /^\d+$/.test(value.trim()) && n >= BACKUP_KEEP.min && n <= BACKUP_KEEP.max;
  const commit = () => {
    if (valid && n !== keep) void dispatch(saveBackupSettings({ keep: n }));
    else if (!valid) setValue(String(keep));
  };
  return (
    <div className="field">
      <label htmlFor="data-backups-keep">Backups to keep</label>
      <input
        id="data-backups-keep"
        type="number"
        min={BACKUP_KEEP.min}
        max={BACKUP_KEEP.max}
        value={value}
        disabled={disabled}
        aria-describedby="data-backups-keep-hint"
        onChange={(e) => setValue(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => e.key === 'Enter' && commit()}
      />
      <span id="data-backups-keep-hint" className="hint">
        {BACKUP_KEEP.min} to {BACKUP_KEEP.max}; the oldest backups beyond this are deleted.
      </span>
    </div>
  );
}

function BackupsSection() {
  const dispatch = useAppDispatch();
  const { backups, backupsError, backupBusy, backupError } = useAppSelector(selectData);
  const noRestart = useAppSelector(selectNoRestart);
  const [asking, setAsking] = useState<{ name: string; createdAt: number; action: 'restore' | 'delete' } | null>(null);
  return (
    <section className="stack" aria-labelledby="data-backups-title">
      <h4 id="data-backups-title">Backups</h4>
      <p className="muted">A copy of the chats, assistants and settings{backups ? ` kept in ${backups.folder}` : ''}.</p>
      {backupsError && (
        <p role="alert" className="inline-error">
          {backupsError}
        </p>
      )}
      {backups && (
        <>
          <div className="check">
            <input id="data-backups-daily" type="checkbox" checked={backups.settings.daily} disabled={backupBusy} onChange={(e) => void dispatch(saveBackupSettings({ daily: e.target.checked }))} />
            <div>
              <label htmlFor="data-backups-daily">Back up every day</label>
              <span className="hint">The first time Hearth runs each day.</span>
            </div>
          </div>
          <KeepField keep={backups.settings.keep} disabled={backupBusy} />
          {backups.backups.length === 0 ? (
            <p className="muted">No backups yet.</p>
          ) : (
            <ul className="backup-list" aria-label="Backups">
              {backups.backups.map((b) => (
                <li key={b.name} className="backup-row">
                  <span>
                    {when(b.createdAt)} <span className="muted">({formatBytes(b.bytes)})</span>
                  </span>
                  <button type="button" className="button small" disabled={backupBusy || noRestart !== null} aria-label={`Restore the backup of ${when(b.createdAt)}`} onClick={() => setAsking({ ...b, action: 'restore' })}>
                    Restore…
                  </button>
                  <button type="button" className="button small" disabled={backupBusy} aria-label={`Delete the backup of ${when(b.createdAt)}`} onClick={() => setAsking({ ...b, action: 'delete' })}>
                    Delete…
                  </button>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      {noRestart && <p className="muted">Restoring a backup: {noRestart}</p>}
      {backupError && (
        <p role="alert" className="inline-error">
          {backupError}
        </p>
      )}
      <div className="form-actions">
        <button type="button" className="button primary" disabled={backupBusy} onClick={() => void dispatch(createBackup())}>
          Back up now
        </button>
      </div>
      {asking?.action === 'restore' && (
        <Confirm
          title="Restore this backup?"
          action="Restore and restart"
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            void dispatch(restoreBackup(asking.name));
            setAsking(null);
          }}
        >
          <p>Your chats, assistants and settings become what they were on {when(asking.createdAt)}.</p>
          <p>Your current data is backed up first (it appears in this list), then Hearth restarts.</p>
        </Confirm>
      )}
      {asking?.action === 'delete' && (
        <Confirm
          title="Delete this backup?"
          action="Delete"
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            void dispatch(deleteBackup(asking.name));
            setAsking(null);
          }}
        >
          <p>The backup of {when(asking.createdAt)} is deleted from disk. Your current data stays.</p>
        </Confirm>
      )}
    </section>
  );
}

function FolderSection() {
  const dispatch = useAppDispatch();
  const { folder, move } = useAppSelector(selectData);
  const dataDir = useAppSelector(selectDataDir);
  const modelsDir = useAppSelector(selectSettings)?.modelsFolder ?? '';
  const noRestart = useAppSelector(selectNoRestart);
  const [to, setTo] = useState('');
  const moving = move?.state === 'moving';
  return (
    <form
      className="stack"
      aria-labelledby="data-folder-title"
      onSubmit={(e) => {
        e.preventDefault();
        if (to.trim() && !noRestart) void dispatch(moveDataFolder(to.trim()));
      }}
    >
      <h4 id="data-folder-title">Data folder</h4>
      <div className="field">
        <label htmlFor="data-dir">Data folder</label>
        <input id="data-dir" readOnly value={folder?.folder ?? dataDir ?? ''} />
        <span className="hint">Chats, settings, documents and backups live here.</span>
      </div>
      <div className="field">
        <label htmlFor="data-move-to">Move data to</label>
        <input id="data-move-to" value={to} placeholder="/an/empty/or/new/folder" spellCheck={false} disabled={moving || noRestart !== null} onChange={(e) => setTo(e.target.value)} />
        <span className="hint">An empty or new folder. Everything in the data folder is copied there, then Hearth restarts using it.</span>
      </div>
      {noRestart && <p className="muted">Moving the data folder: {noRestart} To use another folder, stop Hearth and start it with --data-dir (or HEARTH_DATA_DIR).</p>}
      {moving && <ProgressBar label="Moving data" done={move.bytes} total={move.total} text={`${formatBytes(move.bytes)} of ${formatBytes(move.total)}${move.file ? ` — ${move.file}` : ''}`} />}
      {move?.state === 'failed' && (
        <p role="alert" className="inline-error">
          {move.error}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="button" disabled={moving || !to.trim() || noRestart !== null}>
          {moving ? 'Moving…' : 'Move and restart'}
        </button>
      </div>
      <div className="field">
        <label htmlFor="models-dir">Models folder</label>
        <input id="models-dir" readOnly value={modelsDir} />
        <span className="hint">Models stay where they are; Settings → Models moves them.</span>
      </div>
    </form>
  );
}

/** The images and documents of deleted chats, kept aside a while for a restored backup; deleting them now. */
function StraySection() {
  const dispatch = useAppDispatch();
  const { stray, strayBusy, strayNote } = useAppSelector(selectData);
  const [asking, setAsking] = useState(false);
  const what = stray ? `${formatInt(stray.files)} ${stray.files === 1 ? 'file' : 'files'} (${formatBytes(stray.bytes)})` : '';
  return (
    <section className="stack" aria-labelledby="data-stray-title">
      <h4 id="data-stray-title">Files of deleted chats</h4>
      <p className="muted">
        The images and documents of a deleted chat are set aside{stray ? ` for ${stray.keepDays} days` : ''} (those attached within the last hour, an hour later), so that restoring a backup brings the chat back with them.
        {stray && (stray.files > 0 ? ` Set aside now: ${what}.` : ' None are set aside now.')}
      </p>
      <div className="form-actions">
        <span role="status" className={strayNote?.kind === 'failed' ? 'inline-error' : 'muted'}>
          {strayNote?.text}
        </span>
        <button type="button" className="button" disabled={strayBusy || !stray || stray.files === 0} onClick={() => setAsking(true)}>
          {strayBusy ? 'Deleting…' : 'Delete them now…'}
        </button>
      </div>
      {asking && stray && (
        <Confirm
          title="Delete the files of deleted chats?"
          action="Delete"
          onCancel={() => setAsking(false)}
          onConfirm={() => {
            void dispatch(emptyStray());
            setAsking(false);
          }}
        >
          <p>{what} will be deleted for good. A backup restored after this (or a restore undone) brings its chats back without these images and documents.</p>
        </Confirm>
      )}
    </section>
  );
}

/** Each erase's button and title; what it takes away and leaves is main's list (eraseSummary). */
const ERASE_WORDS: Record<EraseScope, { button: string; title: string }> = {
  threads: { button: 'Erase all chats', title: 'Erase all chats?' },
  everything: { button: 'Erase everything', title: 'Erase everything?' },
};

/** What must be typed before an erase is done. */
export const ERASE_WORD = 'erase';

function EraseSection() {
  const dispatch = useAppDispatch();
  const { erasing, eraseNote } = useAppSelector(selectData);
  const [asking, setAsking] = useState<EraseScope | null>(null);
  const [typed, setTyped] = useState('');
  const ask = (scope: EraseScope) => {
    setTyped('');
    setAsking(scope);
  };
  return (
    <section className="stack" aria-labelledby="data-erase-title">
      <h4 id="data-erase-title">Erase</h4>
      <div className="form-actions">
        <span role="status" className={eraseNote?.kind === 'failed' ? 'inline-error' : 'muted'}>
          {eraseNote?.text}
        </span>
        {ERASE_SCOPES.map((scope) => (
          <button key={scope} type="button" className="button danger" disabled={erasing} onClick={() => ask(scope)}>
            {ERASE_WORDS[scope].button}…
          </button>
        ))}
      </div>
      {asking && (
        <Confirm
          title={ERASE_WORDS[asking].title}
          action={ERASE_WORDS[asking].button}
          disabled={typed.trim().toLowerCase() !== ERASE_WORD}
          onCancel={() => setAsking(null)}
          onConfirm={() => {
            void dispatch(eraseData(asking));
            setAsking(null);
          }}
        >
          <p>These are deleted for good:</p>
          <ul aria-label="What is erased">
            {eraseSummary(asking).goes.map((g) => (
              <li key={g}>{g}</li>
            ))}
          </ul>
          <p>{eraseSummary(asking).stays}</p>
          <div className="field">
            <label htmlFor="data-erase-confirm">Type {ERASE_WORD} to confirm</label>
            <input id="data-erase-confirm" value={typed} autoComplete="off" spellCheck={false} onChange={(e) => setTyped(e.target.value)} />
          </div>
        </Confirm>
      )}
    </section>
  );
}

export function DataPage() {
  return (
    <div className="stack data-page">
      <ImportSection />
      <ExportSection />
      <BackupsSection />
      <FolderSection />
      <StraySection />
      <EraseSection />
    </div>
  );
}
