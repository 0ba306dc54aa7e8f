// What every recurrent module shares: named parameters in PyTorch's order and layout, state dicts
// with an atomic load into the existing parameter tensors, train/eval, and the weights and workspace
// prepared once per backend (rebuilt only after a load or a backend switch), in the spirit of
// PyTorch's flatten_parameters.

import {
  type Backend,
  BackendError,
  Generator,
  type PreparedWeights,
  type RecurrentLayout,
  type RecurrentWeights,
  Tensor,
  type Workspace,
  activeBackend,
  globalGenerator,
  layerInputSize,
  recurrentParameters,
} from '@recur/core-tensor';
import { type LoadStateDictOptions, type LoadStateDictResult, type StateDict, readStateDict } from './state-dict.js';

export type { LoadStateDictOptions, LoadStateDictResult, StateDict } from './state-dict.js';

/** A module's kernels on one backend: its prepared weights per (layer, direction) and a workspace. */
export interface PreparedModule {
  backend: Backend;
  weights: PreparedWeights[];
  workspace: Workspace;
  /**
   * A second workspace for the reverse direction of a bidirectional module on a backend that runs the
   * two directions side by side (`capabilities.concurrent`); null otherwise.
   */
  pairWorkspace: Workspace | null;
  /** Training workspaces (reserve space) for recorded forwards, reused once their backward is done. */
  pool: TrainingPool;
}

/**
 * The training workspaces of one backend: idle ones to reuse, and the ones lent to recorded forwards
 * whose backward has not run yet. Lent ones are held weakly, so a graph that is dropped without a
 * backward lets its workspace be collected. Closing the pool (re-preparing or disposing the module)
 * frees them all; a backward through a graph made before that then throws the disposed error.
 */
export class TrainingPool {
  private idle: Workspace[] = [];
  private lent = new Set<WeakRef<Workspace>>();
  private readonly refs = new WeakMap<Workspace, WeakRef<Workspace>>();
  private closed = false;

  constructor(private readonly backend: Backend) {}

  acquire(): Workspace {
    const ws = this.idle.pop() ?? this.backend.createWorkspace({ training: true });
    if (this.lent.size > 256) this.lent = new Set([...this.lent].filter((r) => r.deref() !== undefined));
    const ref = new WeakRef(ws);
    this.refs.set(ws, ref);
    this.lent.add(ref);
    return ws;
  }

  release(ws: Workspace): void {
    const ref = this.refs.get(ws);
    if (ref) this.lent.delete(ref);
    if (this.closed || this.idle.length >= 64) ws.dispose();
    else this.idle.push(ws);
  }

  close(): void {
    this.closed = true;
    for (const ws of this.idle) ws.dispose();
    for (const ref of this.lent) ref.deref()?.dispose();
    this.idle = [];
    this.lent.clear();
  }
}

/**
 * What every recur layer shares with PyTorch's `nn.Module`: named parameters, `stateDict` /
 * `loadStateDict`, `train()` / `eval()`, `zeroGrad()`, `requiresGrad_()` and `dispose()`.
 * @example
 * const model = new Linear(4, 2);
 * model.eval();
 * model.namedParameters().map(([name, p]) => `${name} ${p.shape}`); // ['weight 2,4', 'bias 2']
 */
export abstract class Module {
  /** PyTorch's `training` flag: dropout is active only while true. Default true, as in PyTorch. */
  training = true;
  protected readonly params = new Map<string, Tensor>();
  /** The parameters in order (an array, so per-frame checks make no iterator). */
  private paramList: Tensor[] = [];
  #disposed = false;

  /** The module's name in messages, e.g. 'LSTM'. */
  protected abstract get kind(): string;

  /** Declares a parameter (in state-dict order); it requires grad. */
  protected addParameter(name: string, data: Float32Array, shape: readonly number[]): void {
    const t = new Tensor(data, shape, { requiresGrad: true });
    this.params.set(name, t);
    this.paramList.push(t);
  }

  /** The generator of a default initialisation: seeded, or drawn from the global generator. */
  protected static generator(seed: number | undefined): Generator {
    return seed === undefined ? new Generator(globalGenerator().nextUint32()) : new Generator(seed);
  }

  /** The parameters in state-dict order, as an array (for recording operations). */
  protected get parameterList(): readonly Tensor[] {
    return this.paramList;
  }

  /**
   * Sets `requiresGrad` on every parameter (PyTorch's `module.requires_grad_()`): `false` makes the
   * module's forward record nothing, e.g. for a frozen encoder or for inference. Returns the module.
   * @example
   * lstm.requiresGrad_(false);
   */
  requiresGrad_(flag = true): this {
    for (const p of this.paramList) p.requiresGrad = flag;
    return this;
  }

  /**
   * Sets every parameter's gradient to null (PyTorch's `zero_grad()`, which sets them to None).
   * @example
   * lstm.zeroGrad();
   */
  zeroGrad(): void {
    for (const p of this.paramList) p.grad = null;
  }

  /**
   * Parameters in state-dict order: the module's own tensors, which require grad by default as in
   * PyTorch. An optimizer changes them in place (and marks them modified, so the next forward
   * prepares the new values).
   */
  parameters(): Tensor[] {
    return [...this.paramList];
  }

  /** `[name, tensor]` pairs in state-dict order, with PyTorch's names. */
  namedParameters(): Array<[string, Tensor]> {
    return [...this.params.entries()];
  }

  /**
   * A copy of every parameter, keyed by PyTorch's names (`weight_ih_l0`, `bias_hh_l1_reverse`, ...).
   * @example
   * const sd = lstm.stateDict(); Object.keys(sd); // ['weight_ih_l0', 'weight_hh_l0', 'bias_ih_l0', 'bias_hh_l0']
   */
  stateDict(): StateDict {
    const sd: StateDict = {};
    for (const [name, t] of this.params) sd[name] = t.clone();
    return sd;
  }

  /**
   * Loads weights with PyTorch's names and shapes, copying them into the existing parameter tensors
   * (references held elsewhere stay valid). Everything is checked and read before anything is
   * applied: a failed load throws one `StateDictError` listing every problem and changes no weight.
   * @example
   * lstm.loadStateDict(loadSafetensors(bytes));
   */
  loadStateDict(stateDict: StateDict | Map<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const { updates, result } = readStateDict(`${this.kind}.loadStateDict`, this.params, stateDict, options);
    for (const [name, data] of updates) {
      const p = this.params.get(name)!;
      p.values.set(data);
      p.markModified();
    }
    this.parametersLoaded();
    return result;
  }

  /** Called after a load changed parameters in place. */
  protected parametersLoaded(): void {}

  /** Training mode (dropout active), as `module.train()` in PyTorch. Returns the module. */
  train(mode = true): this {
    this.training = mode;
    return this;
  }

  /** Evaluation mode (no dropout), as `module.eval()` in PyTorch. Returns the module. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Frees what the module holds on its backend. The module cannot run afterwards: using it throws
   * a `BackendError`. Idempotent.
   */
  dispose(): void {
    this.#disposed = true;
  }

  /** Throws the BackendError of a module used after dispose(). */
  protected checkNotDisposed(): void {
    if (this.#disposed) {
      throw new BackendError(`${this.kind}: used after dispose(); create a new module (and loadStateDict into it)`);
    }
  }
}

/**
 * A recurrent module: parameters in PyTorch's recurrent layout, and its weights prepared per backend.
 * @example
 * const modules: RecurrentModule[] = [new LSTM(4, 8), new GRU(4, 8), new RNN(4, 8)];
 * for (const m of modules) m.eval();
 */
export abstract class RecurrentModule extends Module {
  private prepared: PreparedModule | null = null;
  /** Each parameter's version when the prepared weights were made. */
  private preparedVersions: number[] = [];

  /** The PyTorch layout of this module's parameters. */
  protected abstract get layout(): RecurrentLayout;

  /** Creates every parameter in state-dict order, each from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch does. */
  protected initParameters(seed: number | undefined): void {
    const g = Module.generator(seed);
    const bound = 1 / Math.sqrt(this.layout.hiddenSize);
    for (const spec of recurrentParameters(this.layout)) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = -bound + 2 * bound * g.uniform();
      this.addParameter(spec.name, data, spec.shape);
    }
  }

  protected override parametersLoaded(): void {
    this.releasePrepared();
  }

  /**
   * Frees what the module holds on its backend (prepared weights and workspace). The module cannot
   * run afterwards: every forward or stream step throws a `BackendError`. Idempotent.
   */
  override dispose(): void {
    this.releasePrepared();
    super.dispose();
  }

  /** The current backend with this module's weights prepared for it, and the module's workspace. */
  protected preparedFor(backend: Backend = activeBackend()): PreparedModule {
    this.checkNotDisposed();
    if (this.prepared?.backend !== backend || this.parametersChanged() || this.prepared.weights[0]?.disposed) {
      this.releasePrepared();
      const weights: PreparedWeights[] = [];
      try {
        for (const spec of this.weightSpecs()) weights.push(backend.prepareWeights(spec));
        const pairs = this.layout.bidirectional === true && backend.capabilities?.concurrent === true && typeof backend.layers === 'function';
        this.prepared = {
          backend,
          weights,
          workspace: backend.createWorkspace(),
          pairWorkspace: pairs ? backend.createWorkspace() : null,
          pool: new TrainingPool(backend),
        };
        this.preparedVersions = this.parameterList.map((p) => p.version);
      } catch (error) {
        for (const w of weights) w.dispose();
        throw error;
      }
    }
    return this.prepared;
  }

  /** True when a parameter changed in place since its weights were prepared. */
  private parametersChanged(): boolean {
    const list = this.parameterList;
    const versions = this.preparedVersions;
    for (let i = 0; i < list.length; i++) if (list[i]!.version !== versions[i]) return true;
    return false;
  }

  /** One entry per (layer, direction) in PyTorch's order: the weights a fused kernel runs on. */
  private weightSpecs(): RecurrentWeights[] {
    const layout = this.layout;
    const specs = new Map<string, RecurrentWeights>();
    for (const p of recurrentParameters(layout)) {
      const key = `${p.layer}:${p.direction}`;
      let spec = specs.get(key);
      if (!spec) {
        spec = {
          mode: layout.mode,
          inputSize: layerInputSize(layout, p.layer),
          hiddenSize: layout.hiddenSize,
          projSize: layout.projSize ?? 0,
          weightIh: new Float32Array(0),
          weightHh: new Float32Array(0),
          biasIh: null,
          biasHh: null,
          weightHr: null,
        };
        specs.set(key, spec);
      }
      const values = this.params.get(p.name)!.values;
      if (p.role === 'weight_ih') spec.weightIh = values;
      else if (p.role === 'weight_hh') spec.weightHh = values;
      else if (p.role === 'bias_ih') spec.biasIh = values;
      else if (p.role === 'bias_hh') spec.biasHh = values;
      else spec.weightHr = values;
    }
    return [...specs.values()];
  }

  private releasePrepared(): void {
    if (this.prepared) {
      for (const w of this.prepared.weights) w.dispose();
      this.prepared.workspace.dispose();
      this.prepared.pairWorkspace?.dispose();
      this.prepared.pool.close();
    }
    this.prepared = null;
  }
}
