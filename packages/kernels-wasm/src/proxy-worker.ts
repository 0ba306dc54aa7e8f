// The worker a proxied wasm backend runs its asynchronous calls in (src/proxy.ts is the page's side).
// It holds its own kernels runtime, threaded where the worker may use a shared memory, the weights it
// was sent once, the device buffers and workspaces, and answers each request in order. Bundled into
// src/proxy-worker.generated.ts by scripts/build-wasm.mjs and started from that text, so no file path
// or bundler set-up is involved. The kernels' binary is not in the bundle: the page sends the compiled
// module.

import type { LayerArgs, RecurrentWeights } from '@recur/core-tensor';
import { createMemory, importNodeBuiltin } from './env.js';
import type { KernelExports } from './module.js';
import { startThreads } from './pool.js';
import { type WasmPreparedWeights, WasmRuntime, type WasmWorkspace } from './runtime.js';
import type { ProxyReply, ProxyRequest } from './proxy-protocol.js';

type Port = { post(message: ProxyReply, transfer?: Transferable[]): void };

let runtime: WasmRuntime | null = null;
let threads = { active: 1, reason: null as string | null };
const weights = new Map<number, WasmPreparedWeights>();
const buffers = new Map<number, Float32Array>();
const workspaces = new Map<number, WasmWorkspace>();

function buffer(id: number): Float32Array {
  const b = buffers.get(id);
  if (!b) throw new Error(`device buffer ${id} does not exist in the worker (disposed?)`);
  return b;
}

async function handle(m: ProxyRequest, port: Port): Promise<void> {
  switch (m.op) {
    case 'init': {
      const memory = createMemory(m.shared);
      const instance = await WebAssembly.instantiate(m.module, { env: { memory } });
      const r = new WasmRuntime(instance.exports as unknown as KernelExports, memory, m.name);
      runtime = r;
      if (m.shared && m.threads > 1) {
        try {
          await startThreads(r, m.module, m.threads, m.split, 0, () => true);
          threads = { active: m.threads, reason: null };
        } catch (error) {
          threads = { active: 1, reason: `threads are off in the worker: the worker threads could not start (${(error as Error).message})` };
        }
      } else {
        threads = { active: 1, reason: m.threads > 1 ? m.whyNotShared : null };
      }
      port.post({ call: m.call, ok: true, threads });
      return;
    }
    case 'prepare':
      weights.set(m.id, runtime!.prepare(m.weights as RecurrentWeights));
      return;
    case 'workspace':
      workspaces.set(m.id, runtime!.createWorkspace({}));
      return;
    case 'upload':
      buffers.set(m.id, m.data);
      return;
    case 'allocate':
      buffers.set(m.id, new Float32Array(m.length));
      return;
    case 'free':
      if (m.kind === 'buffer') buffers.delete(m.id);
      else if (m.kind === 'weights') {
        weights.get(m.id)?.dispose();
        weights.delete(m.id);
      } else {
        workspaces.get(m.id)?.dispose();
        workspaces.delete(m.id);
      }
      return;
    case 'read': {
      const data = buffer(m.id).slice();
      port.post({ call: m.call, ok: true, data }, [data.buffer]);
      return;
    }
    case 'layer': {
      const a = m.args;
      const w = weights.get(a.weights);
      const ws = workspaces.get(m.workspace);
      if (!w || !ws) throw new Error('the weights or workspace of this call were not prepared in the worker');
      const args: LayerArgs = {
        weights: w,
        x: buffer(a.x),
        seqLen: a.seqLen,
        batch: a.batch,
        h0: a.h0 === null ? null : buffer(a.h0),
        c0: a.c0 === null ? null : buffer(a.c0),
        out: buffer(a.out),
        outOffset: a.outOffset,
        outStride: a.outStride,
        hN: buffer(a.hN),
        cN: a.cN === null ? null : buffer(a.cN),
        reverse: a.reverse,
        batchSizes: a.batchSizes,
      };
      runtime!.layer(args, ws);
      port.post({ call: m.call, ok: true, lastThreads: runtime!.lastThreads });
      return;
    }
    case 'exit':
      runtime?.drop();
      runtime = null;
      port.post({ call: m.call, ok: true });
      return;
  }
}

/** Serves requests one after another (a call's reply comes after every request sent before it). */
function serve(port: Port, onMessage: (listener: (m: ProxyRequest) => void) => void): void {
  let queue: Promise<void> = Promise.resolve();
  onMessage((m) => {
    queue = queue.then(async () => {
      try {
        await handle(m, port);
      } catch (error) {
        const e = error as Error;
        // The page awaits calls; the failure of a request it did not await is reported with its next call.
        port.post({ call: m.call, ok: false, error: { name: e?.name ?? 'Error', message: e?.message ?? String(error) } });
      }
    });
  });
}

if (typeof self === 'undefined') {
  void importNodeBuiltin<typeof import('node:worker_threads')>('worker_threads').then(({ parentPort }) => {
    serve(
      { post: (m, t) => parentPort!.postMessage(m, (t ?? []) as never) },
      (listener) => parentPort!.on('message', listener),
    );
  });
} else {
  const scope = self as unknown as { postMessage(m: unknown, t?: Transferable[]): void; onmessage: ((e: MessageEvent) => void) | null };
  serve(
    { post: (m, t) => scope.postMessage(m, t ?? []) },
    (listener) => {
      scope.onmessage = (e) => listener(e.data as ProxyRequest);
    },
  );
}
