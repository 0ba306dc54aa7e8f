// Error classes shared by every recur package, and the one describer of values in their messages.
// Each class is branded with global symbols, so `instanceof` and `isInstance` keep working when a
// bundle ends up with two copies of this package; every class carries the RecurError brand, so
// `RecurError.isInstance(e)` (and `e instanceof RecurError`) catches every error recur throws, also
// the ones that extend the built-in `TypeError` or `RangeError` users expect for bad arguments.

const BRAND = Symbol.for('@recur/core-tensor/error');

function brandOf(name: string): symbol {
  return Symbol.for(`@recur/core-tensor/error/${name}`);
}

/** Marks `error` with every brand of its class chain (RecurError's included). */
function applyBrands(error: Error, ctor: unknown): void {
  Object.defineProperty(error, BRAND, { value: true });
  for (let c: unknown = ctor; c && c !== Error; c = Object.getPrototypeOf(c)) {
    const brand = Object.hasOwn(c as object, 'brand') ? (c as { brand?: symbol }).brand : undefined;
    if (brand) Object.defineProperty(error, brand, { value: true });
  }
}

function isBranded(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

// biome-ignore lint/suspicious/noExplicitAny: TypeScript's mixin pattern needs a constructor of any[]
type ErrorClass = new (...args: any[]) => Error;

/**
 * `Base` with recur's brands: instances carry the RecurError brand and one per class of their chain,
 * and `instanceof` / `isInstance` test the brand, so they work across copies of this package.
 */
function branded<B extends ErrorClass>(Base: B, brand: symbol) {
  return class Branded extends Base {
    static readonly brand: symbol = brand;

    // biome-ignore lint/suspicious/noExplicitAny: a mixin's constructor must take any[]
    constructor(...args: any[]) {
      super(args[0] as string, args[1] as { cause?: unknown } | undefined);
      this.name = new.target.name;
      applyBrands(this, new.target);
    }

    /** True for an error of this class (or a subclass), even from another copy of the package. */
    static isInstance(value: unknown): boolean {
      return isBranded(value, this.brand);
    }

    /** Makes `instanceof` test the brand, as `isInstance` does. */
    static override [Symbol.hasInstance](value: unknown): boolean {
      return this.isInstance(value);
    }
  };
}

/**
 * Base class of every error recur throws on purpose.
 * @example
 * try { tensor([1, 2], [3]); } catch (e) { if (RecurError.isInstance(e)) console.log(e.message); }
 */
export class RecurError extends branded(Error, BRAND) {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A tensor or argument has the wrong shape, rank or size.
 * @example
 * tensor([1, 2, 3], [2, 2]); // ShapeError: tensor: data has 3 values, expected 4 for shape [2,2]
 */
export class ShapeError extends RecurError {
  static override readonly brand: symbol = brandOf('ShapeError');
}

/**
 * A backend is unknown, failed to initialise, was used after `dispose()`, or failed inside a kernel.
 * @example
 * await setBackend('nope'); // BackendError: setBackend: unknown backend 'nope'; registered: js
 */
export class BackendError extends RecurError {
  static override readonly brand: symbol = brandOf('BackendError');
  /** For an aggregate failure (`ready()`), each backend's own error. */
  readonly failures: ReadonlyArray<{ backend: string; error: unknown }>;

  constructor(
    message: string,
    options?: { cause?: unknown; failures?: ReadonlyArray<{ backend: string; error: unknown }> },
  ) {
    super(message, options);
    this.failures = options?.failures ?? [];
  }
}

/**
 * A state dict does not fit a module: missing, unexpected or mis-shaped keys, or values that are not tensors.
 * @example
 * lstm.loadStateDict({}); // StateDictError: LSTM.loadStateDict: 4 problems: missing key weight_ih_l0 ...
 */
export class StateDictError extends RecurError {
  static override readonly brand: symbol = brandOf('StateDictError');
}

/**
 * A file recur reads (a `.safetensors` file, later `.pt`, ONNX, Keras) is malformed or of another kind.
 * @example
 * loadSafetensors(new Uint8Array(3)); // SafetensorsError: safetensors: file is 3 bytes, too short ...
 */
export class SafetensorsError extends RecurError {
  static override readonly brand: symbol = brandOf('SafetensorsError');
}

/**
 * An argument of the wrong kind (a number where a tensor was expected, an unknown option value or
 * operation name). Also a `TypeError`, as JavaScript users expect for such mistakes.
 * @example
 * new LSTM('5', 10); // ArgumentError: LSTM: expected (inputSize, hiddenSize, ...) or an options object, got (the string '5', number 10)
 */
export class ArgumentError extends branded(TypeError, brandOf('ArgumentError')) {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A numeric argument outside what it allows (a negative size, a dropout above 1, a size no memory can
 * hold). Also a `RangeError`.
 * @example
 * new GRU(4, 0); // RangeArgumentError: GRU: hiddenSize must be an integer greater than zero, got number 0
 */
export class RangeArgumentError extends branded(RangeError, brandOf('RangeArgumentError')) {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Formats a shape the way error messages print it: `[2,3,4]`.
 * @example
 * formatShape([2, 3, 4]); // '[2,3,4]'
 */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Describes any value for an error message, in a few words and without walking it: safe for hostile
 * input (deeply nested, huge, with getters or a `__proto__` key) and never naming an internal class.
 * @example
 * describeValue(null);               // 'null'
 * describeValue([1, 2]);             // 'an array of 2'
 * describeValue(tensor([[1, 2]]));   // 'a tensor of shape [1,2]'
 * describeValue('lstm');             // "the string 'lstm'"
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'string':
      return value.length > 40 ? `a string of ${value.length} characters` : `the string '${value}'`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  const shape = safeShape(value);
  if (shape) return `a tensor of shape ${formatShape(shape)}`;
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  if (ArrayBuffer.isView(value) && 'length' in value) return `a ${tag} of ${(value as { length: number }).length}`;
  return tag === 'Object' ? 'an object' : `a ${tag}`;
}

/** The `shape` of a tensor-like value when it is a short array of safe integers, else null. */
function safeShape(value: object): number[] | null {
  try {
    const shape = (value as { shape?: unknown }).shape;
    if (!Array.isArray(shape) || shape.length > 32) return null;
    return shape.every((d) => Number.isSafeInteger(d)) ? (shape as number[]) : null;
  } catch {
    return null;
  }
}
