// Error classes shared by every recur package. Each class is branded with a global symbol so
// `instanceof` and `isInstance` keep working when a bundle ends up with two copies of this package.

const BRAND = Symbol.for('@recur/core-tensor/error');

function brandOf(name: string): symbol {
  return Symbol.for(`@recur/core-tensor/error/${name}`);
}

/**
 * Base class of every error recur throws on purpose.
 * @example
 * try { tensor([1, 2], [3]); } catch (e) { if (RecurError.isInstance(e)) console.log(e.message); }
 */
export class RecurError extends Error {
  protected static readonly brand: symbol = BRAND;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    for (let c: unknown = new.target; c && c !== Error; c = Object.getPrototypeOf(c)) {
      const brand = (c as { brand?: symbol }).brand;
      if (brand) Object.defineProperty(this, brand, { value: true });
    }
  }

  /** True for an error of this class (or a subclass), even from another copy of the package. */
  static isInstance(value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[this.brand] === true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return this.isInstance(value);
  }
}

/**
 * A tensor or argument has the wrong shape, rank or size.
 * @example
 * tensor([1, 2, 3], [2, 2]); // ShapeError: tensor: data has 3 values, expected 4 for shape [2,2]
 */
export class ShapeError extends RecurError {
  protected static override readonly brand: symbol = brandOf('ShapeError');
}

/**
 * A backend is unknown, failed to initialise, or failed inside a kernel.
 * @example
 * await setBackend('nope'); // BackendError: setBackend: unknown backend 'nope'; registered: js
 */
export class BackendError extends RecurError {
  protected static override readonly brand: symbol = brandOf('BackendError');
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

/** Formats a shape the way error messages print it: `[2,3,4]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
