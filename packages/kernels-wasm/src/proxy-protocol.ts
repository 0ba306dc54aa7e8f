// The messages between a proxied wasm backend (src/proxy.ts) and its worker (src/proxy-worker.ts).
// Every request carries a call number; the worker answers them in order.

import type { RecurrentWeights } from '@recur/core-tensor';

/** A layer call with its buffers, weights and workspace named by their ids in the worker. */
export interface ProxyLayerArgs {
  weights: number;
  x: number;
  seqLen: number;
  batch: number;
  h0: number | null;
  c0: number | null;
  out: number;
  outOffset: number;
  outStride: number;
  hN: number;
  cN: number | null;
  reverse: boolean;
  batchSizes: Int32Array | null;
}

export type ProxyRequest = { call: number } & (
  | {
      op: 'init';
      name: string;
      module: WebAssembly.Module;
      /** Whether `module` is the shared-memory build (threads), and why not when it is not. */
      shared: boolean;
      whyNotShared: string | null;
      threads: number;
      split: 'auto' | 'always';
    }
  | { op: 'prepare'; id: number; weights: RecurrentWeights }
  | { op: 'workspace'; id: number }
  | { op: 'upload'; id: number; data: Float32Array }
  | { op: 'allocate'; id: number; length: number }
  | { op: 'free'; id: number; kind: 'buffer' | 'weights' | 'workspace' }
  | { op: 'read'; id: number }
  | { op: 'layer'; args: ProxyLayerArgs; workspace: number }
  | { op: 'exit' }
);

export type ProxyReply =
  | { call: number; ok: true; threads?: { active: number; reason: string | null }; data?: Float32Array; lastThreads?: number }
  | { call: number; ok: false; error: { name: string; message: string } };
