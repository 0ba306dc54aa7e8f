// What every optimizer shares: its parameters (checked once), per-parameter state that round-trips
// through a plain object (stateDict / loadStateDict, so training can pause and resume), zeroGrad, and
// the in-place update that marks each parameter modified so modules re-prepare their weights.

import { ArgumentError, RangeArgumentError, StateDictError, Tensor, describeValue } from '@recur/core-tensor';

/**
 * A plain-object snapshot of an optimizer: its options and each parameter's state, by index.
 * @example
 * const saved = JSON.stringify(opt.stateDict());
 * opt.loadStateDict(JSON.parse(saved)); // resume where the run paused
 */
export interface OptimizerState {
  options: Record<string, number | boolean | number[]>;
  state: Array<Record<string, number | number[]> | null>;
}

/**
 * What `SGD`, `Adam` and `AdamW` share, as PyTorch's `torch.optim.Optimizer`: `step()`,
 * `zeroGrad()`, and `stateDict()` / `loadStateDict()` to pause and resume a run.
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1 });
 * opt.zeroGrad(); loss.backward(); opt.step();
 */
export abstract class Optimizer<Options extends object> {
  readonly params: readonly Tensor[];
  readonly options: Readonly<Options>;
  /** Per-parameter state (null until the parameter's first step). */
  protected state: Array<Map<string, Float32Array | number> | null>;

  protected constructor(
    protected readonly kind: string,
    params: Iterable<Tensor>,
    options: Options,
  ) {
    if (params === null || typeof params !== 'object' || typeof (params as Iterable<Tensor>)[Symbol.iterator] !== 'function') {
      throw new ArgumentError(`${kind}: expected an array of parameters (e.g. model.parameters()), got ${describeValue(params)}`);
    }
    const list = [...params];
    if (list.length === 0) throw new ArgumentError(`${kind}: optimizer got an empty parameter list; expected at least one tensor`);
    list.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new ArgumentError(`${kind}: parameter ${i} is ${describeValue(p)}, expected a Tensor`);
    });
    if (new Set(list).size !== list.length) throw new ArgumentError(`${kind}: a parameter appears more than once in the list`);
    this.params = list;
    this.options = Object.freeze({ ...options });
    this.state = list.map(() => null);
  }

  /** One update of every parameter that has a gradient (parameters without `.grad` are skipped). */
  step(): void {
    // Check every gradient first, so a bad one changes no parameter.
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (g && g.size !== p.size) throw new RangeArgumentError(`${this.kind}.step: parameter ${i} has ${p.size} values but its grad has ${g.size}`);
    });
    this.params.forEach((p, i) => {
      if (!p.grad) return;
      let s = this.state[i];
      if (!s) {
        s = new Map();
        this.state[i] = s;
      }
      this.update(p.values, p.grad.values, s);
      p.markModified();
    });
  }

  /** Updates `p` in place from its gradient `g` and its state `s`. */
  protected abstract update(p: Float32Array, g: Float32Array, s: Map<string, Float32Array | number>): void;

  /** Sets every parameter's gradient to null (PyTorch's `zero_grad()`). */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }

  /** The optimizer's options and state as a plain object (JSON-safe numbers and arrays). */
  stateDict(): OptimizerState {
    return {
      options: { ...(this.options as Record<string, number | boolean | number[]>) },
      state: this.state.map((s) =>
        s ? Object.fromEntries([...s].map(([k, v]) => [k, typeof v === 'number' ? v : Array.from(v)])) : null,
      ),
    };
  }

  /** Restores a state read from `stateDict()` of an optimizer of the same kind over the same parameters. */
  loadStateDict(sd: OptimizerState): void {
    const where = `${this.kind}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.state)) {
      throw new StateDictError(`${where}: expected an object { options, state: [...] } from stateDict(), got ${describeValue(sd)}`);
    }
    if (sd.state.length !== this.params.length) {
      throw new StateDictError(`${where}: expected state for ${this.params.length} parameters, got ${sd.state.length}`);
    }
    const next = sd.state.map((entry, i) => {
      if (entry === null) return null;
      if (typeof entry !== 'object') throw new StateDictError(`${where}: state ${i} is ${describeValue(entry)}, expected an object or null`);
      const m = new Map<string, Float32Array | number>();
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v === 'number') m.set(k, v);
        else if (Array.isArray(v) && v.length === this.params[i]!.size && v.every((x) => typeof x === 'number')) m.set(k, Float32Array.from(v));
        else throw new StateDictError(`${where}: state ${i}.${k} expected a number or ${this.params[i]!.size} numbers, got ${describeValue(v)}`);
      }
      return m;
    });
    this.state = next;
  }
}

/** Reads a number option with a default, checking it lies in [min, max]. */
export function numberOption(kind: string, options: object, name: string, fallback: number, min = 0, max = Number.POSITIVE_INFINITY): number {
  const v = (options as Record<string, unknown>)[name] ?? fallback;
  if (typeof v !== 'number' || !(v >= min && v <= max)) {
    throw new RangeArgumentError(`${kind}: ${name} must be a number in [${min}, ${max}], got ${describeValue(v)}`);
  }
  return v;
}
