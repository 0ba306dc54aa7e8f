// The run loop of a multi-layer recurrent module: one fused kernel call per layer and direction,
// both directions writing straight into one output buffer, dropout between layers when asked. The
// synchronous path runs on Float32Arrays; the asynchronous one keeps activations in the backend's
// device buffers from layer to layer and reads back only the results.

import { type Backend, type DeviceBuffer, type LayerArgs, type PreparedWeights, type Workspace, MAX_ELEMENTS, checkElements } from '@recur/core-tensor';
import type { SequenceBatch } from './inputs.js';

/** What the run loop needs to know of a module. */
export interface RunShape {
  numLayers: number;
  /** 1 or 2 directions. */
  numDirections: number;
  hiddenSize: number;
  /** Size of `h`: `projSize || hiddenSize`. */
  outputSize: number;
  isLstm: boolean;
  /** Applied in place to each layer's output but the last (dropout in training), or null. */
  betweenLayers: ((x: Float32Array) => void) | null;
}

export interface RunResult {
  /** `[rows, D * outputSize]`: `[T, B, ...]` time-major, or packed rows. */
  out: Float32Array;
  /** `[L * D, B, outputSize]` */
  hN: Float32Array;
  /** `[L * D, B, hiddenSize]` (LSTM) or null. */
  cN: Float32Array | null;
}

interface Kernels {
  backend: Backend;
  weights: PreparedWeights[];
  workspace: Workspace;
  /** With a backend that runs calls side by side: the reverse direction's workspace. */
  pairWorkspace?: Workspace | null;
}

/** Runs every layer and direction over a time-major batch. */
export function runLayers(k: Kernels, s: RunShape, seq: SequenceBatch, h0: Float32Array | null, c0: Float32Array | null): RunResult {
  const { seqLen: T, batch: B } = seq;
  const D = s.numDirections;
  const P = s.outputSize;
  const H = s.hiddenSize;
  if (seq.rows * D * P > MAX_ELEMENTS) checkElements('forward', `an output of ${seq.rows} rows x ${D * P}`, seq.rows * D * P);
  const hN = new Float32Array(s.numLayers * D * B * P);
  const cN = s.isLstm ? new Float32Array(s.numLayers * D * B * H) : null;
  let input = seq.data;
  let out = input;
  for (let l = 0; l < s.numLayers; l++) {
    out = new Float32Array(seq.rows * D * P);
    const pair: Array<{ args: LayerArgs; workspace: Workspace }> = [];
    for (let d = 0; d < D; d++) {
      const idx = l * D + d;
      const part = (v: Float32Array | null, F: number) => (v ? v.subarray(idx * B * F, (idx + 1) * B * F) : null);
      const args: LayerArgs = {
        weights: k.weights[idx]!,
        x: input,
        seqLen: T,
        batch: B,
        h0: part(h0, P),
        c0: part(c0, H),
        out,
        outOffset: d * P,
        outStride: D * P,
        hN: part(hN, P)!,
        cN: part(cN, H),
        reverse: d === 1,
        batchSizes: seq.batchSizes,
      };
      // Both directions at once where the backend runs them side by side (same numbers as in turn).
      if (D === 2 && k.pairWorkspace) pair.push({ args, workspace: d === 0 ? k.workspace : k.pairWorkspace });
      else k.backend.layer(args, k.workspace);
    }
    if (pair.length === 2) k.backend.layers!(pair);
    if (s.betweenLayers && l < s.numLayers - 1) s.betweenLayers(out);
    input = out;
  }
  return { out, hN, cN };
}

/**
 * `runLayers` on a backend with the `async` capability: the input and initial states are uploaded
 * once, each layer's output stays on the device as the next layer's input (read back only for
 * dropout), and the results are read back at the end. Every device buffer is freed, also on failure.
 */
export async function runLayersAsync(
  k: Kernels,
  s: RunShape,
  seq: SequenceBatch,
  h0: Float32Array | null,
  c0: Float32Array | null,
): Promise<RunResult> {
  const { backend } = k;
  const upload = backend.upload!.bind(backend);
  const allocate = backend.allocate!.bind(backend);
  const { seqLen: T, batch: B } = seq;
  const D = s.numDirections;
  const P = s.outputSize;
  const H = s.hiddenSize;
  const held: DeviceBuffer[] = [];
  const keep = (b: DeviceBuffer): DeviceBuffer => {
    held.push(b);
    return b;
  };
  try {
    const hParts: DeviceBuffer[] = [];
    const cParts: DeviceBuffer[] = [];
    let input = keep(upload(seq.data));
    for (let l = 0; l < s.numLayers; l++) {
      let out = keep(allocate(seq.rows * D * P));
      for (let d = 0; d < D; d++) {
        const idx = l * D + d;
        const hN = keep(allocate(B * P));
        const cN = s.isLstm ? keep(allocate(B * H)) : null;
        hParts.push(hN);
        if (cN) cParts.push(cN);
        await backend.layerAsync!(
          {
            weights: k.weights[idx]!,
            x: input,
            seqLen: T,
            batch: B,
            h0: h0 ? keep(upload(h0.subarray(idx * B * P, (idx + 1) * B * P))) : null,
            c0: c0 ? keep(upload(c0.subarray(idx * B * H, (idx + 1) * B * H))) : null,
            out,
            outOffset: d * P,
            outStride: D * P,
            hN,
            cN,
            reverse: d === 1,
            batchSizes: seq.batchSizes,
          },
          k.workspace,
        );
      }
      if (s.betweenLayers && l < s.numLayers - 1) {
        const values = await out.read();
        s.betweenLayers(values);
        out = keep(upload(values));
      }
      input = out;
    }
    const gather = async (parts: DeviceBuffer[], F: number) => {
      const all = new Float32Array(parts.length * B * F);
      for (const [i, p] of parts.entries()) all.set(await p.read(), i * B * F);
      return all;
    };
    return { out: await input.read(), hN: await gather(hParts, P), cN: s.isLstm ? await gather(cParts, H) : null };
  } finally {
    for (const b of held) b.dispose();
  }
}
