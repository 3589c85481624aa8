import React, { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { AppInfo } from '../../main/ipc/contract';
import { call } from './app/bridge';

function gib(n: number): string {
  return `${(n / 2 ** 30).toFixed(1)} GiB`;
}

export function About(): JSX.Element {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call('app.info', {}).then(setInfo, (e: Error) => setError(e.message));
  }, []);
  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 760, margin: '2rem auto', padding: '0 1rem' }}>
      <h1>Hearth</h1>
      {error && <p role="alert">{error}</p>}
      {!info && !error && <p role="status">Starting the engine…</p>}
      {info && (
        <section aria-label="Engine">
          <p>
            Version {info.appVersion} · llama.cpp <code>{info.llamaCommit}</code> · data folder <code>{info.dataDir}</code>
          </p>
          {info.engineError && <p role="alert">Engine unavailable: {info.engineError}</p>}
          <h2>Backends</h2>
          <ul aria-label="Backends">{info.backends.map((b) => <li key={b}>{b}</li>)}</ul>
          <h2>Devices</h2>
          <table aria-label="Devices">
            <thead>
              <tr><th scope="col">Backend</th><th scope="col">Device</th><th scope="col">Type</th><th scope="col">Memory free / total</th></tr>
            </thead>
            <tbody>
              {info.devices.map((d) => (
                <tr key={`${d.backend}/${d.name}`}>
                  <td>{d.backend}</td><td>{d.description || d.name}</td><td>{d.type}</td><td>{gib(d.memoryFree)} / {gib(d.memoryTotal)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </main>
  );
}

const el = document.getElementById('root');
if (el) createRoot(el).render(<About />);
