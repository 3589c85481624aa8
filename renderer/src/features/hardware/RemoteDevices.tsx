/**
 * Settings → Hardware → Remote devices: rpc-server endpoints (host:port, one a line) whose memory the
 * engine pools with this machine's (llama.cpp's RPC backend). Saving restarts the engine, which
 * probes each endpoint first; what the probe found (hardware.info `rpc`) shows under the list.
 */
import { useEffect, useState } from 'react';
import { useAppDispatch, useAppSelector } from '../../app/hooks';
import { RpcEndpoints } from '../../../../main/params/rpc';
import { fetchAppInfo, selectSettings, updateSettings } from '../settings/settingsSlice';
import { fetchHardwareInfo, selectHardware } from './hardwareSlice';

const parse = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

export function RemoteDevices() {
  const dispatch = useAppDispatch();
  const settings = useAppSelector(selectSettings);
  const { info } = useAppSelector(selectHardware);
  const saved = settings?.rpcServers ?? [];
  const savedText = saved.join('\n');
  const [text, setText] = useState(savedText);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  useEffect(() => setText(savedText), [savedText]);

  const save = async () => {
    const list = parse(text);
    const r = RpcEndpoints.safeParse(list);
    if (!r.success) {
      const i = r.error.issues[0];
      setError(`${typeof i.path[0] === 'number' ? `${list[i.path[0]]}: ` : ''}${i.message}`);
      return;
    }
    setError(null);
    setSaving(true);
    try {
      const done = await dispatch(updateSettings({ rpcServers: r.data }));
      // the engine restarted with the new list: the GPUs' numbers (Main GPU's list) change with it
      if (updateSettings.fulfilled.match(done)) {
        void dispatch(fetchHardwareInfo());
        void dispatch(fetchAppInfo());
      }
    } finally {
      setSaving(false);
    }
  };

  const probes = info?.rpc ?? [];
  return (
    <section aria-label="Remote devices" className="remote-devices">
      <h4>Remote devices</h4>
      <div className="field">
        <label htmlFor="rpc-servers">rpc-server endpoints</label>
        <textarea
          id="rpc-servers"
          rows={Math.max(2, Math.min(6, parse(text).length + 1))}
          value={text}
          placeholder="192.168.1.20:50052"
          spellCheck={false}
          aria-describedby="rpc-servers-hint"
          aria-invalid={error ? true : undefined}
          disabled={!settings || saving}
          onChange={(e) => setText(e.target.value)}
        />
        <span className="hint" id="rpc-servers-hint">
          host:port, one a line: machines running <code>hearth rpc-server</code> lend their memory and compute, and a model&apos;s layers split across them and this machine. The RPC
          protocol has no authentication: add only machines on a network you trust. Saving restarts the engine.
        </span>
        <button type="button" onClick={() => void save()} disabled={!settings || saving || parse(text).join('\n') === savedText}>
          {saving ? 'Connecting…' : 'Save remote devices'}
        </button>
      </div>
      {error && (
        <p role="alert" className="inline-error">
          {error}
        </p>
      )}
      {probes.length > 0 && (
        <ul aria-label="Remote device status" className="remote-status">
          {probes.map((p) => (
            <li key={p.endpoint}>
              <b>{p.endpoint}</b> {p.ok ? `connected: ${p.devices ?? 0} ${p.devices === 1 ? 'device' : 'devices'} (listed under Devices)` : p.error}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
