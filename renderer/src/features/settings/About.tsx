/** Settings → About: app version, llama.cpp commit, backends and devices (from app.info). */
import { formatBytes } from '../../app/format';
import { useAppSelector } from '../../app/hooks';

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
          <table aria-label="Devices" className="table">
            <thead>
              <tr>
                <th scope="col">Backend</th>
                <th scope="col">Device</th>
                <th scope="col">Type</th>
                <th scope="col">Memory free / total</th>
              </tr>
            </thead>
            <tbody>
              {info.devices.map((d) => (
                <tr key={`${d.backend}/${d.name}`}>
                  <td>{d.backend}</td>
                  <td>{d.description || d.name}</td>
                  <td>{d.type}</td>
                  <td>
                    {formatBytes(d.memoryFree)} / {formatBytes(d.memoryTotal)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}
