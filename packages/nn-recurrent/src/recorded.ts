// The run loop of a multi-layer recurrent module when gradients are recorded: every layer direction
// runs on its own training workspace (whose reserve keeps the per-step activations), dropout masks
// are kept, and the returned backward walks the layers in reverse through the backend's fused
// `layerBackward`, giving the gradients of the input, the initial states and every weight.

import {
  type Backend,
  type LayerArgs,
  type PreparedWeights,
  type RecurrentLayout,
  type Workspace,
  gateCount,
  recurrentParameters,
} from '@recur/core-tensor';
import type { SequenceBatch } from './inputs.js';
import { type RunResult, type RunShape, runLayers } from './run.js';

/** Gradients of one layer direction's weights, in PyTorch's layout. */
export interface WeightGrads {
  weightIh: Float32Array;
  weightHh: Float32Array;
  biasIh: Float32Array | null;
  biasHh: Float32Array | null;
  weightHr: Float32Array | null;
}

const GRAD_KEYS = { weight_ih: 'weightIh', weight_hh: 'weightHh', bias_ih: 'biasIh', bias_hh: 'biasHh', weight_hr: 'weightHr' } as const;

/** The weight gradients of a recorded run in the module's parameter (state-dict) order. */
export function gradsInStateDictOrder(layout: RecurrentLayout, weights: WeightGrads[]): Array<Float32Array | null> {
  const D = layout.bidirectional && !layout.cell ? 2 : 1;
  return recurrentParameters(layout).map((p) => weights[p.layer * D + p.direction]![GRAD_KEYS[p.role]]);
}

export interface RecordedRun {
  result: RunResult;
  /**
   * Gradients from the gradients of `out` (time-major rows), `hN` and `cN` (kernel order; null: zero):
   * of the input rows, the initial states and each layer direction's weights.
   */
  backward(
    gOut: Float32Array | null,
    ghN: Float32Array | null,
    gcN: Float32Array | null,
    retained: boolean,
  ): { dx: Float32Array; dh0: Float32Array; dc0: Float32Array | null; weights: WeightGrads[] };
}

/** What the recorded loop needs beyond `RunShape`: the layer inputs' sizes, bias, and dropout masks. */
export interface RecordedShape extends RunShape {
  inputSize: number;
  bias: boolean;
  projSize: number;
  /** Dropout probability between layers when training, else 0. */
  dropout: number;
  /** Uniform [0, 1) draws for the dropout masks (the module's generator). */
  uniform: () => number;
  /** Dropout masks to apply instead of drawing new ones (a recomputation of an earlier forward). */
  masks?: ReadonlyArray<Uint8Array | null>;
}

/** Training workspaces of one backend, reused from one recorded forward to the next. */
export interface WorkspacePool {
  acquire(): Workspace;
  /** Returns a workspace whose backward is done (disposed instead when the pool is gone). */
  release(ws: Workspace): void;
}

export function runLayersRecorded(
  k: { backend: Backend; weights: PreparedWeights[]; pool: WorkspacePool },
  s: RecordedShape,
  seq: SequenceBatch,
  h0: Float32Array | null,
  c0: Float32Array | null,
): RecordedRun {
  const { seqLen: T, batch: B, rows } = seq;
  const D = s.numDirections;
  const P = s.outputSize;
  const H = s.hiddenSize;
  const L = s.numLayers;
  const hN = new Float32Array(L * D * B * P);
  const cN = s.isLstm ? new Float32Array(L * D * B * H) : null;
  const calls: Array<{ args: LayerArgs; workspace: Workspace }> = [];
  const masks: Array<Uint8Array | null> = [];
  const part = (v: Float32Array | null, idx: number, F: number) => (v ? v.subarray(idx * B * F, (idx + 1) * B * F) : null);
  let input = seq.data;
  for (let l = 0; l < L; l++) {
    const out = new Float32Array(rows * D * P);
    for (let d = 0; d < D; d++) {
      const idx = l * D + d;
      const args: LayerArgs = {
        weights: k.weights[idx]!,
        x: input,
        seqLen: T,
        batch: B,
        h0: part(h0, idx, P),
        c0: part(c0, idx, H),
        out,
        outOffset: d * P,
        outStride: D * P,
        hN: part(hN, idx, P)!,
        cN: part(cN, idx, H),
        reverse: d === 1,
        batchSizes: seq.batchSizes,
      };
      const workspace = k.pool.acquire();
      k.backend.layer(args, workspace);
      calls.push({ args, workspace });
    }
    const given = s.masks?.[l];
    if (given) applyMask(out, given, s.dropout);
    masks.push(given ?? (l < L - 1 && s.dropout > 0 ? applyDropout(out, s.dropout, s.uniform) : null));
    input = out;
  }

  const backward: RecordedRun['backward'] = (gOut, ghN, gcN, retained) => {
    const G = gateCount(k.weights[0]!.mode);
    const weights: WeightGrads[] = calls.map(({ args }) => {
      const I = args.weights.inputSize;
      return {
        weightIh: new Float32Array(G * H * I),
        weightHh: new Float32Array(G * H * P),
        biasIh: s.bias ? new Float32Array(G * H) : null,
        biasHh: s.bias ? new Float32Array(G * H) : null,
        weightHr: s.projSize > 0 ? new Float32Array(P * H) : null,
      };
    });
    const dh0 = new Float32Array(L * D * B * P);
    const dc0 = s.isLstm ? new Float32Array(L * D * B * H) : null;
    let dOut: Float32Array | null = gOut;
    let dx = new Float32Array(0);
    for (let l = L - 1; l >= 0; l--) {
      const I = l === 0 ? s.inputSize : D * P;
      dx = new Float32Array(rows * I);
      const dxPart = D > 1 ? new Float32Array(rows * I) : dx;
      for (let d = 0; d < D; d++) {
        const idx = l * D + d;
        const { args, workspace } = calls[idx]!;
        k.backend.layerBackward!(
          {
            forward: args,
            dOut,
            dhN: part(ghN, idx, P),
            dcN: part(gcN, idx, H),
            dx: dxPart,
            dh0: part(dh0, idx, P),
            dc0: part(dc0, idx, H),
            grads: weights[idx]!,
          },
          workspace,
        );
        if (dxPart !== dx) for (let i = 0; i < dx.length; i++) dx[i]! += dxPart[i]!;
      }
      const mask = l > 0 ? masks[l - 1] : null;
      if (mask) {
        const scale = s.dropout === 1 ? 0 : 1 / (1 - s.dropout);
        for (let i = 0; i < dx.length; i++) dx[i] = mask[i] ? dx[i]! * scale : 0;
      }
      dOut = dx;
    }
    if (!retained) for (const c of calls) k.pool.release(c.workspace);
    return { dx, dh0, dc0, weights };
  };
  return { result: { out: input, hN, cN }, backward };
}

/** Applies a kept dropout mask in place. */
function applyMask(x: Float32Array, mask: Uint8Array, p: number): void {
  const scale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < x.length; i++) x[i] = mask[i] ? x[i]! * scale : 0;
}

/**
 * The forward of a recorded pass on a backend without the `backward` capability: it runs there as
 * an inference pass (so the forward keeps that backend's speed and memory), keeping only the dropout
 * masks; its backward recomputes the forward on the js kernels, which keep the reserve, and runs
 * their backward.
 */
export function runLayersForRecompute(
  k: { backend: Backend; weights: PreparedWeights[]; workspace: Workspace; pool: WorkspacePool },
  s: RecordedShape,
  seq: SequenceBatch,
  h0: Float32Array | null,
  c0: Float32Array | null,
  recompute: () => { backend: Backend; weights: PreparedWeights[]; pool: WorkspacePool },
): RecordedRun {
  const masks: Array<Uint8Array | null> = [];
  const betweenLayers = s.dropout > 0 ? (x: Float32Array) => void masks.push(applyDropout(x, s.dropout, s.uniform)) : null;
  const result = runLayers(k, { ...s, betweenLayers }, seq, h0, c0);
  return {
    result,
    backward: (gOut, ghN, gcN) => runLayersRecorded(recompute(), { ...s, masks }, seq, h0, c0).backward(gOut, ghN, gcN, false),
  };
}

/** Dropout in place with the module's generator; returns the keep mask (1 kept, 0 dropped). */
export function applyDropout(x: Float32Array, p: number, uniform: () => number): Uint8Array {
  const mask = new Uint8Array(x.length);
  if (p === 1) {
    x.fill(0);
    return mask;
  }
  const scale = 1 / (1 - p);
  for (let i = 0; i < x.length; i++) {
    if (uniform() < p) x[i] = 0;
    else {
      mask[i] = 1;
      x[i] = x[i]! * scale;
    }
  }
  return mask;
}
