// What every recurrent module shares: named parameters in PyTorch's order and layout, state dicts
// with an atomic load, train/eval, and weights prepared once per backend (rebuilt only after a load
// or a backend switch), in the spirit of PyTorch's flatten_parameters.

import {
  type Backend,
  Generator,
  type PreparedWeights,
  type RecurrentWeights,
  ShapeError,
  Tensor,
  activeBackend,
  formatShape,
  globalGenerator,
} from '@recur/core-tensor';

/** A state dict: parameter name to tensor, as PyTorch's `module.state_dict()`. */
export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Reject missing and unexpected keys (default true). Mis-shaped keys are rejected either way. */
  strict?: boolean;
  /** Only keys starting with this prefix are considered, with the prefix removed (e.g. `'encoder.rnn.'`). */
  prefix?: string;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export abstract class RecurrentModule {
  /** PyTorch's `training` flag: dropout is active only while true. Default true, as in PyTorch. */
  training = true;
  protected readonly params = new Map<string, Tensor>();
  private prepared: { backend: Backend; weights: PreparedWeights[] } | null = null;

  /** The module's name in messages, e.g. 'LSTM'. */
  protected abstract get kind(): string;

  /** One entry per (layer, direction) in PyTorch's order: the weights a fused kernel runs on. */
  protected abstract weightSpecs(): RecurrentWeights[];

  /** Declares a parameter and fills it from U(-bound, bound), in declaration order as PyTorch does. */
  protected addParameter(name: string, shape: number[], bound: number, g: Generator): void {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = -bound + 2 * bound * g.uniform();
    this.params.set(name, new Tensor(data, shape));
  }

  protected static generator(seed: number | undefined): Generator {
    return seed === undefined ? new Generator(globalGenerator().nextUint32()) : new Generator(seed);
  }

  /** Parameters in state-dict order (the module's own tensors: treat them as read-only). */
  parameters(): Tensor[] {
    return [...this.params.values()];
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
   * Loads weights with PyTorch's names and shapes. Everything is checked before anything is applied:
   * a failed load throws one Error listing every problem and leaves the module's weights unchanged.
   * @example
   * lstm.loadStateDict(loadSafetensors(bytes));
   */
  loadStateDict(stateDict: StateDict | Map<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const where = `${this.kind}.loadStateDict`;
    if (typeof stateDict !== 'object' || stateDict === null) {
      throw new TypeError(`${where}: expected a state dict object mapping names to tensors, got ${String(stateDict)}`);
    }
    const strict = options.strict ?? true;
    const prefix = options.prefix ?? '';
    const entries = stateDict instanceof Map ? [...stateDict.entries()] : Object.entries(stateDict);
    const given = new Map<string, unknown>();
    for (const [key, value] of entries) if (key.startsWith(prefix)) given.set(key.slice(prefix.length), value);

    const problems: string[] = [];
    const updates: Array<[string, Float32Array]> = [];
    const missingKeys: string[] = [];
    for (const [name, current] of this.params) {
      if (!given.has(name)) {
        missingKeys.push(name);
        if (strict) problems.push(`missing key ${prefix}${name} (expected shape ${formatShape(current.shape)})`);
        continue;
      }
      const value = given.get(name);
      const shape = tensorShape(value);
      if (!shape) {
        problems.push(`${prefix}${name} expected a Tensor, got ${typeof value}`);
      } else if (shape.length !== current.shape.length || shape.some((d, i) => d !== current.shape[i])) {
        problems.push(`${prefix}${name} expected shape ${formatShape(current.shape)}, got ${formatShape(shape)}`);
      } else {
        updates.push([name, (value as Tensor).dataSync()]);
      }
    }
    const unexpectedKeys = [...given.keys()].filter((k) => !this.params.has(k)).map((k) => prefix + k);
    if (strict) for (const k of unexpectedKeys) problems.push(`unexpected key ${k}`);
    if (problems.length > 0) {
      const detail = problems.length === 1 ? problems[0] : `${problems.length} problems: ${problems.join('; ')}`;
      throw new ShapeError(`${where}: ${detail}`);
    }
    for (const [name, data] of updates) this.params.set(name, new Tensor(data, this.params.get(name)!.shape));
    this.releasePrepared();
    return { missingKeys, unexpectedKeys };
  }

  /** Training mode (dropout active), as `module.train()` in PyTorch. Returns the module. */
  train(mode = true): this {
    this.training = mode;
    return this;
  }

  /** Evaluation mode (no dropout), as `module.eval()` in PyTorch. Returns the module. */
  eval(): this {
    return this.train(false);
  }

  /** Frees the weights prepared for the current backend; they are rebuilt on the next forward. */
  dispose(): void {
    this.releasePrepared();
  }

  /** The current backend and this module's weights prepared for it. */
  protected backendAndWeights(): { backend: Backend; weights: PreparedWeights[] } {
    const backend = activeBackend();
    if (this.prepared?.backend !== backend) {
      this.releasePrepared();
      this.prepared = { backend, weights: this.weightSpecs().map((w) => backend.prepareWeights(w)) };
    }
    return this.prepared;
  }

  private releasePrepared(): void {
    if (this.prepared) for (const w of this.prepared.weights) w.dispose();
    this.prepared = null;
  }

  protected param(name: string): Float32Array {
    return this.params.get(name)!.values;
  }

  protected paramOrNull(name: string): Float32Array | null {
    return this.params.get(name)?.values ?? null;
  }
}

/** The shape of a Tensor, also one made by another copy of core-tensor; null for anything else. */
function tensorShape(value: unknown): readonly number[] | null {
  if (value instanceof Tensor) return value.shape;
  const v = value as { shape?: unknown; dataSync?: unknown } | null;
  if (v && Array.isArray(v.shape) && typeof v.dataSync === 'function') return v.shape as number[];
  return null;
}

/** Validates that `value` is a tensor; returns it. */
export function expectTensor(kind: string, name: string, value: unknown): Tensor {
  if (value instanceof Tensor) return value;
  throw new TypeError(`${kind}: expected ${name} as a Tensor, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
}
