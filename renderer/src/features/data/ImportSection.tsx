/**
 * Settings → Data → Import chats: a file picked (or dropped on the window: ./windowDrop.ts) is sent
 * to main with a progress bar, main's preview says what an import adds (format, chats, messages,
 * those imported before, the dates, what is left out and why), then "Import N chats" runs it with a
 * progress bar (a Hearth JSON file's attached documents, read after its chats, with their own); Cancel
 * stops it at any step.
 */
import { useState } from 'react';
import { DOCUMENTS_AGAIN_HINT, DOCUMENTS_LEFT_OUT_SHOWN, IMPORT_FORMAT_NAMES, IMPORT_FORMATS, type ImportFormatChoice, type ImportPreviewDTO } from '../../../../main/ipc/contract';
import { formatBytes, formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { importReset, selectImport } from './dataSlice';

/** Documents left out that the page lists, at most (the log names every one). */
import { cancelImport, IMPORT_BUSY, importFile, startImport } from './thunks';

const FORMAT_OPTIONS: { value: ImportFormatChoice; label: string }[] = [{ value: 'auto', label: 'Detect automatically' }, ...IMPORT_FORMATS.map((f) => ({ value: f, label: IMPORT_FORMAT_NAMES[f] }))];

const plural = (n: number, one: string, many = `${one}s`) => `${formatInt(n)} ${n === 1 ? one : many}`;
const day = (ms: number) => new Date(ms).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/** A progress bar with its value for assistive technology (aria-valuenow: the percentage). */
export function ProgressBar({ label, done, total, text }: { label: string; done: number; total: number; text: string }) {
  const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
  return (
    <div className="move-progress">
      <progress max={100} value={pct} aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-valuetext={text} />
      <span className="muted">{text}</span>
    </div>
  );
}

function PreviewCard({ p }: { p: ImportPreviewDTO }) {
  const range = p.firstAt !== null && p.lastAt !== null ? (day(p.firstAt) === day(p.lastAt) ? day(p.firstAt) : `${day(p.firstAt)} – ${day(p.lastAt)}`) : 'none';
  return (
    <section className="card stack" aria-label="Import preview">
      <dl className="facts">
        <dt>File</dt>
        <dd>{p.name}</dd>
        <dt>Format</dt>
        <dd>{IMPORT_FORMAT_NAMES[p.format]}</dd>
        <dt>Chats</dt>
        <dd>{formatInt(p.threads)}</dd>
        <dt>Messages</dt>
        <dd>{formatInt(p.messages)}</dd>
        <dt>Already imported</dt>
        <dd>{formatInt(p.duplicates)}</dd>
        <dt>Dates</dt>
        <dd>{range}</dd>
      </dl>
      {p.skipped.length > 0 && (
        <div>
          <p className="muted">Left out:</p>
          <ul aria-label="Left out">
            {p.skipped.map((s) => (
              <li key={s.reason}>
                {s.reason}: {formatInt(s.count)}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}

export function ImportSection() {
  const dispatch = useAppDispatch();
  const imp = useAppSelector(selectImport);
  const [from, setFrom] = useState<ImportFormatChoice>('auto');
  const busy = IMPORT_BUSY.includes(imp.phase);
  const p = imp.progress;
  return (
    <section className="stack" aria-labelledby="data-import-title">
      <h4 id="data-import-title">Import chats</h4>
      <p className="muted">
        ChatGPT's or Claude's data export (the .zip as downloaded, or its conversations.json), Open WebUI's chat export, one LM Studio conversation file, or Hearth JSON.
        You see what is in it before anything is imported; a chat imported before is not imported again. You can also drop the file on the window. A whole folder (Jan's
        threads, LM Studio's conversations): <code>hearth chats import FOLDER</code>.
      </p>
      <div className="field">
        <label htmlFor="data-import-format">Format</label>
        <select id="data-import-format" value={from} disabled={busy} onChange={(e) => setFrom(e.target.value as ImportFormatChoice)}>
          {FORMAT_OPTIONS.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="data-import-file">Choose a file to import</label>
        <input
          id="data-import-file"
          type="file"
          accept=".json,.zip,application/json,application/zip"
          disabled={busy}
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = '';
            if (file) void dispatch(importFile({ file, from }));
          }}
        />
      </div>
      {imp.phase === 'uploading' && <ProgressBar label="Reading the file" done={imp.sent} total={imp.size} text={`${formatBytes(imp.sent)} of ${formatBytes(imp.size)}`} />}
      {imp.phase === 'previewing' && (
        <p role="status" className="muted">
          Looking into {imp.name}…
        </p>
      )}
      {imp.preview && ['previewed', 'running', 'done'].includes(imp.phase) && <PreviewCard p={imp.preview} />}
      {imp.phase === 'running' && p && <ProgressBar label="Importing chats" done={p.done} total={p.total} text={`${formatInt(p.done)} of ${plural(p.total, 'chat')}`} />}
      {imp.phase === 'running' && p?.readingDocuments && (
        <>
          <p role="status" className="muted">
            {plural(p.imported, 'chat')} imported. Now the file is read again for the documents they attach; Cancel stops this and keeps the documents found so
            far.
          </p>
          <ProgressBar
            label="Reading attached documents"
            done={p.readingDocuments.bytes}
            total={p.readingDocuments.total}
            text={`Reading the file again for attached documents: ${formatBytes(p.readingDocuments.bytes)} of ${formatBytes(p.readingDocuments.total)}`}
          />
        </>
      )}
      {imp.phase === 'done' && p && (
        <p role="status">
          Imported {plural(p.imported, 'chat')} ({plural(p.messages, 'message')}){p.duplicates ? `; ${plural(p.duplicates, 'chat')} imported before left out` : ''}.
          {p.documents && ` ${plural(p.documents.kept, 'attached document')} kept.`}
        </p>
      )}
      {imp.phase === 'cancelled' && (
        <p role="status">
          {p && p.imported > 0 ? `Cancelled: ${plural(p.imported, 'chat')} imported before it stopped ${p.imported === 1 ? 'is' : 'are'} kept.` : 'Cancelled: nothing was imported.'}
          {p?.documents && ` ${plural(p.documents.kept, 'attached document')} kept.`}
        </p>
      )}
      {imp.phase !== 'running' && p?.documents && p.documents.skipped.length > 0 && (
        <div>
          <p id="data-import-docs-left-out" className="muted">
            Attached documents not imported:
          </p>
          <ul aria-labelledby="data-import-docs-left-out" className="muted">
            {p.documents.skipped.slice(0, DOCUMENTS_LEFT_OUT_SHOWN).map((d, i) => (
              <li key={`${i}:${d.ref}`}>
                {d.name ?? 'A document'} ({d.ref.slice(0, 12)}…): {d.reason}
              </li>
            ))}
            {p.documents.skipped.length > DOCUMENTS_LEFT_OUT_SHOWN && <li>and {formatInt(p.documents.skipped.length - DOCUMENTS_LEFT_OUT_SHOWN)} more (the log names them)</li>}
          </ul>
          {p.documents.skipped.some((d) => d.again) && <p className="muted">{DOCUMENTS_AGAIN_HINT}</p>}
        </div>
      )}
      {imp.phase === 'failed' && (
        <p role="alert" className="inline-error">
          {imp.error}
        </p>
      )}
      <div className="form-actions">
        {imp.phase === 'previewed' && imp.preview && (
          <button type="button" className="button primary" disabled={imp.preview.threads === 0} onClick={() => imp.preview && void dispatch(startImport(imp.preview.jobId))}>
            Import {plural(imp.preview.threads, 'chat')}
          </button>
        )}
        {(busy || imp.phase === 'previewed') && (
          <button type="button" className="button" onClick={() => dispatch(cancelImport())}>
            Cancel
          </button>
        )}
        {['done', 'cancelled', 'failed'].includes(imp.phase) && (
          <button type="button" className="button" onClick={() => dispatch(importReset())}>
            Done
          </button>
        )}
      </div>
    </section>
  );
}
