// Reading the descriptors the JS side fills (byte offsets and counts as i32 slots), shared by the
// forward (layers.ts) and backward (backward.ts) kernels.

/** Slot `i` of the descriptor at `d` as a byte offset (0 = absent). */
// @ts-ignore: decorator
@inline
export function slot(d: usize, i: i32): usize {
  return <usize>load<i32>(d + (<usize>i << 2));
}

/** Slot `i` of the descriptor at `d` as a number. */
// @ts-ignore: decorator
@inline
export function num(d: usize, i: i32): i32 {
  return load<i32>(d + (<usize>i << 2));
}

/** n rounded up to a multiple of 8 (the packed panels' width). */
// @ts-ignore: decorator
@inline
export function roundUp8(n: i32): i32 {
  return (n + 7) & ~7;
}
