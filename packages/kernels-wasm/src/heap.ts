// The JS side owns the wasm memory: a first-fit allocator with coalescing over one growable
// WebAssembly.Memory. The first page is left to the module's own statics. Views are refreshed
// whenever the memory grows (growing detaches the old ArrayBuffer). A wasm memory never shrinks, so
// freed blocks are reused first and growth asks for little more than the need.

import { BackendError, WASM_MEMORY_BYTES } from '@recur/core-tensor';

const PAGE = 65536;
const ALIGN = 64;
/** Growth beyond the need: half the memory so far (growing stays rare), but at most this much. */
const GROWTH_SLACK = 16 << 20;

/**
 * What the wasm memory holds, in bytes: `reserved + allocated + free + top === bytes`, with 64 KiB
 * reserved for the kernels' own statics.
 * @example
 * const { bytes, allocated, free, top } = wasmBackend.memoryStats();
 */
export interface MemoryStats {
  /** Size of the wasm memory (it grows when needed and never shrinks; `reset()` drops it). */
  bytes: number;
  /** Bytes in live allocations: prepared weights, workspaces' scratch, a call's temporaries. */
  allocated: number;
  /** Number of live allocations. */
  blocks: number;
  /** Bytes in free blocks between live ones, reused (first fit) before the memory grows. */
  free: number;
  /** Number of free blocks: many for few bytes means the free space is fragmented. */
  freeBlocks: number;
  /** Bytes past the last live block, the top of the heap: free for an allocation of any size. */
  top: number;
}

export class WasmHeap {
  f32: Float32Array;
  i32: Int32Array;
  private top: number;
  private readonly free: Array<{ ptr: number; size: number }> = [];
  private readonly used = new Map<number, number>();

  private readonly base: number;
  #memory: WebAssembly.Memory | null;

  constructor(memory: WebAssembly.Memory, base = PAGE) {
    this.#memory = memory;
    this.base = base;
    this.top = base;
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }

  /** False once `drop()` let go of the memory. */
  get live(): boolean {
    return this.#memory !== null;
  }

  /**
   * Lets go of the memory and forgets every block, so the memory can be garbage-collected even while
   * objects that pointed into it survive; releasing into a dropped heap does nothing.
   */
  drop(): void {
    this.#memory = null;
    this.used.clear();
    this.free.length = 0;
    this.top = this.base;
    this.f32 = new Float32Array(0);
    this.i32 = new Int32Array(0);
  }

  /** A block of at least `bytes` bytes, 64-byte aligned. Throws BackendError if memory cannot grow. */
  alloc(bytes: number): number {
    if (!this.#memory) throw new BackendError('wasm: the heap was dropped by reset(); allocate from the backend\'s new heap');
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
    let free = 0;
    for (const block of this.free) free += block.size;
    const bytes = this.#memory ? this.#memory.buffer.byteLength : 0;
    return { bytes, allocated, blocks: this.used.size, free, freeBlocks: this.free.length, top: Math.max(0, bytes - this.top) };
  }

  private ensure(end: number, asked: number): void {
    const memory = this.#memory!;
    const have = memory.buffer.byteLength;
    if (end <= have) return;
    if (end > WASM_MEMORY_BYTES) {
      throw new BackendError(
        `wasm: cannot allocate ${asked} bytes: the heap would reach ${end} bytes, past the 4 GiB wasm32 limit`,
      );
    }
    const need = Math.ceil((end - have) / PAGE);
    const slack = Math.ceil(Math.min(have / 2, GROWTH_SLACK) / PAGE);
    const pages = Math.min(need + slack, WASM_MEMORY_BYTES / PAGE - have / PAGE);
    try {
      memory.grow(pages);
    } catch (error) {
      try {
        memory.grow(need);
      } catch {
        throw new BackendError(
          `wasm: cannot allocate ${asked} bytes: growing the memory from ${have} to ${end} bytes failed (${(error as Error).message})`,
          { cause: error },
        );
      }
    }
    this.f32 = new Float32Array(memory.buffer);
    this.i32 = new Int32Array(memory.buffer);
  }
}
