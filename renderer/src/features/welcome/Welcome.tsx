/**
 * The first-run view: what a user without a model sees on the chat page, and what the hub page can
 * mount at its top. RecommendedModels lists the curated models by use ("View files" opens the
 * repository on the hub page); DiscoveredModels lists the models other apps keep on this computer
 * with an "Add" per file (by reference: no copy). Both dispatch welcomeOpened when they show: the
 * listeners ask main for what is missing.
 */
import { useEffect, useId } from 'react';
import { PEER_APP_NAMES, PEER_APPS, RECOMMENDED_USES, type RecommendedModelDTO } from '../../../../main/ipc/models';
import { describeError } from '../../app/errors';
import { formatBytes } from '../../app/format';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { showHubRepo } from '../hub/hubSlice';
import { selectSettings } from '../settings/settingsSlice';
import { addDiscovered, addErrorDismissed, fetchRecommended, runDiscovery, welcomeOpened, type Discovery } from './welcomeSlice';

const USE_TITLES: Record<RecommendedModelDTO['use'], string> = { chat: 'Chat', coding: 'Coding', reasoning: 'Reasoning', embedding: 'Embedding (search over documents)' };
const SIZE_TITLES: Record<RecommendedModelDTO['size'], string> = { small: 'Small', medium: 'Medium', large: 'Large' };

/** 4.3e9 → "4.3B", 1.37e8 → "137M" */
export function formatParameters(n: number): string {
  if (n >= 1e9) return `${Number((n / 1e9).toFixed(n >= 1e10 ? 0 : 1))}B`;
  return `${Math.round(n / 1e6)}M`;
}

/** "LM Studio, Ollama, Jan and GPT4All" */
const PEER_LIST = (() => {
  const names = PEER_APPS.map((a) => PEER_APP_NAMES[a]);
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
})();

function useWelcomeOpened(): void {
  const dispatch = useAppDispatch();
  useEffect(() => {
    dispatch(welcomeOpened());
  }, [dispatch]);
}

/** The curated models, grouped by use, each with its size class and a way to its files on the hub page. */
export function RecommendedModels() {
  useWelcomeOpened();
  const dispatch = useAppDispatch();
  const { status, models, error } = useAppSelector((s) => s.welcome.recommended);
  const titleId = useId();
  return (
    <section className="welcome-section" aria-labelledby={titleId}>
      <h3 id={titleId}>Recommended models</h3>
      <p className="muted">Well-known models on Hugging Face. Pick a size your computer can hold: small runs almost anywhere, large wants a big GPU or lots of memory.</p>
      {status === 'loading' && (
        <p className="muted" role="status">
          Loading the recommended models…
        </p>
      )}
      {status === 'error' && error && (
        <div className="welcome-error" role="alert">
          <span>{describeError(error)}</span>
          <button type="button" className="button small" onClick={() => void dispatch(fetchRecommended())}>
            Try again
          </button>
        </div>
      )}
      {RECOMMENDED_USES.map((use) => {
        const ofUse = models.filter((m) => m.use === use);
        if (ofUse.length === 0) return null;
        return (
          <section key={use} className="rec-group" aria-label={USE_TITLES[use]}>
            <h4>{USE_TITLES[use]}</h4>
            <ul className="rec-list">
              {ofUse.map((m) => (
                <li key={m.repo} className="rec-card" aria-label={m.name}>
                  <div className="rec-head">
                    <span className="rec-name">{m.name}</span>
                    <span className={`rec-size ${m.size}`}>
                      {SIZE_TITLES[m.size]} · {formatParameters(m.parameters)}
                    </span>
                  </div>
                  <p className="rec-desc">{m.description}</p>
                  <div className="rec-foot">
                    <span className="rec-repo" title={`${m.repo}, suggested file: ${m.quant}`}>
                      {m.repo} · {m.quant}
                    </span>
                    <button type="button" className="button small" data-repo={m.repo} aria-label={`View files of ${m.name}`} onClick={() => dispatch(showHubRepo(m.repo))}>
                      View files
                    </button>
                  </div>
                </li>
              ))}
            </ul>
          </section>
        );
      })}
    </section>
  );
}

/** One file discovery found in an app's folder, with its model. */
interface FoundFile {
  model: Discovery['models'][number];
  path: string;
  name: string;
}

function filesOf(d: Discovery, app: (typeof PEER_APPS)[number]): FoundFile[] {
  return d.models.flatMap((model) => model.locations.filter((l) => l.app === app).map((l) => ({ model, path: l.path, name: l.name })));
}

/** What discovery found in the other apps' folders, per app, each file with an "Add"; the folders searched and what was skipped, folded. */
export function DiscoveredModels() {
  useWelcomeOpened();
  const dispatch = useAppDispatch();
  const { status, result, error } = useAppSelector((s) => s.welcome.discovery);
  const adding = useAppSelector((s) => s.welcome.adding);
  const addError = useAppSelector((s) => s.welcome.addError);
  const titleId = useId();
  const busy = status === 'loading';
  return (
    <section className="welcome-section" aria-labelledby={titleId} aria-busy={busy}>
      <div className="welcome-title-row">
        <h3 id={titleId}>Models already on this computer</h3>
        <button type="button" className="button small ghost" disabled={busy} onClick={() => void dispatch(runDiscovery())}>
          Look again
        </button>
      </div>
      {busy && (
        <p className="muted" role="status">
          Looking in {PEER_LIST} folders…
        </p>
      )}
      {status === 'error' && error && (
        <div className="welcome-error" role="alert">
          <span>{describeError(error)}</span>
        </div>
      )}
      {addError && (
        <div className="welcome-error" role="alert">
          <span>
            {addError.path.split(/[\\/]/).pop()}: {describeError(addError.error)}
          </span>
          <button type="button" className="button small" onClick={() => dispatch(addErrorDismissed())}>
            Dismiss
          </button>
        </div>
      )}
      {result && !busy && (
        <>
          {result.models.length === 0 ? (
            <p className="muted">No models found in {PEER_LIST} folders.</p>
          ) : (
            <p className="muted">Added models stay where they are (nothing is copied) and show up in the header.</p>
          )}
          {PEER_APPS.map((app) => {
            const files = filesOf(result, app);
            if (files.length === 0) return null;
            return (
              <section key={app} className="found-app" aria-label={`Found in ${PEER_APP_NAMES[app]}`}>
                <h4>{PEER_APP_NAMES[app]}</h4>
                <ul className="found-list">
                  {files.map((f) => (
                    <li key={f.path} className="found-row" aria-label={f.name}>
                      <div className="found-text">
                        <span className="found-name" title={f.path}>
                          {f.name}
                        </span>
                        <span className="found-meta">
                          {[formatBytes(f.model.size), f.model.facts.fileType, f.model.facts.parameters > 0 ? `${formatParameters(f.model.facts.parameters)} parameters` : null, f.model.facts.architecture]
                            .filter(Boolean)
                            .join(' · ')}
                        </span>
                      </div>
                      {f.model.inLibrary ? (
                        <span className="found-added">In your models</span>
                      ) : (
                        <button type="button" className="button small primary" aria-label={`Add ${f.name}`} disabled={adding.includes(f.path)} onClick={() => void dispatch(addDiscovered(f.path))}>
                          {adding.includes(f.path) ? 'Adding…' : 'Add'}
                        </button>
                      )}
                    </li>
                  ))}
                </ul>
              </section>
            );
          })}
          <details className="found-details" aria-label="Folders searched">
            <summary>Folders searched ({result.searched.length})</summary>
            <ul>
              {result.searched.map((s) => (
                <li key={`${s.app} ${s.folder}`}>
                  <span className="found-app-name">{PEER_APP_NAMES[s.app]}</span> <code>{s.folder}</code>{' '}
                  <span className="muted">
                    {s.exists ? 'found' : 'not there'}
                    {s.from === 'settings' ? `, named in ${s.source ?? 'its settings'}` : s.from === 'environment' ? `, from ${s.source ?? 'the environment'}` : ''}
                  </span>
                </li>
              ))}
            </ul>
          </details>
          {result.skipped.length > 0 && (
            <details className="found-details" aria-label="Skipped files">
              <summary>Skipped files ({result.skipped.length})</summary>
              <ul>
                {result.skipped.map((k) => (
                  <li key={`${k.app} ${k.path}`}>
                    <span className="found-app-name">{PEER_APP_NAMES[k.app]}</span> <code>{k.path}</code>: <span className="muted">{k.reason}</span>
                  </li>
                ))}
              </ul>
            </details>
          )}
        </>
      )}
    </section>
  );
}

/** The chat page without any model: add one found on this computer, get a recommended one, or drop a file in the models folder. */
export function FirstRun() {
  // the models folder in use (settings: <data>/models unless moved)
  const folder = useAppSelector(selectSettings)?.modelsFolder ?? '';
  return (
    <section className="welcome" aria-labelledby="welcome-title">
      <h2 id="welcome-title">Welcome to Hearth</h2>
      <p className="muted">To chat, Hearth needs a model (a .gguf file). Add one you already have, or get one from Hugging Face. Everything stays on this computer.</p>
      <DiscoveredModels />
      <RecommendedModels />
      <p className="muted welcome-folder">
        Or put a .gguf file in {folder ? <code>{folder}</code> : 'the models folder'} and it shows up in the header.
      </p>
    </section>
  );
}
