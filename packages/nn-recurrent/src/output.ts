// Shaping a run's results as PyTorch returns them: batch-first or time-major, unbatched, or a
// PackedSequence with its states put back in the caller's batch order.

import { Tensor } from '@recur/core-tensor';
import { type SequenceBatch, swapLeadingAxes } from './inputs.js';
import { PackedSequence } from './packed.js';
import type { RunResult } from './run.js';

/** Sizes of a module's results. */
export interface OutputShape {
  /** `numLayers * numDirections`. */
  LD: number;
  /** Output features: `numDirections * outputSize`. */
  features: number;
  outputSize: number;
  hiddenSize: number;
  batchFirst: boolean;
}

export interface Shaped<Out> {
  out: Out;
  hN: Tensor;
  cN: Tensor | null;
}

/** Wraps a run's output as PyTorch shapes it for a padded input. */
export function paddedResult(r: RunResult, seq: SequenceBatch, batched: boolean, s: OutputShape): Shaped<Tensor> {
  const T = seq.seqLen;
  const B = seq.batch;
  const F = s.features;
  const stateShape = (size: number) => (batched ? [s.LD, B, size] : [s.LD, size]);
  let out: Tensor;
  if (!batched) out = new Tensor(r.out, [T, F]);
  else if (s.batchFirst) out = new Tensor(swapLeadingAxes(r.out, T, B, F), [B, T, F]);
  else out = new Tensor(r.out, [T, B, F]);
  return {
    out,
    hN: new Tensor(r.hN, stateShape(s.outputSize)),
    cN: r.cN ? new Tensor(r.cN, stateShape(s.hiddenSize)) : null,
  };
}

/** Wraps a run's output as a PackedSequence, with the states back in the caller's batch order. */
export function packedResult(r: RunResult, input: PackedSequence, rows: number, s: OutputShape): Shaped<PackedSequence> {
  const B = input.batch;
  const back = input.unsortedIndices;
  const unsort = (v: Float32Array, F: number) => new Tensor(back ? selectBatch(v, B, F, back) : v, [s.LD, B, F]);
  return {
    out: new PackedSequence(new Tensor(r.out, [rows, s.features]), input.batchSizes, input.sortedIndices, back),
    hN: unsort(r.hN, s.outputSize),
    cN: r.cN ? unsort(r.cN, s.hiddenSize) : null,
  };
}

/** Picks batch entries of a `[LD, B, F]` state: `out[l, i] = v[l, indices[i]]`. */
export function selectBatch(v: Float32Array, B: number, F: number, indices: Int32Array): Float32Array {
  const out = new Float32Array(v.length);
  const LD = v.length / (B * F);
  for (let l = 0; l < LD; l++) {
    for (let i = 0; i < B; i++) {
      const src = (l * B + indices[i]!) * F;
      out.set(v.subarray(src, src + F), (l * B + i) * F);
    }
  }
  return out;
}
