// The small reverse-mode tape: a node per recorded operation (a whole recurrent layer is one node),
// recorded only while grad mode is on and some input requires grad, and the engine that walks the
// nodes in reverse topological order, accumulating `.grad` on leaves as PyTorch does.

import { ArgumentError, RecurError, ShapeError, formatShape } from './errors.js';
import type { Tensor } from './tensor.js';

/**
 * Gradients of a node's outputs (null: zero) in, gradients of its inputs (null: none) out.
 * `retained` is false when this is the node's last backward, so it may free what it saved.
 */
export type BackwardFn = (gradOutputs: ReadonlyArray<Float32Array | null>, retained: boolean) => ReadonlyArray<Float32Array | null>;

/**
 * One recorded operation: its inputs, the shapes of its outputs and its gradient rule. Created by
 * `recordOp`; an output tensor points to it through `gradFn`.
 */
export class GradNode {
  #backward: BackwardFn | null;

  constructor(
    /** The operation's name, e.g. 'mul' or 'LSTM.layer', for messages. */
    readonly name: string,
    readonly inputs: readonly Tensor[],
    readonly outputShapes: ReadonlyArray<readonly number[]>,
    backward: BackwardFn,
  ) {
    this.#backward = backward;
  }

  /** Runs the gradient rule, then frees what it saved unless the graph is retained. */
  apply(gradOutputs: ReadonlyArray<Float32Array | null>, retainGraph: boolean): ReadonlyArray<Float32Array | null> {
    const rule = this.#backward;
    if (!rule) {
      throw new GradError(
        `backward: trying to backward through the graph a second time (through '${this.name}'), after its saved values were freed; call backward({ retainGraph: true }) the first time if you need to`,
      );
    }
    if (!retainGraph) this.#backward = null;
    return rule(gradOutputs, retainGraph);
  }
}

/**
 * A gradient computation cannot run: a second backward through freed buffers, a gradient of the
 * wrong shape, a non-scalar output without a gradient.
 * @example
 * loss.backward(); loss.backward(); // GradError: backward: trying to backward through the graph a second time ...
 */
export class GradError extends RecurError {
  static override readonly brand: symbol = Symbol.for('@recur/core-tensor/error/GradError');
}

const state = { enabled: true };

/**
 * Whether operations are recorded now (false inside `noGrad`).
 * @example
 * noGrad(() => isGradEnabled()); // false
 * isGradEnabled();               // true
 */
export function isGradEnabled(): boolean {
  return state.enabled;
}

/**
 * Runs `fn` without recording anything (PyTorch's `torch.no_grad()`), and returns its result.
 * @example
 * const [out] = noGrad(() => lstm.forward(x)); // out.requiresGrad === false
 */
export function noGrad<T>(fn: () => T): T {
  const before = state.enabled;
  state.enabled = false;
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new ArgumentError('noGrad: expected a synchronous function; recording is switched per call, not across awaits');
    }
    return result;
  } finally {
    state.enabled = before;
  }
}

/** True when an operation on `inputs` must be recorded: grad mode is on and one of them requires grad. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  if (!state.enabled) return false;
  for (const t of inputs) if (t.requiresGrad) return true;
  return false;
}

/**
 * Records an operation whose `outputs` were computed from `inputs`, with its gradient rule. Does
 * nothing when no input requires grad or grad mode is off.
 * Used by every differentiable operation, including whole recurrent layers in `@recur/nn-recurrent`.
 */
export function recordOp(name: string, inputs: readonly Tensor[], outputs: readonly Tensor[], backward: BackwardFn): void {
  if (!needsGrad(inputs)) return;
  const node = new GradNode(
    name,
    inputs,
    outputs.map((t) => t.shape),
    backward,
  );
  for (const [i, t] of outputs.entries()) t._attach(node, i);
}

/** Options of `Tensor.backward`. */
export interface BackwardOptions {
  /** Keep the saved values so the graph can be walked again (default false). */
  retainGraph?: boolean;
}

/** Runs the backward pass from `root`, seeded with `gradient` (root's shape). */
export function runBackward(root: Tensor, gradient: Float32Array, options: BackwardOptions = {}): void {
  if (!root.requiresGrad) {
    throw new GradError('backward: the tensor does not require grad and has no gradFn (did a noGrad() or detach() cut the graph?)');
  }
  if (gradient.length !== root.size) {
    throw new ShapeError(`backward: expected a gradient of shape ${formatShape(root.shape)}, got ${gradient.length} values`);
  }
  const start = root.gradFn;
  if (!start) {
    root._accumulateGrad(gradient);
    return;
  }
  const order = topologicalOrder(start);
  const pending = new Map<GradNode, Array<Float32Array | null>>();
  pending.set(start, start.outputShapes.map(() => null));
  pending.get(start)![root.outputIndex] = gradient;
  const retain = options.retainGraph ?? false;
  for (const node of order) {
    const grads = pending.get(node);
    pending.delete(node);
    if (!grads || grads.every((g) => g === null)) continue;
    const inputGrads = node.apply(grads, retain);
    node.inputs.forEach((input, i) => {
      const g = inputGrads[i];
      if (!g || !input.requiresGrad) return;
      if (g.length !== input.size) {
        throw new ShapeError(
          `backward: '${node.name}' produced a gradient of ${g.length} values for an input of shape ${formatShape(input.shape)}`,
        );
      }
      const fn = input.gradFn;
      if (!fn) {
        input._accumulateGrad(g);
        return;
      }
      let slot = pending.get(fn);
      if (!slot) {
        slot = fn.outputShapes.map(() => null);
        pending.set(fn, slot);
      }
      const k = input.outputIndex;
      const prev = slot[k];
      if (!prev) slot[k] = g;
      else {
        const sum = new Float32Array(prev.length);
        for (let j = 0; j < sum.length; j++) sum[j] = prev[j]! + g[j]!;
        slot[k] = sum;
      }
    });
  }
}

/** Nodes reachable from `start`, each before the nodes it feeds (iterative, for long chains). */
function topologicalOrder(start: GradNode): GradNode[] {
  const post: GradNode[] = [];
  const seen = new Set<GradNode>([start]);
  const stack: Array<{ node: GradNode; next: number }> = [{ node: start, next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.node.inputs.length) {
      const fn = top.node.inputs[top.next++]!.gradFn;
      if (fn && !seen.has(fn)) {
        seen.add(fn);
        stack.push({ node: fn, next: 0 });
      }
    } else {
      post.push(top.node);
      stack.pop();
    }
  }
  return post.reverse();
}
