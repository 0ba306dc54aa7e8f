// The one description of PyTorch's recurrent layout that every recur package uses: modes and gate
// order, parameter names and shapes in state-dict order, how the two biases fold into the kernels'
// one, and the order in which a layer walks its time steps (padded or packed, forward or reverse).

/** The recurrence of one layer: PyTorch's `LSTM`, `GRU`, `RNN(nonlinearity='tanh'|'relu')`. */
export type RecurrentMode = 'lstm' | 'gru' | 'rnn_tanh' | 'rnn_relu';

/**
 * PyTorch's gate blocks, in the order they are stacked on the rows of `weight_ih`/`weight_hh`.
 * @example
 * GATE_ORDER.lstm; // ['i', 'f', 'g', 'o']
 */
export const GATE_ORDER: Readonly<Record<RecurrentMode, readonly string[]>> = Object.freeze({
  lstm: Object.freeze(['i', 'f', 'g', 'o']),
  gru: Object.freeze(['r', 'z', 'n']),
  rnn_tanh: Object.freeze(['h']),
  rnn_relu: Object.freeze(['h']),
});

/**
 * Number of gate blocks stacked in `weightIh`/`weightHh` for a mode (LSTM 4, GRU 3, RNN 1).
 * @example
 * gateCount('lstm'); // 4: weight_ih_l0 of LSTM(I, H) is [4 * H, I]
 */
export function gateCount(mode: RecurrentMode): number {
  return mode === 'lstm' ? 4 : mode === 'gru' ? 3 : 1;
}

/** The parameters of one recurrent layer and direction, as PyTorch names them before the suffix. */
export type ParameterRole = 'weight_ih' | 'weight_hh' | 'bias_ih' | 'bias_hh' | 'weight_hr';

/** What fixes the parameters of a recurrent module (PyTorch's constructor arguments that matter). */
export interface RecurrentLayout {
  mode: RecurrentMode;
  inputSize: number;
  hiddenSize: number;
  /** Default 1. */
  numLayers?: number;
  /** Default false. */
  bidirectional?: boolean;
  /** Default true. */
  bias?: boolean;
  /** LSTM projection size; default 0 (none). */
  projSize?: number;
  /** A cell (`RNNCell`, ...): one layer, names without the `_l0` suffix. Default false. */
  cell?: boolean;
}

/** One parameter of a recurrent module: its PyTorch name, role, place and shape. */
export interface ParameterSpec {
  name: string;
  role: ParameterRole;
  layer: number;
  /** 0 forward, 1 reverse. */
  direction: 0 | 1;
  shape: number[];
}

/**
 * PyTorch's name of a parameter: `weight_ih_l0`, `bias_hh_l1_reverse`, `weight_hr_l0`, or for a
 * cell `weight_ih`.
 * @example
 * parameterName('weight_hh', 1, 1); // 'weight_hh_l1_reverse'
 */
export function parameterName(role: ParameterRole, layer: number, direction: 0 | 1, cell = false): string {
  return cell ? role : `${role}_l${layer}${direction === 1 ? '_reverse' : ''}`;
}

const NAME = /^(weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)(?:_l(\d{1,6})(_reverse)?)?$/;

/**
 * Reads a PyTorch recurrent parameter name; null for any other key. `cell` is true for the cells'
 * unsuffixed names.
 * @example
 * parseParameterName('bias_ih_l2_reverse'); // { role: 'bias_ih', layer: 2, direction: 1, cell: false }
 */
export function parseParameterName(
  name: string,
): { role: ParameterRole; layer: number; direction: 0 | 1; cell: boolean } | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const role = m[1] as ParameterRole;
  if (m[2] === undefined) return role === 'weight_hr' ? null : { role, layer: 0, direction: 0, cell: true };
  return { role, layer: Number(m[2]), direction: m[3] ? 1 : 0, cell: false };
}

/** Size of `h` and of each direction's output: `projSize || hiddenSize`. */
export function outputSizeOf(layout: RecurrentLayout): number {
  return (layout.projSize ?? 0) > 0 ? layout.projSize! : layout.hiddenSize;
}

/** Input features of layer `l`: `inputSize` for layer 0, then `D * outputSize`. */
export function layerInputSize(layout: RecurrentLayout, layer: number): number {
  return layer === 0 ? layout.inputSize : outputSizeOf(layout) * (layout.bidirectional ? 2 : 1);
}

/**
 * Every parameter of a module in PyTorch's state-dict order (layer by layer, forward then reverse;
 * `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`, `weight_hr` within each).
 * @example
 * recurrentParameters({ mode: 'gru', inputSize: 4, hiddenSize: 3 }).map((p) => p.name);
 * // ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
 */
export function recurrentParameters(layout: RecurrentLayout): ParameterSpec[] {
  const G = gateCount(layout.mode);
  const H = layout.hiddenSize;
  const P = outputSizeOf(layout);
  const cell = layout.cell ?? false;
  const L = cell ? 1 : (layout.numLayers ?? 1);
  const D = !cell && layout.bidirectional ? 2 : 1;
  const proj = !cell && (layout.projSize ?? 0) > 0;
  const specs: ParameterSpec[] = [];
  for (let layer = 0; layer < L; layer++) {
    for (let d = 0; d < D; d++) {
      const direction = d as 0 | 1;
      const add = (role: ParameterRole, shape: number[]) =>
        specs.push({ name: parameterName(role, layer, direction, cell), role, layer, direction, shape });
      add('weight_ih', [G * H, layerInputSize(layout, layer)]);
      add('weight_hh', [G * H, P]);
      if (layout.bias ?? true) {
        add('bias_ih', [G * H]);
        add('bias_hh', [G * H]);
      }
      if (proj) add('weight_hr', [P, H]);
    }
  }
  return specs;
}

/**
 * The layout a state dict's shapes imply (names without any prefix), or the reason none fits.
 * Only the mode's gate count is known from shapes: an RNN is reported as `rnn_tanh`.
 * @example
 * inferRecurrentLayout({ weight_ih_l0: [12, 5], weight_hh_l0: [12, 3] }); // { layout: { mode: 'gru', ... } }
 */
export function inferRecurrentLayout(
  shapes: Readonly<Record<string, readonly number[]>>,
): { layout: RecurrentLayout; problem: null } | { layout: null; problem: string } {
  const fail = (problem: string) => ({ layout: null, problem });
  const names = Object.keys(shapes);
  if (names.length === 0) return fail('the state dict holds no tensors');
  const parsed = names.map((n) => ({ name: n, p: parseParameterName(n) }));
  const stray = parsed.filter((e) => !e.p).map((e) => e.name);
  if (stray.length) {
    return fail(
      `these keys are not an RNN/LSTM/GRU state dict: ${stray.slice(0, 5).join(', ')}${stray.length > 5 ? ', …' : ''} (save the recurrent module's own state_dict(), or give the prefix)`,
    );
  }
  const cell = parsed.every((e) => e.p!.cell);
  if (!cell && parsed.some((e) => e.p!.cell)) return fail('the keys mix a cell (weight_ih) and a layer (weight_ih_l0)');
  const own = (n: string) => (Object.hasOwn(shapes, n) ? shapes[n] : undefined);
  const wih = own(cell ? 'weight_ih' : 'weight_ih_l0');
  const whh = own(cell ? 'weight_hh' : 'weight_hh_l0');
  if (!wih || !whh) return fail(`missing ${cell ? 'weight_ih / weight_hh' : 'weight_ih_l0 / weight_hh_l0'}`);
  if (wih.length !== 2 || whh.length !== 2) return fail('weight_ih and weight_hh must be 2-D matrices');
  const hr = own('weight_hr_l0');
  const hiddenSize = hr ? hr[1]! : whh[1]!;
  const gates = hiddenSize > 0 ? wih[0]! / hiddenSize : Number.NaN;
  if (gates !== 1 && gates !== 3 && gates !== 4) {
    return fail(`weight_ih has ${wih[0]} rows for a hidden size of ${hiddenSize}: not 1 (RNN), 3 (GRU) or 4 (LSTM) gates`);
  }
  let numLayers = 1;
  let bidirectional = false;
  for (const { p } of parsed) {
    numLayers = Math.max(numLayers, p!.layer + 1);
    if (p!.direction === 1) bidirectional = true;
  }
  const layout: RecurrentLayout = {
    mode: gates === 4 ? 'lstm' : gates === 3 ? 'gru' : 'rnn_tanh',
    inputSize: wih[1]!,
    hiddenSize,
    bias: parsed.some((e) => e.p!.role.startsWith('bias_')),
    ...(cell ? { cell: true } : { numLayers, bidirectional, projSize: hr ? hr[0]! : 0 }),
  };
  return { layout, problem: null };
}

/**
 * Folds PyTorch's two biases into the one a fused kernel adds to the input projections:
 * `bias = b_ih + b_hh`, except GRU's n block, which keeps `b_in` only because PyTorch applies
 * `r * (W_hn h + b_hn)`; `bHn` receives `b_hn` (GRU only). Missing biases count as zeros.
 * `bias` needs `G*H` values, `bHn` `H` (GRU).
 */
export function foldBiases(
  mode: RecurrentMode,
  hiddenSize: number,
  biasIh: Float32Array | null,
  biasHh: Float32Array | null,
  bias: Float32Array,
  bHn: Float32Array | null,
): void {
  const GH = gateCount(mode) * hiddenSize;
  const summed = mode === 'gru' ? 2 * hiddenSize : GH;
  for (let j = 0; j < GH; j++) {
    const bi = biasIh ? biasIh[j]! : 0;
    const bh = biasHh ? biasHh[j]! : 0;
    if (j < summed) bias[j] = bi + bh;
    else {
      bias[j] = bi;
      if (bHn) bHn[j - summed] = bh;
    }
  }
}

/** Where one time step's rows are: the first input/output row and the number of active rows. */
export interface StepCursor {
  row: number;
  n: number;
}

/**
 * Moves `cursor` to the `s`-th step a layer runs (s = 0, 1, ... in time order, or from the end when
 * `reverse`). Padded input has `batch` rows per step at `t * batch`; packed input has
 * `batchSizes[t]` rows per step, stored one step after another (`rows` in all), and a reverse pass
 * starts each sequence at its own last step.
 */
export function advanceStep(
  cursor: StepCursor,
  s: number,
  seqLen: number,
  batch: number,
  rows: number,
  batchSizes: Int32Array | null | undefined,
  reverse: boolean,
): void {
  if (s === 0) {
    cursor.row = reverse ? rows : 0;
    cursor.n = 0;
  }
  const t = reverse ? seqLen - 1 - s : s;
  const n = batchSizes ? batchSizes[t]! : batch;
  if (reverse) cursor.row -= n;
  else cursor.row += cursor.n;
  cursor.n = n;
}
