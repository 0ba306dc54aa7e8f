// Validation of a fused layer call shared by every backend. It builds no string and allocates
// nothing unless it throws, because a streaming step calls it once per frame.

import type { LayerArgs, PreparedWeights } from './backend.js';
import { ShapeError } from './errors.js';

/**
 * Checks a fused layer call's arrays against its weights and returns the number of input rows
 * (`seqLen * batch` padded, `sum(batchSizes)` packed).
 */
export function checkLayerArgs(args: LayerArgs, where: string): number {
  const w: PreparedWeights = args.weights;
  const T = args.seqLen;
  const B = args.batch;
  const P = w.outputSize;
  const rows = args.batchSizes ? checkBatchSizes(where, args.batchSizes, T, B) : T * B;
  expectLength(where, 'x', args.x, rows * w.inputSize);
  if (args.h0) expectLength(where, 'h0', args.h0, B * P);
  expectLength(where, 'hN', args.hN, B * P);
  if (w.mode === 'lstm') {
    expectLength(where, 'cN', args.cN, B * w.hiddenSize);
    if (args.c0) expectLength(where, 'c0', args.c0, B * w.hiddenSize);
  }
  if (rows > 0 && args.out.length < (rows - 1) * args.outStride + args.outOffset + P) {
    throw new ShapeError(`${where}: out has ${args.out.length} values, too few for ${rows} rows of stride ${args.outStride}`);
  }
  return rows;
}

function expectLength(where: string, name: string, a: Float32Array | null | undefined, n: number): void {
  if (!a || a.length !== n) {
    throw new ShapeError(`${where}: ${name} expected ${n} values, got ${a ? a.length : 'none'}`);
  }
}

/** Checks packed batch sizes (non-increasing, first = B) and returns their sum. */
function checkBatchSizes(where: string, sizes: Int32Array, T: number, B: number): number {
  let rows = 0;
  let ok = sizes.length === T && (T === 0 || sizes[0] === B);
  for (let t = 0; t < sizes.length && ok; t++) {
    const n = sizes[t]!;
    if (n < 1 || (t > 0 && n > sizes[t - 1]!)) ok = false;
    rows += n;
  }
  if (!ok) {
    throw new ShapeError(
      `${where}: batchSizes must hold ${T} non-increasing counts in [1, ${B}] starting at ${B}, got [${Array.from(sizes).join(',')}]`,
    );
  }
  return rows;
}
