// A metric curve as an inline SVG line chart (no chart library): the line over the steps, the first and last
// step and the lowest and highest value on the axes. Screen readers get the chart's name and summary
// (role="img" with a title) and every point in a visually hidden table.
import { metricValue, type SeriesPoint } from './format';

const W = 480;
const H = 200;
const PAD = { left: 56, right: 12, top: 12, bottom: 30 };

export function MetricChart({ id, metric, points }: { id: string; metric: string; points: SeriesPoint[] }) {
  if (points.length === 0) return null;
  const steps = points.map((p) => p.step);
  const values = points.map((p) => p.value);
  const [x0, x1] = [Math.min(...steps), Math.max(...steps)];
  const [y0, y1] = [Math.min(...values), Math.max(...values)];
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (step: number) => PAD.left + (x1 === x0 ? plotW / 2 : ((step - x0) / (x1 - x0)) * plotW);
  const y = (value: number) => PAD.top + (y1 === y0 ? plotH / 2 : (1 - (value - y0) / (y1 - y0)) * plotH);
  const line = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.step).toFixed(1)},${y(p.value).toFixed(1)}`);
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const summary =
    `${metric} over ${points.length} point${points.length === 1 ? '' : 's'}, steps ${first.step} to ${last.step}: ` +
    `from ${metricValue(first.value)} to ${metricValue(last.value)} (lowest ${metricValue(y0)}, highest ${metricValue(y1)})`;
  const titleId = `${id}-title`;
  return (
    <figure class="metric-chart">
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-labelledby={titleId}
        aria-label={`${metric} curve: ${summary}`}
        data-metric={metric}
      >
        <title id={titleId}>{`${metric} curve: ${summary}`}</title>
        <g class="axis" aria-hidden="true">
          <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} />
          <line x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} />
          <text x={PAD.left - 6} y={PAD.top + 4} text-anchor="end">
            {metricValue(y1)}
          </text>
          <text x={PAD.left - 6} y={H - PAD.bottom} text-anchor="end">
            {metricValue(y0)}
          </text>
          <text x={PAD.left} y={H - 8} text-anchor="start">
            {`step ${x0}`}
          </text>
          <text x={W - PAD.right} y={H - 8} text-anchor="end">
            {`step ${x1}`}
          </text>
        </g>
        <path class="line" d={line.join(' ')} aria-hidden="true" />
        {points.length <= 60
          ? points.map((p) => (
              <circle class="dot" cx={x(p.step)} cy={y(p.value)} r={2.5} aria-hidden="true" key={p.step} />
            ))
          : null}
      </svg>
      <figcaption class="muted">{summary}</figcaption>
      <div class="visually-hidden">
        <table>
          <caption>{`${metric}: every recorded point`}</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">{metric}</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.step}>
                <td>{p.step}</td>
                <td>{metricValue(p.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
