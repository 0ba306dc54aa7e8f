// The benchmark panel: time per forward against sequence length on every listed backend, for the
// current sizes, with a progress bar while the worker measures, a line chart of the result, and a
// table of the thread counts: each backend's time on the longest sequence against wasm on one thread.

import { listedBackends } from './backend-picker.js';
import { validate } from './config.js';
import { byId, html, showError, svg } from './dom.js';
import type { Form } from './form.js';
import type { ThreadsReport } from './protocol.js';
import { threadsRan, threadsUsed } from './threads.js';
import type { Ask } from './worker-client.js';

type Point = { backend: string; seqLen: number; ms: number };

async function bench(ask: Ask, form: Form): Promise<void> {
  const c = form.lastValid();
  const lengths = [25, 50, 100, 200].filter((T) => Object.keys(validate({ ...c, seqLen: T })).length === 0);
  const backends = listedBackends();
  const progress = byId<HTMLProgressElement>('bench-progress');
  const label = byId('bench-label');
  progress.hidden = false;
  progress.value = 0;
  const r = await form.whileBusy(() =>
    ask({ type: 'bench', config: c, lengths, backends }, (p) => {
      if (p.type !== 'progress') return;
      progress.value = p.done / p.total;
      label.textContent = `${p.done} / ${p.total}: ${p.label}`;
    }),
  );
  progress.hidden = true;
  if (r.type === 'error') return showError(label, `Benchmark failed: ${r.message}`);
  if (r.type !== 'bench') return;
  label.textContent = `${c.kind}(${c.inputSize}, ${c.hiddenSize}), batch ${c.batch}: median of 3 runs per point`;
  drawChart(r.points);
  fillThreadsTable(r.points, r.threads);
}

/** The backend the speed-ups are measured against: wasm on one thread. */
const BASELINE = 'wasm-1t';

function fillThreadsTable(points: Point[], threads: Record<string, ThreadsReport>): void {
  const table = byId<HTMLTableElement>('bench-threads');
  const maxT = Math.max(...points.map((p) => p.seqLen));
  const last = points.filter((p) => p.seqLen === maxT);
  const baseline = last.find((p) => p.backend === BASELINE)?.ms;
  const rows = last.map((p) => {
    const t = threads[p.backend];
    const speedUp = baseline ? `${(baseline / p.ms).toFixed(2)}×` : '–';
    return html(
      'tr',
      { 'data-backend': p.backend, 'data-threads': String(t ? threadsUsed(t) : 1) },
      html('td', {}, html('code', {}, p.backend)),
      html('td', {}, t ? threadsRan(t).replace(/^on /, '') : '1 (JavaScript)'),
      html('td', {}, p.ms.toFixed(2)),
      html('td', {}, speedUp),
    );
  });
  table.tBodies[0]!.replaceChildren(...rows);
  table.caption!.textContent = `Threads: T = ${maxT} on each backend; speed-up against ${BASELINE} (wasm on one thread)`;
  table.hidden = false;
}

function drawChart(points: Point[]): void {
  const chart = byId('bench-chart') as unknown as SVGSVGElement;
  const W = 640;
  const H = 240;
  const pad = { l: 56, r: 170, t: 12, b: 36 };
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const maxT = Math.max(...points.map((p) => p.seqLen));
  const maxMs = Math.max(...points.map((p) => p.ms)) * 1.1 || 1;
  const x = (t: number) => pad.l + (t / maxT) * (W - pad.l - pad.r);
  const y = (ms: number) => H - pad.b - (ms / maxMs) * (H - pad.t - pad.b);
  const colors: Record<string, string> = { wasm: '#d9480f', js: '#1c7ed6', 'wasm-1t': '#2b8a3e', 'wasm-2t': '#862e9c' };
  const parts: SVGElement[] = [
    svg('line', { class: 'axis', x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b }),
    svg('line', { class: 'axis', x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b }),
    svg('text', { x: (W - pad.r + pad.l) / 2, y: H - 6, 'text-anchor': 'middle' }, 'sequence length T'),
    svg('text', { x: 12, y: pad.t + 10 }, 'ms'),
    svg('text', { x: pad.l - 6, y: y(maxMs / 1.1) + 4, 'text-anchor': 'end' }, (maxMs / 1.1).toPrecision(2)),
    svg('text', { x: pad.l - 6, y: H - pad.b + 4, 'text-anchor': 'end' }, '0'),
  ];
  let legend = 0;
  for (const backend of [...new Set(points.map((p) => p.backend))]) {
    const ps = points.filter((p) => p.backend === backend);
    const color = colors[backend] ?? '#495057';
    parts.push(svg('polyline', { fill: 'none', stroke: color, 'stroke-width': 2, points: ps.map((p) => `${x(p.seqLen)},${y(p.ms)}`).join(' ') }));
    for (const p of ps) {
      parts.push(
        svg('circle', { cx: x(p.seqLen), cy: y(p.ms), r: 3, fill: color }, svg('title', {}, `${backend}, T=${p.seqLen}: ${p.ms.toFixed(2)} ms`)),
        svg('text', { x: x(p.seqLen), y: H - pad.b + 14, 'text-anchor': 'middle' }, String(p.seqLen)),
      );
    }
    const lastP = ps[ps.length - 1]!;
    parts.push(svg('text', { x: W - pad.r + 8, y: pad.t + 14 + 16 * legend++, fill: color }, `${backend}: ${lastP.ms.toPrecision(3)} ms at T=${lastP.seqLen}`));
  }
  chart.replaceChildren(...parts);
  chart.setAttribute('aria-label', `Time per forward against sequence length: ${points.map((p) => `${p.backend} T=${p.seqLen} ${p.ms.toFixed(1)} ms`).join(', ')}`);
}

export function setUpBenchPanel(ask: Ask, form: Form): void {
  byId('bench-button').addEventListener('click', () => void bench(ask, form));
}
