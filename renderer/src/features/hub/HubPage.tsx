/**
 * The Hub page: search Hugging Face for GGUF models (query, author, sort), the results with their
 * downloads, likes, last update and gated mark; a repository's GGUF files by quantization with
 * sizes, a fit verdict per file for this machine, a Download button (then its progress), and "Chat
 * with it" once it is on this disk. Requests follow the state (./listeners.ts).
 */
import { useEffect, useRef } from 'react';
import { shallowEqual } from 'react-redux';
import { describeError, type ErrorInfo } from '../../app/errors';
import { formatBytes, formatEta, formatInt } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { Icon } from '../../components/Icon';
import { FIT_VERDICTS, HUB_SORTS, VERDICT_MEANINGS, VERDICT_WORDS } from '../../../../main/ipc/models';
import { RecommendedModels } from '../welcome/Welcome';
import type { DownloadDTO } from '../../../../main/ipc/contract';
import {
  chatWithModel, downloadHubFile, fitKey, hubAuthorChanged, hubQueryChanged, hubSortChanged, repoOpened, selectHubRepoInfo, selectLocalCopy,
  type FitEntry, type HubModel, type HubQuantFile, type HubSort,
} from './hubSlice';
import { pauseDownload, resumeDownload } from '../downloads/downloadsSlice';
import { CancelDownload } from '../downloads/CancelDownload';

const SORT_WORDS: Record<HubSort, string> = {
  downloads: 'Most downloaded',
  likes: 'Most liked',
  lastModified: 'Recently updated',
  trendingScore: 'Trending',
  createdAt: 'Newest',
};

/** What a gated repository's refusal says (the token field is in Settings → Models). */
export const GATED_WORDS = 'This model is gated: add a Hugging Face token in Settings → Models';

const formatDate = (ms: number) => new Date(ms).toLocaleDateString('en-US', { year: 'numeric', month: 'short', day: 'numeric' });
const gatedError = (e: ErrorInfo | null | undefined) => e?.code === 'hub_unauthorized';

function SearchForm() {
  const dispatch = useAppDispatch();
  const { query, author, sort } = useAppSelector((s) => s.hub);
  return (
    <form className="hub-search" role="search" aria-label="Search Hugging Face" onSubmit={(e) => e.preventDefault()}>
      <label className="hub-field grow">
        <span>Search</span>
        <input type="search" value={query} placeholder="Model name, e.g. llama" aria-label="Search models" onChange={(e) => dispatch(hubQueryChanged(e.target.value))} />
      </label>
      <label className="hub-field">
        <span>Author</span>
        <input type="text" value={author} placeholder="anyone" aria-label="Author" onChange={(e) => dispatch(hubAuthorChanged(e.target.value))} />
      </label>
      <label className="hub-field">
        <span>Sort by</span>
        <select value={sort} aria-label="Sort by" onChange={(e) => dispatch(hubSortChanged(e.target.value as HubSort))}>
          {HUB_SORTS.map((s) => (
            <option key={s} value={s}>
              {SORT_WORDS[s]}
            </option>
          ))}
        </select>
      </label>
    </form>
  );
}

function ResultRow({ m }: { m: HubModel }) {
  const dispatch = useAppDispatch();
  return (
    <li>
      <button type="button" className="hub-result" data-repo={m.id} aria-label={`Open ${m.id}`} onClick={() => dispatch(repoOpened(m.id))}>
        <span className="hub-result-name">
          {m.name}
          {m.gated && (
            <span className="hub-tag gated" title="Needs a Hugging Face token whose account accepted the model's terms">
              gated
            </span>
          )}
        </span>
        <span className="hub-result-meta">
          <span>{m.author}</span>
          <span title="Downloads">
            <Icon name="download" size={13} /> {formatInt(m.downloads)}
          </span>
          <span title="Likes">♥ {formatInt(m.likes)}</span>
          <span>updated {formatDate(m.lastModified)}</span>
        </span>
      </button>
    </li>
  );
}

function Results() {
  const { results, searchStatus, searchError, query, author } = useAppSelector((s) => s.hub);
  return (
    <>
      <SearchForm />
      <p className="muted" role="status" aria-live="polite">
        {searchStatus === 'loading' ? 'Searching…' : searchStatus === 'ready' ? `${results.length} repositories with GGUF files` : ''}
      </p>
      {searchError && <p className="inline-error" role="alert">{describeError(searchError)}</p>}
      {searchStatus === 'ready' && results.length === 0 && <p className="muted">No GGUF repositories match.</p>}
      {results.length > 0 && (
        <ul className="hub-results" aria-label="Results">
          {results.map((m) => (
            <ResultRow key={m.id} m={m} />
          ))}
        </ul>
      )}
      {/* the curated list after the results (a sort changes what is on top), folded while there are results */}
      {!query.trim() && !author.trim() && (
        <details className="hub-recommended" key={results.length > 0 ? 'folded' : 'open'} open={results.length === 0}>
          <summary>Recommended models</summary>
          <RecommendedModels />
        </details>
      )}
    </>
  );
}

function FitBadge({ entry }: { entry: FitEntry | undefined }) {
  if (!entry || entry.status === 'checking') {
    return (
      <span className="fit-badge checking" role="status" aria-label="Fit: checking">
        checking…
      </span>
    );
  }
  if (entry.status === 'error') {
    const text = gatedError(entry.error) ? 'gated: needs a token' : 'unknown';
    return (
      <span className="fit-badge error" role="status" aria-label={`Fit: ${text}`} title={describeError(entry.error)}>
        {text}
      </span>
    );
  }
  const { fit } = entry;
  const why = fit.reason ?? fit.problems[0] ?? '';
  return (
    <span className={`fit-badge ${fit.verdict}`} role="status" aria-label={`Fit: ${fit.words}`} title={why}>
      {fit.words}
    </span>
  );
}

/** The downloads of a file's parts, as one: bytes, size, the state that matters most. */
function combined(list: DownloadDTO[]): { bytes: number; size: number; state: DownloadDTO['state']; error: DownloadDTO['error']; speed: number; eta: number | null } {
  const order: DownloadDTO['state'][] = ['failed', 'paused', 'downloading', 'verifying', 'queued', 'done', 'cancelled'];
  const state = order.find((st) => list.some((d) => d.state === st)) ?? 'queued';
  return {
    bytes: list.reduce((n, d) => n + d.bytes, 0),
    size: list.reduce((n, d) => n + d.size, 0),
    state,
    error: list.find((d) => d.error)?.error ?? null,
    speed: list.reduce((n, d) => n + d.speed, 0),
    eta: list.find((d) => d.state === 'downloading')?.etaSeconds ?? null,
  };
}

function FileRow({ repo, revision, file }: { repo: string; revision: string; file: HubQuantFile }) {
  const dispatch = useAppDispatch();
  const fit = useAppSelector((s) => s.hub.fits[fitKey(repo, revision, file.parts[0].path)]);
  const parts = useAppSelector((s) => s.downloads.list.filter((d) => d.repo === repo && file.parts.some((p) => p.path === d.file)), shallowEqual);
  const local = useAppSelector((s) => selectLocalCopy(s, repo, revision, file));
  const name = file.name;
  let action: JSX.Element;
  if (parts.length > 0) {
    const d = combined(parts);
    const pct = d.size > 0 ? Math.min(100, Math.floor((d.bytes / d.size) * 100)) : 0;
    action = (
      <span className="hub-progress">
        <progress max={100} value={pct} aria-label={`${name} download progress`} aria-valuetext={`${pct}%`} />
        <span className="muted">
          {d.state === 'downloading' ? `${pct}% · ${formatBytes(d.speed)}/s · ${formatEta(d.eta)} left` : d.state === 'verifying' ? 'checking SHA-256…' : `${d.state} · ${pct}%`}
        </span>
        {d.error && <span className="inline-error">{describeError(d.error)}</span>}
        <span className="hub-progress-actions">
          {(d.state === 'paused' || d.state === 'failed') && (
            <button type="button" className="button small" aria-label={`Resume ${name}`} onClick={() => parts.filter((x) => x.state === 'paused' || x.state === 'failed').forEach((x) => void dispatch(resumeDownload({ id: x.id })))}>
              Resume
            </button>
          )}
          {(d.state === 'downloading' || d.state === 'queued') && (
            <button type="button" className="button small ghost" aria-label={`Pause ${name}`} onClick={() => parts.filter((x) => x.state === 'downloading' || x.state === 'queued').forEach((x) => void dispatch(pauseDownload({ id: x.id })))}>
              Pause
            </button>
          )}
          {d.state !== 'done' && d.state !== 'cancelled' && (
            <CancelDownload name={name} ids={parts.filter((x) => x.state !== 'done' && x.state !== 'cancelled').map((x) => x.id)} bytes={d.bytes} />
          )}
        </span>
      </span>
    );
  } else if (local) {
    action = (
      <button type="button" className="button primary" aria-label={`Chat with ${name}`} onClick={() => dispatch(chatWithModel(local))}>
        Chat with it
      </button>
    );
  } else {
    action = (
      <button type="button" className="button" aria-label={`Download ${name}`} onClick={() => void dispatch(downloadHubFile({ repo, revision, file }))}>
        <Icon name="download" size={15} /> Download
      </button>
    );
  }
  return (
    <li className="hub-file" aria-label={name}>
      <span className="hub-file-name" title={file.parts.map((p) => p.path).join('\n')}>
        {name}
        {file.parts.length > 1 && <span className="hub-tag">{file.parts.length} parts</span>}
        {file.projector && <span className="hub-tag" title="A vision projector: it goes with a model, it is not one on its own">projector</span>}
      </span>
      <span className="hub-file-size">{formatBytes(file.size)}</span>
      <span className="hub-file-fit">{file.projector ? <span className="muted">not a model on its own</span> : <FitBadge entry={fit} />}</span>
      <span className="hub-file-action">{action}</span>
    </li>
  );
}

function RepoView({ repo }: { repo: string }) {
  const dispatch = useAppDispatch();
  // opened (by Enter too): focus on its heading, not left on <body> where the result button was
  const headRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headRef.current?.focus(), [repo]);
  const info = useAppSelector(selectHubRepoInfo);
  const { files, filesStatus, filesError, fits } = useAppSelector((s) => s.hub);
  const addError = useAppSelector((s) => s.downloads.error);
  const refused = gatedError(filesError) || Object.entries(fits).some(([k, f]) => k.startsWith(`${repo}@`) && f.status === 'error' && gatedError(f.error));
  const otherFitError = Object.entries(fits).find(([k, f]) => k.startsWith(`${repo}@`) && f.status === 'error' && !gatedError(f.error));
  return (
    <>
      <div className="hub-repo-head">
        <button type="button" className="button" aria-label="Back to results" onClick={() => dispatch(repoOpened(null))}>
          <Icon name="left" size={15} /> Results
        </button>
        <h3 tabIndex={-1} ref={headRef}>
          {repo}
        </h3>
        {info?.gated && <span className="hub-tag gated">gated</span>}
      </div>
      {info && (
        <p className="muted">
          {formatInt(info.downloads)} downloads · {formatInt(info.likes)} likes · updated {formatDate(info.lastModified)}
        </p>
      )}
      {refused && (
        <p className="inline-error" role="alert">
          {GATED_WORDS}.
        </p>
      )}
      {otherFitError && otherFitError[1].status === 'error' && <p className="inline-error">Fit: {describeError(otherFitError[1].error)}</p>}
      {addError && <p className="inline-error" role="alert">{describeError(addError)}</p>}
      {filesStatus === 'loading' && <p className="muted" role="status">Listing the files…</p>}
      {filesError && !gatedError(filesError) && <p className="inline-error" role="alert">{describeError(filesError)}</p>}
      {files && files.groups.length === 0 && <p className="muted">This repository has no GGUF files.</p>}
      {files && files.groups.length > 0 && (
        <p className="fit-legend">
          Fit for this computer, judged before downloading from each file&apos;s header and llama.cpp&apos;s own estimate:{' '}
          {FIT_VERDICTS.map((v, i) => (
            <span key={v}>
              <strong>{VERDICT_WORDS[v]}</strong> ({VERDICT_MEANINGS[v]}){i < FIT_VERDICTS.length - 1 ? ', ' : '.'}
            </span>
          ))}
        </p>
      )}
      {files?.groups.map((g) => (
        <section key={g.quant ?? '-'} className="hub-group" aria-label={g.quant ?? 'Other files'}>
          <h4>{g.quant ?? 'Other files'}</h4>
          <ul className="hub-files">
            {g.files.map((f) => (
              <FileRow key={f.name} repo={files.repo} revision={files.revision} file={f} />
            ))}
          </ul>
        </section>
      ))}
    </>
  );
}

export function HubPage() {
  const repo = useAppSelector((s) => s.hub.repo);
  const pageRef = useRef<HTMLElement>(null);
  // back from a repository: focus on the result (or recommended card) that opened it
  const shownRepo = useRef(repo);
  useEffect(() => {
    const left = shownRepo.current;
    shownRepo.current = repo;
    if (repo || !left) return;
    const opener = [...(pageRef.current?.querySelectorAll<HTMLElement>('[data-repo]') ?? [])].find((b) => b.dataset.repo === left);
    (opener ?? pageRef.current?.querySelector<HTMLElement>('input[type="search"]'))?.focus();
  }, [repo]);
  return (
    <section className="page hub-page" aria-labelledby="hub-page-title" ref={pageRef}>
      <h2 id="hub-page-title">Find models</h2>
      {repo ? <RepoView repo={repo} /> : <Results />}
    </section>
  );
}
