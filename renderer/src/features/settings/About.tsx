/** Settings → About: app version, llama.cpp commit, backends and devices (from app.info). */
import { useAppSelector } from '../../app/hooks';
import { DevicesTable } from '../../components/DevicesTable';

export function About() {
  const info = useAppSelector((s) => s.settings.info);
  const error = useAppSelector((s) => s.settings.infoError);
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
    </div>
  );
}
