// What a forward pass gave: heatmaps of output, h_n and c_n for the first batch entry, and PyTorch's
// identities between output and h_n checked on the numbers.

import { type Config, isCell, numDirections, numLayers, outputSize } from './config.js';
import { byId, html } from './dom.js';
import { drawHeatmap } from './heatmap.js';
import type { RunResult } from './protocol.js';

/** Rows of `[T, B, F]` (time-major) for batch entry b as `[T, F]`. */
function series(values: Float32Array, T: number, B: number, F: number, b: number, batchFirst: boolean): Float32Array {
  const out = new Float32Array(T * F);
  for (let t = 0; t < T; t++) {
    const at = (batchFirst ? b * T + t : t * B + b) * F;
    out.set(values.subarray(at, at + F), t * F);
  }
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The sizes of a result for `c`: steps, batch, directions, layers, units per direction (P) and per step (F). */
function dims(c: Config) {
  const cell = isCell(c.kind);
  const D = numDirections(c);
  const P = cell ? c.hiddenSize : outputSize(c);
  return { cell, T: c.seqLen, B: c.batch, D, P, F: D * P, L: numLayers(c), batchFirst: !cell && c.batchFirst };
}

function heatmaps(c: Config, r: RunResult): HTMLElement[] {
  const { cell, T, B, D, P, F, L, batchFirst } = dims(c);
  const figures: HTMLElement[] = [];
  const add = (caption: string, values: Float32Array, steps: number, units: number) => {
    const canvas = html('canvas');
    drawHeatmap(canvas, { values, steps, units }, caption);
    figures.push(html('figure', {}, canvas, html('figcaption', {}, caption)));
  };
  add(`output over time (batch 0): ${T} steps × ${F} units`, series(r.out, T, B, F, 0, batchFirst), T, F);
  if (cell) add("h' (batch 0)", r.hN.slice(0, P), 1, P);
  else add(`h_n (batch 0): ${L * D} layer×direction columns`, series(r.hN, L * D, B, P, 0, false), L * D, P);
  if (r.cN) add(cell ? "c' (batch 0)" : 'c_n (batch 0)', cell ? r.cN.slice(0, c.hiddenSize) : series(r.cN, L * D, B, c.hiddenSize, 0, false), cell ? 1 : L * D, c.hiddenSize);
  return figures;
}

function identities(c: Config, r: RunResult): HTMLLIElement[] {
  const { cell, T, B, D, P, F, L, batchFirst } = dims(c);
  const checks: HTMLLIElement[] = [];
  const check = (ok: boolean, identity: string | null, text: string) =>
    checks.push(html('li', { class: ok ? 'ok' : 'bad', ...(identity ? { 'data-identity': identity } : {}) }, text));
  const outAt = (t: number, from: number, n: number) => {
    const rows = new Float32Array(B * n);
    for (let b = 0; b < B; b++) {
      const at = (batchFirst ? b * T + t : t * B + b) * F + from;
      rows.set(r.out.subarray(at, at + n), b * n);
    }
    return rows;
  };
  const hAt = (idx: number) => r.hN.subarray(idx * B * P, (idx + 1) * B * P);
  if (cell) {
    const d = maxAbsDiff(outAt(T - 1, 0, P), r.hN);
    check(d === 0, null, `h after the last step == h' (max diff ${d})`);
    return checks;
  }
  const fwd = maxAbsDiff(outAt(T - 1, 0, P), hAt(L * D - D));
  check(fwd === 0, 'forward', `out[-1, :, :${P}] == h_n[${L * D - D}]${D === 1 ? ' (= h_n[-1])' : ' (= h_n[-2])'}: max diff ${fwd}`);
  if (D === 2) {
    const rev = maxAbsDiff(outAt(0, P, P), hAt(L * D - 1));
    const notLast = maxAbsDiff(outAt(T - 1, P, P), hAt(L * D - 1));
    check(rev === 0, 'reverse', `out[0, :, ${P}:] == h_n[-1]: max diff ${rev}`);
    checks.push(
      html('li', { class: 'muted' }, `out[-1, :, ${P}:] vs h_n[-1]: max diff ${notLast.toExponential(2)} — the reverse direction ends at step 0, so out[-1] == h_n[-1] does not hold here`),
    );
  }
  return checks;
}

/** Shows the heatmaps and identity checks of `r`, the result of running `c`. */
export function showResult(c: Config, r: RunResult): void {
  byId('heatmaps').replaceChildren(...heatmaps(c, r));
  byId('identities').replaceChildren(html('ul', {}, ...identities(c, r)));
}
