// The list of tensor shapes under the diagram: input, output, h_n and c_n for a layer, or the
// per-step input and h', c' for a cell.

import { type Config, fmt, isCell, shapesOf } from './config.js';
import { byId, html } from './dom.js';

export function renderShapes(c: Config): void {
  const s = shapesOf(c);
  // [id for tests and styling, label, shape]
  const items: Array<[string, string, number[] | null]> = isCell(c.kind)
    ? [['input', 'input (all steps)', s.input], ['step', 'x_t', s.step], ['h_next', "h'", s.hN], ['c_next', "c'", s.cN]]
    : [['input', 'input', s.input], ['output', 'output', s.output], ['h_n', 'h_n', s.hN], ['c_n', 'c_n', s.cN]];
  byId('shapes').replaceChildren(
    ...items.filter(([, , shape]) => shape).map(([id, name, shape]) => html('li', { 'data-tensor': id }, `${name} `, html('code', {}, fmt(shape!)))),
  );
}
