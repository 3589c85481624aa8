/**
 * A small SVG line chart of the last samples (oldest on the left, newest on the right; it spreads
 * over the whole width from the second sample on), named for screen readers.
 */

export function Sparkline({ values, max, label, width = 240, height = 44 }: { values: number[]; max: number; label: string; width?: number; height?: number }) {
  const top = max > 0 ? max : 1;
  const step = width / Math.max(1, values.length - 1);
  const x0 = width - (values.length - 1) * step;
  const pts = values.map((v, i) => {
    const y = height - 2 - (Math.max(0, Math.min(v, top)) / top) * (height - 4);
    return `${(x0 + i * step).toFixed(1)},${y.toFixed(1)}`;
  });
  const line = pts.join(' ');
  const area = values.length > 1 ? `M${pts[0]} L${pts.slice(1).join(' L')} L${width},${height} L${x0.toFixed(1)},${height} Z` : '';
  return (
    <svg className="sparkline" role="img" aria-label={label} data-samples={values.length} viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" width="100%" height={height}>
      <line x1={0} x2={width} y1={height - 1} y2={height - 1} className="spark-base" />
      {area && <path d={area} className="spark-area" />}
      {values.length > 1 && <polyline points={line} className="spark-line" fill="none" />}
      {values.length === 1 && <circle cx={width - 2} cy={pts[0].split(',')[1]} r={2} className="spark-dot" />}
    </svg>
  );
}
