/** The devices llama.cpp sees, with their memory: shown by Settings → About and the Hardware page. */
import { formatMem } from '../features/modelSettings/loadForm';

export interface DeviceRow {
  backend: string;
  name: string;
  description: string;
  type: string;
  memoryTotal: number;
  memoryFree: number;
}

export function DevicesTable({ devices, label }: { devices: DeviceRow[]; label: string }): JSX.Element {
  return (
    <table aria-label={label} className="table devices-table">
      <thead>
        <tr>
          <th scope="col">Device</th>
          <th scope="col">Backend</th>
          <th scope="col">Type</th>
          <th scope="col">Memory free / total</th>
        </tr>
      </thead>
      <tbody>
        {devices.map((d) => (
          <tr key={`${d.backend}/${d.name}`}>
            <td>
              <b>{d.name}</b> <span className="muted">{d.description}</span>
            </td>
            <td>{d.backend}</td>
            <td>{d.type}</td>
            <td>
              {formatMem(d.memoryFree)} / {formatMem(d.memoryTotal)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
