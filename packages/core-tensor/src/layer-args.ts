// Validation of a fused layer call shared by every backend, so that they all reject the same call
// with the same message. It builds no string and allocates nothing unless it throws, because a
// streaming step calls it once per frame.

import type { LayerArgs, PreparedWeights, Workspace } from './backend.js';
import { BackendError, ShapeError } from './errors.js';

/**
 * Checks that the weights and the workspace of a layer call belong to `backend` and are not
 * disposed, then checks the call's arrays (or device buffers) against the weights. Returns the
 * number of input rows (`seqLen * batch` padded, `sum(batchSizes)` packed).
 */
export function checkLayerArgs<Buf extends { readonly length: number }>(
  args: LayerArgs<Buf>,
  workspace: Workspace,
  backend: string,
): number {
  const w: PreparedWeights = args.weights;
  // Messages name `${backend}.layer`; the string is built only when a check fails.
  if (w?.backend !== backend) {
    throw new BackendError(`${backend}.layer: weights were prepared by backend '${String(w?.backend)}', expected '${backend}'`);
  }
  if (w.disposed) throw new BackendError(`${backend}.layer: weights were disposed; prepare them again`);
  if (workspace?.backend !== backend) {
    throw new BackendError(`${backend}.layer: workspace was created by backend '${String(workspace?.backend)}', expected '${backend}'`);
  }
  if (workspace.disposed) throw new BackendError(`${backend}.layer: workspace was disposed; create another with createWorkspace()`);
  const T = args.seqLen;
  const B = args.batch;
  const P = w.outputSize;
  const rows = args.batchSizes ? checkBatchSizes(backend, args.batchSizes, T, B) : T * B;
  expectLength(backend, 'x', args.x, rows * w.inputSize);
  if (args.h0) expectLength(backend, 'h0', args.h0, B * P);
  expectLength(backend, 'hN', args.hN, B * P);
  if (w.mode === 'lstm') {
    expectLength(backend, 'cN', args.cN, B * w.hiddenSize);
    if (args.c0) expectLength(backend, 'c0', args.c0, B * w.hiddenSize);
  }
  if (rows > 0 && args.out.length < (rows - 1) * args.outStride + args.outOffset + P) {
    throw new ShapeError(`${backend}.layer: out has ${args.out.length} values, too few for ${rows} rows of stride ${args.outStride}`);
  }
  return rows;
}

function expectLength(backend: string, name: string, a: { readonly length: number } | null | undefined, n: number): void {
  if (!a || a.length !== n) {
    throw new ShapeError(`${backend}.layer: ${name} expected ${n} values, got ${a ? a.length : 'none'}`);
  }
}

/** Checks packed batch sizes (non-increasing, first = B) and returns their sum. */
function checkBatchSizes(backend: string, sizes: Int32Array, T: number, B: number): number {
  let rows = 0;
  let ok = sizes.length === T && (T === 0 || sizes[0] === B);
  for (let t = 0; t < sizes.length && ok; t++) {
    const n = sizes[t]!;
    if (n < 1 || (t > 0 && n > sizes[t - 1]!)) ok = false;
    rows += n;
  }
  if (!ok) {
    throw new ShapeError(
      `${backend}.layer: batchSizes must hold ${T} non-increasing counts in [1, ${B}] starting at ${B}, got [${Array.from(sizes).join(',')}]`,
    );
  }
  return rows;
}
