/**
 * The memory a load would use, one bar per device and one for system RAM: model weights, KV cache
 * (the context), compute buffers, the vision projector (when the model has one), and what stays free. Each bar is a group named "Memory on <device>"
 * with an image whose text alternative carries the numbers, and a legend with the same numbers.
 */
import type { MemoryEstimateDTO } from '../../../../main/ipc/contract';
import { MEMORY_PARTS } from '../../../../main/params';
import { formatMem } from './loadForm';

type Part = MemoryEstimateDTO['host'];
type MemoryPart = (typeof MEMORY_PARTS)[number];

/** Each part of the memory a load takes (MEMORY_PARTS, main/params/devices.ts) as the bar shows it. */
const SEGMENT_OF: Record<MemoryPart, { label: string; words: string }> = {
  model: { label: 'Weights', words: 'weights' },
  context: { label: 'KV cache', words: 'KV cache' },
  compute: { label: 'Compute', words: 'compute' },
  projector: { label: 'Projector', words: 'vision projector' },
};
/** A bar's segments: the projector's only where a projector takes memory there. */
function segmentsOf(p: Part) {
  return MEMORY_PARTS.filter((key) => key !== 'projector' || p.projector > 0).map((key) => ({ key, ...SEGMENT_OF[key] }));
}

/** Words for one bar: what the load needs, split, and what stays free (or how much is missing). */
export function describeMemory(name: string, p: Part): string {
  const parts = segmentsOf(p).map((s) => `${s.words} ${formatMem(p[s.key])}`).join(', ');
  const left = p.free - p.total;
  const tail = left >= 0 ? `${formatMem(left)} of ${formatMem(p.free)} free left` : `${formatMem(-left)} more than the ${formatMem(p.free)} free`;
  return `${name}: needs ${formatMem(p.total)} (${parts}); ${tail}`;
}

export function MemoryBar({ name, detail, part, marginBytes }: { name: string; detail?: string; part: Part; marginBytes?: number }) {
  const capacity = Math.max(part.free, part.total, 1);
  const over = part.total > part.free;
  const pct = (n: number) => `${Math.max(0, (n / capacity) * 100)}%`;
  const left = Math.max(0, part.free - part.total);
  const segments = segmentsOf(part);
  const tight = !over && marginBytes !== undefined && marginBytes > 0 && left < marginBytes;
  return (
    <figure className={`membar${over ? ' over' : tight ? ' tight' : ''}`} role="group" aria-label={`Memory on ${name}`}>
      <figcaption className="membar-head">
        <span className="membar-name" title={detail}>
          {name}
          {detail && <span className="muted"> · {detail}</span>}
        </span>
        <span className="membar-total">
          {formatMem(part.total)} / {formatMem(part.free)} free
        </span>
      </figcaption>
      <div className="membar-track" role="img" aria-label={describeMemory(name, part)}>
        {segments.map((s) => (
          <div key={s.key} className={`membar-seg seg-${s.key}${part[s.key] > 0 ? ' nonzero' : ''}`} style={{ width: pct(part[s.key]) }} />
        ))}
      </div>
      <ul className="membar-legend">
        {segments.map((s) => (
          <li key={s.key}>
            <span className={`swatch-dot seg-${s.key}`} aria-hidden="true" />
            {s.label} <b>{formatMem(part[s.key])}</b>
          </li>
        ))}
        <li>
          <span className="swatch-dot seg-free" aria-hidden="true" />
          {over ? 'Missing' : 'Free'} <b>{formatMem(over ? part.total - part.free : left)}</b>
        </li>
      </ul>
    </figure>
  );
}

/** Every device's bar, then system RAM's, with llama.cpp's fitting decision and any problem in words. */
export function MemoryBars({ estimate, marginMiB }: { estimate: MemoryEstimateDTO; marginMiB?: number }) {
  const margin = marginMiB !== undefined ? marginMiB * 1024 * 1024 : undefined;
  return (
    <div className="membars">
      {estimate.devices.map((d) => (
        <MemoryBar key={`${d.backend}/${d.name}`} name={d.name} detail={d.description} part={d} marginBytes={margin} />
      ))}
      <MemoryBar name="System RAM" part={estimate.host} />
    </div>
  );
}
