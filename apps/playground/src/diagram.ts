// The network unrolled over time as SVG: layers by time steps, both directions, with the tensor
// shapes of input, output, h_n and c_n labelled, and PyTorch's output/h_n identities highlighted.

import { type Config, fmt, isCell, numDirections, numLayers, outputSize, shapesOf } from './config.js';

const NS = 'http://www.w3.org/2000/svg';
const CELL_W = 64;
const CELL_H = 30;
const GAP_X = 30;
const ROW_H = 52;

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Time steps drawn: all of them up to 8, else the first three, a gap, and the last three. */
export function visibleSteps(T: number): Array<number | null> {
  if (T <= 8) return Array.from({ length: T }, (_, t) => t);
  return [0, 1, 2, null, T - 3, T - 2, T - 1];
}

export function drawDiagram(svg: SVGSVGElement, c: Config): void {
  svg.replaceChildren();
  const D = numDirections(c);
  const L = numLayers(c);
  const steps = visibleSteps(c.seqLen);
  const shapes = shapesOf(c);
  const P = outputSize(c);
  const rows = L * D;
  const left = 190;
  const top = 60;
  const width = left + steps.length * (CELL_W + GAP_X) + 170;
  const height = top + rows * ROW_H + 110;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  // Natural size, scaled down to fit but never up (a two-step RNN should not fill the screen).
  svg.setAttribute('width', String(width));
  svg.setAttribute('role', 'img');
  const cell = isCell(c.kind);
  svg.setAttribute(
    'aria-label',
    `${c.kind} unrolled over ${c.seqLen} steps, ${L} layer${L > 1 ? 's' : ''}${D === 2 ? ', both directions' : ''}; input ${fmt(shapes.input)}, output ${fmt(shapes.output)}, h_n ${fmt(shapes.hN)}`,
  );
  const defs = el('defs', {});
  for (const [id, color] of [['arrow', '#64748b'], ['arrow-hi', '#d9480f'], ['arrow-rev', '#7048e8']] as const) {
    const marker = el('marker', { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse' });
    marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }));
    defs.append(marker);
  }
  svg.append(defs);

  const xOf = (i: number) => left + i * (CELL_W + GAP_X);
  // Row r from the bottom: layer l direction d.
  const yOf = (l: number, d: number) => top + (rows - 1 - (l * D + d)) * ROW_H;
  const last = steps.length - 1;

  // Time labels and inputs.
  steps.forEach((t, i) => {
    const x = xOf(i) + CELL_W / 2;
    svg.append(el('text', { x, y: top + rows * ROW_H + 42, class: 'step', 'text-anchor': 'middle' }, t === null ? '…' : `x[${t}]`));
    if (t !== null) {
      svg.append(el('line', { x1: x, y1: top + rows * ROW_H + 28, x2: x, y2: yOf(0, 0) + CELL_H + 2, class: 'wire', 'marker-end': 'url(#arrow)' }));
      // Each layer's output (both directions) feeds the next layer at the same step.
      for (let r = D - 1; r < rows - 1; r += D) {
        const yLow = top + (rows - 1 - r) * ROW_H;
        svg.append(el('line', { x1: x + (D === 2 ? 8 : 0), y1: yLow, x2: x + (D === 2 ? 8 : 0), y2: yLow - ROW_H + CELL_H + 2, class: 'wire up' }));
      }
    }
    svg.append(el('text', { x, y: 30, class: 'step', 'text-anchor': 'middle' }, t === null ? '…' : cell ? `h[${t}]` : `out[${t}]`));
  });
  svg.append(el('text', { x: 8, y: top + rows * ROW_H + 42, class: 'label' }, `input ${fmt(shapes.input)}`));
  svg.append(el('text', { x: 8, y: 30, class: 'label' }, cell ? `h per step ${fmt([c.batch, c.hiddenSize])}` : `output ${fmt(shapes.output)}`));

  for (let l = 0; l < L; l++) {
    for (let d = 0; d < D; d++) {
      const y = yOf(l, d);
      const idx = l * D + d;
      const rev = d === 1;
      svg.append(el('text', { x: 8, y: y + CELL_H / 2 + 4, class: 'label' }, `layer ${l}${D === 2 ? (rev ? ' ←' : ' →') : ''}`));
      steps.forEach((t, i) => {
        const x = xOf(i);
        if (t === null) {
          svg.append(el('text', { x: x + CELL_W / 2, y: y + CELL_H / 2 + 4, 'text-anchor': 'middle', class: 'step' }, '…'));
          return;
        }
        const highlight = (!rev && i === last) || (rev && i === 0);
        svg.append(el('rect', { x, y, width: CELL_W, height: CELL_H, rx: 6, class: `cell${rev ? ' rev' : ''}${highlight ? ' hi' : ''}` }));
        svg.append(el('text', { x: x + CELL_W / 2, y: y + CELL_H / 2 + 4, 'text-anchor': 'middle', class: 'cell-text' }, c.kind.replace('Cell', '')));
        // Recurrence: forward left to right, reverse right to left.
        if (i < last) {
          svg.append(
            el('line', rev
              ? { x1: xOf(i + 1) - 2, y1: y + CELL_H / 2, x2: x + CELL_W + 2, y2: y + CELL_H / 2, class: 'wire rev', 'marker-end': 'url(#arrow-rev)' }
              : { x1: x + CELL_W + 2, y1: y + CELL_H / 2, x2: xOf(i + 1) - 2, y2: y + CELL_H / 2, class: 'wire', 'marker-end': 'url(#arrow)' }),
          );
        }
      });
      // Final states: forward ends at the last step (right), reverse at the first step (left).
      const hx = rev ? left - 72 : xOf(last) + CELL_W + 20;
      const label = cell ? "h'" : `h_n[${idx}]`;
      const final = el('g', { class: `final${(idx === rows - 1 || (D === 2 && idx === rows - 2)) && !cell ? ' hi' : ''}` });
      final.append(el('rect', { x: hx, y: y + 2, width: 52, height: CELL_H - 4, rx: 4, class: 'state' }));
      final.append(el('text', { x: hx + 26, y: y + CELL_H / 2 + 4, 'text-anchor': 'middle', class: 'state-text' }, label));
      svg.append(final);
      svg.append(
        el('line', rev
          ? { x1: left - 2, y1: y + CELL_H / 2, x2: hx + 54, y2: y + CELL_H / 2, class: 'wire rev', 'marker-end': 'url(#arrow-rev)' }
          : { x1: xOf(last) + CELL_W + 2, y1: y + CELL_H / 2, x2: hx - 2, y2: y + CELL_H / 2, class: 'wire', 'marker-end': 'url(#arrow)' }),
      );
    }
  }
  // Shapes of the states.
  const sx = xOf(last) + CELL_W + 80;
  svg.append(el('text', { x: sx, y: top - 10, class: 'label' }, cell ? `h' ${fmt(shapes.hN)}` : `h_n ${fmt(shapes.hN)}`));
  if (shapes.cN) svg.append(el('text', { x: sx, y: top + 6, class: 'label' }, cell ? `c' ${fmt(shapes.cN)}` : `c_n ${fmt(shapes.cN)}`));
  // Identities: the top layer's forward output at the last step is h_n of that direction...
  if (!cell) {
    const yTopFwd = yOf(L - 1, 0);
    svg.append(el('path', { d: `M${xOf(last) + CELL_W / 2},${yTopFwd} C${xOf(last) + CELL_W / 2},40 ${xOf(last) + CELL_W / 2},40 ${xOf(last) + CELL_W / 2},36`, class: 'identity' }));
    if (D === 2) {
      const yTopRev = yOf(L - 1, 1);
      svg.append(el('path', { d: `M${xOf(0) + CELL_W / 2},${yTopRev} L${xOf(0) + CELL_W / 2},36`, class: 'identity rev' }));
    }
    svg.append(
      el(
        'text',
        { x: left, y: height - 12, class: 'identity-text' },
        D === 2
          ? `out[-1, :, :${P}] == h_n[-2] (forward ends at the last step) · out[0, :, ${P}:] == h_n[-1] (reverse ends at the first step)`
          : 'out[-1] == h_n[-1] (the top layer at the last step)',
      ),
    );
  }
}
