/**
 * Settings → Hardware: the backend pin (offering the backends this build has, as the engine reports
 * them: hardware.info `built`) and the backend in use (with why), the CPU, RAM, backends
 * and devices, the remote devices (rpc-server endpoints, RemoteDevices.tsx), and live usage charts. Usage is polled once a second only while this page is shown
 * (./listeners.ts).
 */
import { useAppDispatch, useAppSelector, useViewShown } from '../../app/hooks';
import { formatMem } from '../modelSettings/loadForm';
import { BackendPin, fetchAppInfo, selectSettings, updateSettings } from '../settings/settingsSlice';
import { fetchHardwareInfo, selectHardware } from './hardwareSlice';
import { Sparkline } from './Sparkline';
import { DevicesTable } from '../../components/DevicesTable';
import { RemoteDevices } from './RemoteDevices';
import { pinLabel, pinsFor } from '../../../../main/params/backends';

function pct(used: number, total: number): string {
  return total > 0 ? `${Math.round((used / total) * 100)}%` : '–';
}

function LiveUsage() {
  const { samples, usageError } = useAppSelector(selectHardware);
  const last = samples[samples.length - 1];
  const deviceNames = last?.devices.map((d) => d.name) ?? [];
  return (
    <section aria-label="Live usage" className="live">
      <h4>Live usage</h4>
      {usageError && (
        <p role="alert" className="inline-error">
          {usageError}
        </p>
      )}
      {!last && !usageError && <p className="muted">Sampling…</p>}
      {last && (
        <div className="charts">
          <figure className="chart">
            <figcaption>
              <span>CPU</span>
              <b>{Math.round(last.cpuPercent)}%</b>
            </figcaption>
            <Sparkline values={samples.map((s) => s.cpuPercent)} max={100} label={`CPU use over the last ${samples.length} s: now ${Math.round(last.cpuPercent)}%`} />
          </figure>
          <figure className="chart">
            <figcaption>
              <span>RAM</span>
              <b>
                {formatMem(last.ram.used)} / {formatMem(last.ram.total)}
              </b>
            </figcaption>
            <Sparkline
              values={samples.map((s) => s.ram.used)}
              max={last.ram.total}
              label={`RAM use over the last ${samples.length} s: now ${formatMem(last.ram.used)} of ${formatMem(last.ram.total)} (${pct(last.ram.used, last.ram.total)})`}
            />
          </figure>
          {deviceNames.map((name) => {
            const d = last.devices.find((x) => x.name === name)!;
            return (
              <figure className="chart" key={name}>
                <figcaption>
                  <span>
                    {name} <span className="muted">{d.backend}</span>
                  </span>
                  <b>
                    {formatMem(d.used)} / {formatMem(d.total)}
                  </b>
                </figcaption>
                <Sparkline
                  values={samples.map((s) => s.devices.find((x) => x.name === name)?.used ?? 0)}
                  max={d.total}
                  label={`${name} memory use over the last ${samples.length} s: now ${formatMem(d.used)} of ${formatMem(d.total)} (${pct(d.used, d.total)})`}
                />
              </figure>
            );
          })}
        </div>
      )}
    </section>
  );
}

export function HardwarePanel() {
  useViewShown('hardware');
  const dispatch = useAppDispatch();
  const { info, infoStatus, infoError } = useAppSelector(selectHardware);
  const settings = useAppSelector(selectSettings);
  const saveError = useAppSelector((s) => s.settings.saveError);

  // the backends this build has, as the engine found them; a saved pin this build lacks stays shown, marked
  const built = info?.built ?? [];
  const current = settings?.backend ?? 'auto';
  const offered = info ? pinsFor(built) : [current];
  const pins = offered.includes(current) ? offered : [...offered, current];
  const labelOf = (p: BackendPin) => (info && !offered.includes(p) ? `${pinLabel(p, built)} (not in this build)` : pinLabel(p, built));

  const pin = async (backend: BackendPin) => {
    const r = await dispatch(updateSettings({ backend }));
    if (updateSettings.fulfilled.match(r)) {
      void dispatch(fetchHardwareInfo());
      void dispatch(fetchAppInfo());
    }
  };

  return (
    <div className="hardware">
      <div className="field backend-field">
        <label htmlFor="backend-pin">Backend</label>
        <select id="backend-pin" value={current} disabled={!settings || !info} aria-describedby="backend-pin-hint" onChange={(e) => void pin(e.target.value as BackendPin)}>
          {pins.map((p) => (
            <option key={p} value={p}>
              {labelOf(p)}
            </option>
          ))}
        </select>
        <span className="hint" id="backend-pin-hint">
          Changing it restarts the engine; a loaded model loads again on the new backend.
        </span>
      </div>
      {saveError && (
        <p role="alert" className="inline-error">
          {saveError}
        </p>
      )}
      {infoError && (
        <p role="alert" className="inline-error">
          {infoError}
        </p>
      )}
      {infoStatus === 'loading' && !info && <p role="status">Asking the engine…</p>}
      {info && (
        <>
          <dl className="facts">
            <dt>In use</dt>
            <dd>{info.backendChoice ? <>{info.backendChoice.reason}</> : 'unknown'}</dd>
            <dt>Backends</dt>
            <dd>
              <ul aria-label="Available backends" className="chips">
                {info.backends.map((b) => (
                  <li key={b}>{b}</li>
                ))}
              </ul>
            </dd>
            <dt>CPU</dt>
            <dd>
              {info.cpu.model} · {info.cpu.cores} {info.cpu.cores === 1 ? 'core' : 'cores'}, {info.cpu.threads} threads
            </dd>
            <dt>Generation threads</dt>
            <dd>{info.cpu.defaultThreads} unless a model's settings say otherwise</dd>
            <dt>Instruction sets</dt>
            <dd>
              <ul aria-label="Instruction sets" className="chips small">
                {info.cpu.instructionSets.map((s) => (
                  <li key={s}>{s}</li>
                ))}
              </ul>
            </dd>
            <dt>RAM</dt>
            <dd>
              {formatMem(info.ram.total)} · {formatMem(info.ram.free)} available
            </dd>
          </dl>
          <h4>Devices</h4>
          <DevicesTable devices={info.devices} label="Hardware devices" />
          {info.devices.length === 0 && <p className="muted">No devices: the engine is not running.</p>}
        </>
      )}
      <RemoteDevices />
      <LiveUsage />
      <p className="muted small-note">One sample a second while this page is open; the charts show the last minute.</p>
    </div>
  );
}
