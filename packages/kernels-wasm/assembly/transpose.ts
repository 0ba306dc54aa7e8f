// Axis permutation of a contiguous tensor: y (in output order) walks x with permuted strides.
// shape and strides are i32 arrays of `rank` entries: the output shape and the input stride of each
// output axis; idx is rank i32s of scratch.

export function transpose(x: usize, y: usize, size: i32, rank: i32, shape: usize, strides: usize, idx: usize): void {
  memory.fill(idx, 0, <usize>rank << 2);
  let src: i32 = 0;
  for (let i = 0; i < size; i++) {
    store<f32>(y + (<usize>i << 2), load<f32>(x + (<usize>src << 2)));
    for (let d = rank - 1; d >= 0; d--) {
      const o = <usize>d << 2;
      const k = load<i32>(idx + o) + 1;
      const stride = load<i32>(strides + o);
      src += stride;
      if (k < load<i32>(shape + o)) {
        store<i32>(idx + o, k);
        break;
      }
      src -= stride * k;
      store<i32>(idx + o, 0);
    }
  }
}
