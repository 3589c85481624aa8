/**
 * The header's downloads button and its panel, reachable from every page: each download with a
 * progress bar, bytes, speed and time left, and pause / resume / cancel; failures in main's words.
 */
import { useEffect, useRef } from 'react';
import { describeError } from '../../app/errors';
import { formatBytes, formatEta } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { setDownloadsOpen } from '../../app/uiSlice';
import { Icon } from '../../components/Icon';
import type { DownloadDTO } from '../../../../main/ipc/contract';
import { CancelDownload } from './CancelDownload';
import { downloadErrorDismissed, pauseDownload, resumeDownload, selectActiveDownloads } from './downloadsSlice';

const STATE_WORDS: Record<DownloadDTO['state'], string> = {
  queued: 'Waiting',
  downloading: 'Downloading',
  paused: 'Paused',
  failed: 'Failed',
  verifying: 'Checking SHA-256',
  done: 'Done',
  cancelled: 'Cancelled',
};

const fileName = (d: DownloadDTO) => d.file.split('/').pop() ?? d.file;

function DownloadRow({ d }: { d: DownloadDTO }) {
  const dispatch = useAppDispatch();
  const name = fileName(d);
  const pct = d.size > 0 ? Math.min(100, Math.floor((d.bytes / d.size) * 100)) : 0;
  return (
    <li className={`download-row ${d.state}`} aria-label={`${name}: ${STATE_WORDS[d.state]}`}>
      <div className="download-head">
        <span className="download-name" title={`${d.repo} · ${d.file}`}>
          {name}
          <span className="download-repo">{d.repo}</span>
        </span>
        <span className="download-actions">
          {(d.state === 'downloading' || d.state === 'queued') && (
            <button type="button" className="button small ghost" aria-label={`Pause ${name}`} onClick={() => void dispatch(pauseDownload({ id: d.id }))}>
              <Icon name="pause" size={13} /> Pause
            </button>
          )}
          {(d.state === 'paused' || d.state === 'failed') && (
            <button type="button" className="button small ghost" aria-label={`${d.state === 'failed' ? 'Retry' : 'Resume'} ${name}`} onClick={() => void dispatch(resumeDownload({ id: d.id }))}>
              <Icon name={d.state === 'failed' ? 'refresh' : 'play'} size={13} /> {d.state === 'failed' ? 'Retry' : 'Resume'}
            </button>
          )}
          {d.state !== 'done' && d.state !== 'cancelled' && <CancelDownload name={name} ids={[d.id]} bytes={d.bytes} />}
        </span>
      </div>
      <progress max={100} value={pct} aria-label={`${name} progress`} aria-valuetext={`${pct}%`} />
      <div className="download-meta">
        <span>{STATE_WORDS[d.state]}</span>
        <span>
          {formatBytes(d.bytes)} of {formatBytes(d.size)} ({pct}%)
        </span>
        {d.state === 'downloading' && (
          <span>
            {formatBytes(d.speed)}/s · {formatEta(d.etaSeconds)} left
          </span>
        )}
      </div>
      {d.error && <p className="inline-error">{describeError(d.error)}</p>}
    </li>
  );
}

export function DownloadsPanel() {
  const dispatch = useAppDispatch();
  const list = useAppSelector((s) => s.downloads.list);
  const error = useAppSelector((s) => s.downloads.error);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    ref.current?.focus();
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && dispatch(setDownloadsOpen(false));
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [dispatch]);
  return (
    <div className="downloads-panel" role="region" aria-label="Downloads" id="downloads-panel" tabIndex={-1} ref={ref}>
      <div className="downloads-title">
        <h2>Downloads</h2>
        <button type="button" className="icon-button small" aria-label="Close downloads" onClick={() => dispatch(setDownloadsOpen(false))}>
          <Icon name="close" size={15} />
        </button>
      </div>
      {error && (
        <p className="inline-error" role="alert">
          {describeError(error)}{' '}
          <button type="button" className="link-button" onClick={() => dispatch(downloadErrorDismissed())}>
            Dismiss
          </button>
        </p>
      )}
      {list.length === 0 ? <p className="muted">No downloads. "Find models" in the sidebar searches Hugging Face.</p> : <ul className="download-list">{list.map((d) => <DownloadRow key={d.id} d={d} />)}</ul>}
    </div>
  );
}

/** The header's button: how many downloads are under way, and the panel when open. */
export function DownloadsButton() {
  const dispatch = useAppDispatch();
  const open = useAppSelector((s) => s.ui.downloadsOpen);
  const active = useAppSelector(selectActiveDownloads).length;
  return (
    <span className="downloads-anchor">
      <button type="button" className="icon-button" aria-label={active ? `Downloads (${active} under way)` : 'Downloads'} aria-expanded={open} aria-controls="downloads-panel" title="Downloads" onClick={() => dispatch(setDownloadsOpen(!open))}>
        <Icon name="download" />
        {active > 0 && <span className="badge" aria-hidden="true">{active}</span>}
      </button>
      {open && <DownloadsPanel />}
    </span>
  );
}
