// The page's side of a proxied wasm backend: what onnxruntime-web's `proxy` option offers, in recur's
// contract. `forwardAsync` reaches the backend's `upload`/`allocate`/`layerAsync`, which run in a worker
// recur starts and manages (src/proxy-worker.ts), so a long forward never blocks the calling thread;
// that worker may block, so it runs the kernels on threads where the page is cross-origin isolated.
// Weights go to the worker once, on their first asynchronous call (and are freed there when they are
// disposed or collected); inputs and results travel per call. A worker that fails makes every pending
// call reject with a BackendError and the backend fall back to running on the calling thread.

import {
  ArgumentError,
  BackendError,
  type DeviceBuffer,
  type LayerArgs,
  RangeArgumentError,
  ShapeError,
  type Workspace,
  checkLayerArgs,
} from '@recur/core-tensor';
import { type ScriptWorker, startWorker, withTimeout } from './env.js';
import type { ProxyLayerArgs, ProxyReply, ProxyRequest } from './proxy-protocol.js';
import { PROXY_WORKER_SOURCE } from './proxy-worker.generated.js';
import { WasmPreparedWeights, WasmWorkspace } from './runtime.js';

/** Starting the worker longer than this means it cannot start here. */
const START_TIMEOUT_MS = 20_000;

type Ok = Extract<ProxyReply, { ok: true }>;
type Request = ProxyRequest extends infer R ? (R extends { call: number } ? Omit<R, 'call'> : never) : never;

/** A device buffer: a Float32Array in the worker, named by its id. */
class ProxyBuffer implements DeviceBuffer {
  #disposed = false;
  constructor(
    readonly proxy: WorkerProxy,
    readonly id: number,
    readonly length: number,
  ) {}

  get backend(): string {
    return this.proxy.backend;
  }

  read(): Promise<Float32Array> {
    if (this.#disposed) return Promise.reject(new BackendError(`${this.backend}: read() of a disposed device buffer`));
    return this.proxy.read(this.id);
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.proxy.free(this.id, 'buffer');
  }

  get disposed(): boolean {
    return this.#disposed;
  }
}

const ERRORS: Record<string, new (message: string) => Error> = { ShapeError, ArgumentError, RangeArgumentError, BackendError };

export class WorkerProxy {
  /** Non-null once the worker failed: the reason (calls then run on the calling thread). */
  broken: string | null = null;
  /** The worker's threads: how many run there, and why not more. */
  threads: { active: number; reason: string | null } = { active: 1, reason: null };
  /** Threads the worker's last layer call ran on. */
  lastThreads = 1;
  /** Weights sent to the worker (each once, on its first asynchronous call). */
  weightsSent = 0;
  /** The worker; in Node it keeps the process alive while calls are pending, not otherwise. */
  #channel: ScriptWorker | null = null;
  #next = 1;
  readonly #pending = new Map<number, { resolve(r: Ok): void; reject(e: Error): void }>();
  /** The failure of a request nobody awaited, reported with the next call. */
  #deferred: Error | null = null;
  readonly #weights = new WeakMap<WasmPreparedWeights, number>();
  readonly #workspaces = new WeakMap<WasmWorkspace, number>();
  readonly #finalizer =
    typeof FinalizationRegistry === 'function'
      ? new FinalizationRegistry<{ id: number; kind: 'buffer' | 'weights' | 'workspace' }>(({ id, kind }) => this.free(id, kind))
      : null;

  private constructor(
    readonly backend: string,
    private readonly onBroken: (reason: string) => void,
  ) {}

  /**
   * Starts the worker with the compiled `module` (the shared-memory build when `shared`) and waits
   * until its kernels, and threads if any, are up.
   */
  static async start(options: {
    backend: string;
    module: WebAssembly.Module;
    shared: boolean;
    whyNotShared: string | null;
    threads: number;
    split: 'auto' | 'always';
    onBroken: (reason: string) => void;
  }): Promise<WorkerProxy> {
    const proxy = new WorkerProxy(options.backend, options.onBroken);
    proxy.#channel = await startWorker(
      PROXY_WORKER_SOURCE,
      (reply) => proxy.receive(reply as ProxyReply),
      (reason) => proxy.fail(reason),
    );
    try {
      const { module, shared, whyNotShared, threads, split } = options;
      const init = proxy.request({ op: 'init', name: options.backend, module, shared, whyNotShared, threads, split });
      const reply = await withTimeout(init, START_TIMEOUT_MS, `the worker did not start within ${START_TIMEOUT_MS / 1000} s`);
      proxy.threads = reply.threads ?? proxy.threads;
      return proxy;
    } catch (error) {
      proxy.terminate();
      throw error;
    }
  }

  private send(request: Request, transfer: Transferable[] = []): number {
    if (this.broken || !this.#channel) throw new BackendError(`${this.backend}: the worker is gone (${this.broken ?? 'disposed'})`);
    const call = this.#next++;
    this.#channel.post({ ...request, call } as ProxyRequest, transfer);
    return call;
  }

  private request(request: Request, transfer: Transferable[] = []): Promise<Ok> {
    return new Promise<Ok>((resolve, reject) => {
      const call = this.send(request, transfer);
      this.#pending.set(call, { resolve, reject });
      if (this.#pending.size === 1) this.#channel!.ref();
    }).then((reply) => {
      const deferred = this.#deferred;
      this.#deferred = null;
      if (deferred) throw deferred;
      return reply;
    });
  }

  private receive(reply: ProxyReply): void {
    const waiting = this.#pending.get(reply.call);
    const error = reply.ok ? null : toError(this.backend, reply.error);
    if (!waiting) {
      if (error) this.#deferred ??= error;
      return;
    }
    this.#pending.delete(reply.call);
    if (this.#pending.size === 0) {
      this.#channel?.unref();
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    }
    if (error) waiting.reject(error);
    else waiting.resolve(reply as Ok);
  }

  private fail(reason: string): void {
    if (this.broken) return;
    this.broken = reason;
    const error = new BackendError(`${this.backend}: the worker running forwardAsync failed (${reason}); the backend runs on the calling thread from now on`);
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
    this.terminate();
    this.onBroken(reason);
  }

  upload(data: Float32Array): DeviceBuffer {
    if (!(data instanceof Float32Array)) throw new ArgumentError(`${this.backend}.upload: expected a Float32Array, got ${typeof data}`);
    const copy = data.slice();
    const id = this.#next;
    const length = copy.length;
    this.send({ op: 'upload', id, data: copy }, [copy.buffer]);
    return this.track(new ProxyBuffer(this, id, length));
  }

  allocate(length: number): DeviceBuffer {
    if (!Number.isInteger(length) || length < 0) throw new RangeArgumentError(`${this.backend}.allocate: expected a length of 0 or more, got ${length}`);
    const id = this.#next;
    this.send({ op: 'allocate', id, length });
    return this.track(new ProxyBuffer(this, id, length));
  }

  private track(b: ProxyBuffer): ProxyBuffer {
    this.#finalizer?.register(b, { id: b.id, kind: 'buffer' }, b);
    return b;
  }

  read(id: number): Promise<Float32Array> {
    return this.request({ op: 'read', id }).then((r) => r.data!);
  }

  free(id: number, kind: 'buffer' | 'weights' | 'workspace'): void {
    if (this.broken || !this.#channel) return;
    this.send({ op: 'free', id, kind });
  }

  /** `layer` in the worker; the weights and the workspace are sent there on their first call. */
  async layer(args: LayerArgs<DeviceBuffer>, workspace: Workspace): Promise<void> {
    const where = `${this.backend}.layerAsync`;
    const w = args?.weights;
    if (!(w instanceof WasmPreparedWeights) || w.disposed) {
      throw new BackendError(`${where}: expected weights prepared by this backend${w instanceof WasmPreparedWeights ? ' (these were disposed)' : ''}`);
    }
    if (!(workspace instanceof WasmWorkspace) || workspace.disposed) throw new BackendError(`${where}: expected a live workspace of this backend`);
    checkLayerArgs(args, workspace, this.backend);
    const buf = (b: DeviceBuffer | null | undefined, name: string): number | null => {
      if (b === null || b === undefined) return null;
      if (!(b instanceof ProxyBuffer) || b.proxy !== this || b.disposed) {
        throw new BackendError(`${where}: ${name} is not a live device buffer of this backend`);
      }
      return b.id;
    };
    const remote: ProxyLayerArgs = {
      weights: this.weightsId(w),
      x: buf(args.x, 'x')!,
      seqLen: args.seqLen,
      batch: args.batch,
      h0: buf(args.h0, 'h0'),
      c0: buf(args.c0, 'c0'),
      out: buf(args.out, 'out')!,
      outOffset: args.outOffset,
      outStride: args.outStride,
      hN: buf(args.hN, 'hN')!,
      cN: buf(args.cN, 'cN'),
      reverse: args.reverse === true,
      batchSizes: args.batchSizes ?? null,
    };
    const reply = await this.request({ op: 'layer', args: remote, workspace: this.workspaceId(workspace) });
    this.lastThreads = reply.lastThreads ?? 1;
  }

  private weightsId(w: WasmPreparedWeights): number {
    let id = this.#weights.get(w);
    if (id === undefined) {
      id = this.#next;
      this.send({ op: 'prepare', id, weights: w.source });
      this.weightsSent++;
      this.#weights.set(w, id);
      const remoteId = id;
      w.onDispose(() => this.free(remoteId, 'weights'));
      this.#finalizer?.register(w, { id, kind: 'weights' }, w);
    }
    return id;
  }

  private workspaceId(ws: WasmWorkspace): number {
    let id = this.#workspaces.get(ws);
    if (id === undefined) {
      id = this.#next;
      this.send({ op: 'workspace', id });
      this.#workspaces.set(ws, id);
      this.#finalizer?.register(ws, { id, kind: 'workspace' }, ws);
    }
    return id;
  }

  /**
   * Ends the worker once it is idle: the calls in flight finish, and so does a module's forward that is
   * between two layers (its next call comes in a microtask after the previous one's reply), since the
   * worker exits only after a whole task passed with nothing pending. Calls made after it ended are
   * refused with a BackendError.
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const check = () => {
        if (this.broken || !this.#channel) return resolve();
        if (this.#pending.size > 0) return void this.#idle.push(() => setTimeout(check, 0));
        this.request({ op: 'exit' })
          .catch(() => undefined)
          .finally(() => {
            this.broken ??= 'disposed';
            this.terminate();
            resolve();
          });
      };
      setTimeout(check, 0);
    });
    return this.#closing;
  }

  #closing: Promise<void> | null = null;
  /** Run once nothing is pending (close() waits for idleness this way). */
  #idle: Array<() => void> = [];

  private terminate(): void {
    this.#channel?.terminate();
    this.#channel = null;
  }
}

function toError(backend: string, e: { name: string; message: string }): Error {
  const Known = ERRORS[e.name];
  return Known ? new Known(e.message) : new BackendError(`${backend}: in the worker: ${e.name}: ${e.message}`);
}
