// Grouped bar chart of the benchmark as a standalone SVG: GFLOP/s per runner, one group per workload,
// with the wasm GEMM micro-benchmark's best as dashed lines (what the kernels reach on a square GEMM
// with 128-bit SIMD). GFLOP/s rather than ms so that workloads of different sizes share one axis.
// `run.ts` writes it next to each results file; `chart.ts <results.md>` redraws one from its raw lines.

import { readFileSync, writeFileSync } from 'node:fs';

export interface ChartCell {
  runner: string;
  workload: string;
  gflops?: number;
  maxAbsErr?: number;
}
export interface ChartGemm {
  backend: string;
  gflops: number;
}

const COLORS: Record<string, string> = {
  'recur-wasm': '#d9480f',
  'recur-wasm-relaxed': '#f08c00',
  'recur-js': '#e8590c99',
  'recur-wasm-frames': '#ffa94d',
  'recur-js-frames': '#ffd8a8',
  'ort-node': '#1864ab',
  'ort-web-1t': '#4dabf7',
  'ort-web-2t': '#a5d8ff',
  'tfjs-wasm': '#2b8a3e',
  'tfjs-cpu': '#8ce99a',
  'brain.js': '#868e96',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function chartSvg(cells: ChartCell[], runners: string[], workloads: string[], gemm: ChartGemm[], title: string): string {
  const get = (r: string, w: string) => cells.find((c) => c.runner === r && c.workload === w);
  const shown = runners.filter((r) => workloads.some((w) => get(r, w)?.gflops !== undefined));
  const ceilings = new Map<string, number>();
  for (const g of gemm) if (g.backend.startsWith('wasm')) ceilings.set(g.backend, Math.max(ceilings.get(g.backend) ?? 0, g.gflops));
  const top = Math.max(10, ...cells.map((c) => c.gflops ?? 0), ...ceilings.values());
  const yMax = Math.ceil(top / 10) * 10;
  const bar = 11;
  const gap = 18;
  const left = 48;
  const plotTop = 40;
  const plotH = 260;
  const groupW = shown.length * bar + gap;
  const width = left + workloads.length * groupW + 20;
  const legendRows = Math.ceil(shown.length / 4);
  const height = plotTop + plotH + 40 + legendRows * 18 + 10;
  const y = (v: number) => plotTop + plotH - (v / yMax) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="11" role="img" aria-labelledby="chart-title">`,
    `<title id="chart-title">${esc(title)}: GFLOP/s of ${shown.map(esc).join(', ')} on ${workloads.map(esc).join(', ')}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="600">${esc(title)}</text>`,
    `<text x="${left}" y="32" fill="#555">GFLOP/s per forward (higher is better); ⚠ = output differs from PyTorch's semantics</text>`,
  ];
  for (let v = 0; v <= yMax; v += yMax > 60 ? 20 : 10) {
    parts.push(`<line x1="${left}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#555">${v}</text>`);
  }
  workloads.forEach((w, gi) => {
    const x0 = left + gi * groupW + gap / 2;
    shown.forEach((r, ri) => {
      const c = get(r, w);
      if (c?.gflops === undefined) return;
      const x = x0 + ri * bar;
      const h = Math.max(1, (c.gflops / yMax) * plotH);
      parts.push(
        `<rect x="${x}" y="${y(c.gflops)}" width="${bar - 2}" height="${h}" fill="${COLORS[r] ?? '#999'}"><title>${esc(r)} on ${esc(w)}: ${c.gflops.toFixed(1)} GFLOP/s</title></rect>`,
      );
      if ((c.maxAbsErr ?? 0) > 1e-4) parts.push(`<text x="${x + bar / 2 - 1}" y="${y(c.gflops) - 3}" text-anchor="middle" font-size="9">⚠</text>`);
    });
    parts.push(`<text x="${x0 + (shown.length * bar) / 2}" y="${plotTop + plotH + 15}" text-anchor="middle">${esc(w)}</text>`);
  });
  for (const [name, v] of ceilings) {
    parts.push(`<line x1="${left}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#d9480f" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${width - 12}" y="${y(v) - 3}" text-anchor="end" fill="#d9480f">${esc(name)} GEMM ${v.toFixed(0)}</text>`);
  }
  shown.forEach((r, i) => {
    const lx = left + (i % 4) * 150;
    const ly = plotTop + plotH + 34 + Math.floor(i / 4) * 18;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[r] ?? '#999'}"/>`);
    parts.push(`<text x="${lx + 14}" y="${ly}">${esc(r)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** Redraws the chart of a results file from its raw JSON lines. */
function fromResults(file: string): void {
  const text = readFileSync(file, 'utf8');
  const raw = text.split('## Raw results')[1] ?? '';
  const cells: ChartCell[] = [];
  const gemm: ChartGemm[] = [];
  for (const line of raw.split('\n').filter((l) => l.startsWith('{'))) {
    const o = JSON.parse(line) as ChartCell & { gemm?: ChartGemm; memory?: unknown };
    if (o.gemm) gemm.push(o.gemm);
    else if (o.runner) cells.push(o);
  }
  const uniq = (xs: string[]) => [...new Set(xs)];
  const lines = text.split('\n');
  const heading = lines.find((l) => l.startsWith('# '))?.slice(2) ?? 'recur benchmark';
  // The line under the heading reads "<date> · <machine> · commit <sha>".
  const machine = lines.find((l) => / · .* · commit /.test(l))?.split(' · ')[1];
  const title = machine ? `${heading} · ${machine}` : heading;
  const out = file.replace(/\.md$/, '.svg');
  writeFileSync(out, chartSvg(cells, uniq(cells.map((c) => c.runner)), uniq(cells.map((c) => c.workload)), gemm, title));
  console.log(`wrote ${out}`);
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv[2]) fromResults(process.argv[2]);
