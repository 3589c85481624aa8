/**
 * Settings → About: app version, llama.cpp commit, backends and devices (from app.info), and the logs:
 * where they are, "Open logs folder" (the desktop app only) and "Copy diagnostics".
 */
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { DevicesTable } from '../../components/DevicesTable';
import { copyDiagnostics, openLogsFolder } from './settingsSlice';

export function About() {
  const dispatch = useAppDispatch();
  const info = useAppSelector((s) => s.settings.info);
  const error = useAppSelector((s) => s.settings.infoError);
  const action = useAppSelector((s) => s.settings.aboutAction);
  return (
    <div className="about">
      {error && <p role="alert">{error}</p>}
      {!info && !error && <p role="status">Starting the engine…</p>}
      {info && (
        <section aria-label="Engine">
          <dl className="facts">
            <dt>Version</dt>
            <dd>{info.appVersion}</dd>
            <dt>llama.cpp</dt>
            <dd>
              <code>{info.llamaCommit}</code>
            </dd>
            <dt>Data folder</dt>
            <dd>
              <code>{info.dataDir}</code>
            </dd>
          </dl>
          {info.engineError && <p role="alert">Engine unavailable: {info.engineError}</p>}
          <h3>Backends</h3>
          <ul aria-label="Backends" className="chips">
            {info.backends.map((b) => (
              <li key={b}>{b}</li>
            ))}
          </ul>
          <h3>Devices</h3>
          <DevicesTable devices={info.devices} label="Devices" />
        </section>
      )}
      {info && (
        <section aria-label="Logs">
          <h3>Logs</h3>
          <dl className="facts">
            <dt>Logs folder</dt>
            <dd>
              <code>{info.logsDir}</code>
            </dd>
          </dl>
          <div className="row">
            {info.canOpenLogsFolder && (
              <button type="button" className="button" onClick={() => void dispatch(openLogsFolder())}>
                Open logs folder
              </button>
            )}
            <button type="button" className="button" disabled={action?.state === 'busy'} onClick={() => void dispatch(copyDiagnostics())}>
              Copy diagnostics
            </button>
          </div>
          {action && action.state !== 'failed' && <p role="status">{action.message}</p>}
          {action?.state === 'failed' && <p role="alert">{action.message}</p>}
        </section>
      )}
    </div>
  );
}
