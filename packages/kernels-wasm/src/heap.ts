// The JS side owns the wasm memory: a first-fit allocator with coalescing over one growable
// WebAssembly.Memory. The first page is left to the module's own statics. Views are refreshed
// whenever the memory grows (growing detaches the old ArrayBuffer).

import { BackendError } from '@recur/core-tensor';

const PAGE = 65536;
const ALIGN = 64;
const WASM32_LIMIT = 65536 * PAGE;

export interface MemoryStats {
  /** Size of the wasm memory in bytes. */
  bytes: number;
  /** Bytes in live allocations. */
  allocated: number;
  /** Number of live allocations. */
  blocks: number;
}

export class WasmHeap {
  f32: Float32Array;
  i32: Int32Array;
  private top: number;
  private readonly free: Array<{ ptr: number; size: number }> = [];
  private readonly used = new Map<number, number>();

  constructor(
    readonly memory: WebAssembly.Memory,
    base = PAGE,
  ) {
    this.top = base;
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }

  /** A block of at least `bytes` bytes, 64-byte aligned. Throws BackendError if memory cannot grow. */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i]!;
      if (block.size < size) continue;
      const ptr = block.ptr;
      if (block.size === size) this.free.splice(i, 1);
      else {
        block.ptr += size;
        block.size -= size;
      }
      this.used.set(ptr, size);
      return ptr;
    }
    const ptr = this.top;
    this.ensure(ptr + size, bytes);
    this.top = ptr + size;
    this.used.set(ptr, size);
    return ptr;
  }

  /** Returns a block to the heap; unknown pointers are ignored (so a double free is harmless). */
  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) return;
    this.used.delete(ptr);
    let i = 0;
    while (i < this.free.length && this.free[i]!.ptr < ptr) i++;
    this.free.splice(i, 0, { ptr, size });
    // Coalesce with the neighbours, then give a trailing free block back to the top.
    const next = this.free[i + 1];
    const cur = this.free[i]!;
    if (next && cur.ptr + cur.size === next.ptr) {
      cur.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.ptr + prev.size === cur.ptr) {
      prev.size += cur.size;
      this.free.splice(i, 1);
    }
    const last = this.free[this.free.length - 1];
    if (last && last.ptr + last.size === this.top) {
      this.top = last.ptr;
      this.free.pop();
    }
  }

  stats(): MemoryStats {
    let allocated = 0;
    for (const size of this.used.values()) allocated += size;
    return { bytes: this.memory.buffer.byteLength, allocated, blocks: this.used.size };
  }

  private ensure(end: number, asked: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > WASM32_LIMIT) {
      throw new BackendError(
        `wasm: cannot allocate ${asked} bytes: the heap would reach ${end} bytes, past the 4 GiB wasm32 limit`,
      );
    }
    // Grow by at least half the current size so that growing stays rare.
    const pages = Math.max(Math.ceil((end - have) / PAGE), Math.min(Math.ceil(have / 2 / PAGE), 65536 - have / PAGE));
    try {
      this.memory.grow(pages);
    } catch (error) {
      try {
        this.memory.grow(Math.ceil((end - have) / PAGE));
      } catch {
        throw new BackendError(
          `wasm: cannot allocate ${asked} bytes: growing the memory from ${have} to ${end} bytes failed (${(error as Error).message})`,
          { cause: error },
        );
      }
    }
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }
}
