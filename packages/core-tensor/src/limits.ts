// The most float32 values recur will try to hold, and the one check every size passes before anything
// is allocated, so that a size no machine can hold is refused at once with the size it would need,
// instead of a raw `RangeError: Invalid typed array length` minutes into filling memory.

import { RangeArgumentError } from './errors.js';

/**
 * The most elements recur puts in one tensor or one module's parameters: 2^30 (4 GiB of float32),
 * what one wasm memory can hold, so anything recur accepts can run on every backend (and is well
 * inside every engine's typed-array limit of 2^31 − 1 or more). Refusing there keeps a mistaken size
 * from spending seconds zero-filling gigabytes before failing.
 * @example
 * zeros([2 ** 15, 2 ** 16]); // a RangeArgumentError: 2^31 elements is more than MAX_ELEMENTS
 */
export const MAX_ELEMENTS = 2 ** 30;

/** The most bytes a 32-bit WebAssembly memory can hold (4 GiB): weights, scratch and all. */
export const WASM_MEMORY_BYTES = 2 ** 32;

const GIB = 2 ** 30;

/**
 * Checks that `elements` float32 values can be held and returns the count. Otherwise throws a
 * `RangeArgumentError` naming `where` (the function or module) and `what` (the option or argument
 * that asked for them), with the elements and bytes it would need against the limits.
 * @example
 * checkElements('zeros', 'shape [100000,100000]', 1e10);
 * // RangeArgumentError: zeros: shape [100000,100000] would need 10000000000 float32 values (40000000000 bytes, 37.3 GiB); ...
 */
export function checkElements(where: string, what: string, elements: number): number {
  if (elements <= MAX_ELEMENTS) return elements;
  const bytes = elements * 4;
  throw new RangeArgumentError(
    `${where}: ${what} would need ${count(elements)} float32 values (${count(bytes)} bytes, ${(bytes / GIB).toPrecision(3)} GiB); ` +
      `recur holds at most ${MAX_ELEMENTS} values (4 GiB) in one tensor or module, what wasm memory can hold (at most ${WASM_MEMORY_BYTES} bytes)`,
  );
}

/** An integer count in plain digits up to 2^53, in exponent form beyond (where digits would lie). */
function count(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : n.toPrecision(4);
}
