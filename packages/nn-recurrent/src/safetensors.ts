// The safetensors format (8-byte little-endian header length, a JSON header, then raw little-endian
// tensor bytes), so weights saved with `safetensors.torch.save_file(model.state_dict(), path)` load
// here as they are. The parser validates every offset before it allocates anything.

import { SafetensorsError, Tensor, checkShape, formatShape } from '@recur/core-tensor';
import type { StateDict } from './module.js';

const DTYPE_BYTES = { F32: 4, F16: 2, BF16: 2, F64: 8 } as const;
type SupportedDtype = keyof typeof DTYPE_BYTES;

export interface SafetensorsFile {
  tensors: StateDict;
  /** The header's `__metadata__` (string to string), or an empty object. */
  metadata: Record<string, string>;
}

/**
 * Reads a `.safetensors` file into tensors (F16, BF16 and F64 are converted to float32).
 * @example
 * const sd = loadSafetensors(new Uint8Array(await (await fetch('lstm.safetensors')).arrayBuffer()));
 * lstm.loadStateDict(sd);
 */
export function loadSafetensors(bytes: Uint8Array | ArrayBuffer): StateDict {
  return readSafetensors(bytes).tensors;
}

/** Like `loadSafetensors`, and also returns the header's `__metadata__`. */
export function readSafetensors(input: Uint8Array | ArrayBuffer): SafetensorsFile {
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : input;
  if (!(bytes instanceof Uint8Array)) {
    throw new SafetensorsError(`loadSafetensors: expected a Uint8Array or ArrayBuffer, got ${typeof input}`);
  }
  if (bytes.length < 8) {
    throw new SafetensorsError(`loadSafetensors: file is ${bytes.length} bytes, too short for the 8-byte header length`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLength = hi * 2 ** 32 + lo;
  if (headerLength > bytes.length - 8) {
    throw new SafetensorsError(
      `loadSafetensors: header length ${headerLength} runs past the end of the file (${bytes.length} bytes); the file is truncated or not safetensors`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new SafetensorsError(`loadSafetensors: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError('loadSafetensors: header must be a JSON object');
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Array<{ name: string; dtype: SupportedDtype; shape: number[]; begin: number; end: number }> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) throw new SafetensorsError('loadSafetensors: __metadata__ must be an object');
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== 'string') throw new SafetensorsError(`loadSafetensors: __metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, raw, dataLength));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin < cursor) {
      throw new SafetensorsError(`loadSafetensors: tensor '${e.name}' at bytes [${e.begin}, ${e.end}) overlaps the previous tensor (ends at ${cursor})`);
    }
    if (e.begin > cursor) {
      throw new SafetensorsError(`loadSafetensors: bytes [${cursor}, ${e.begin}) before tensor '${e.name}' belong to no tensor`);
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(`loadSafetensors: ${dataLength - cursor} bytes after the last tensor belong to no tensor`);
  }
  const tensors: StateDict = {};
  for (const e of entries) {
    tensors[e.name] = new Tensor(decode(view, dataStart + e.begin, e.dtype, (e.end - e.begin) / DTYPE_BYTES[e.dtype]), e.shape);
  }
  return { tensors, metadata };
}

function parseEntry(name: string, raw: unknown, dataLength: number) {
  const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  if (typeof info !== 'object' || info === null) throw new SafetensorsError(`loadSafetensors: entry '${name}' must be an object`);
  const dtype = info.dtype;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new SafetensorsError(
      `loadSafetensors: tensor '${name}' has dtype ${String(dtype)}; supported: ${Object.keys(DTYPE_BYTES).join(', ')}`,
    );
  }
  let numel: number;
  try {
    numel = checkShape(info.shape as number[], `loadSafetensors: tensor '${name}'`);
  } catch (e) {
    throw new SafetensorsError((e as Error).message);
  }
  const offsets = info.data_offsets;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw new SafetensorsError(`loadSafetensors: tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw new SafetensorsError(
      `loadSafetensors: tensor '${name}' data_offsets [${begin}, ${end}] lie outside the ${dataLength} data bytes`,
    );
  }
  const bytes = DTYPE_BYTES[dtype as SupportedDtype];
  if (end - begin !== numel * bytes) {
    throw new SafetensorsError(
      `loadSafetensors: tensor '${name}' of shape ${formatShape(info.shape as number[])} and dtype ${dtype} needs ${numel * bytes} bytes, its offsets give ${end - begin}`,
    );
  }
  return { name, dtype: dtype as SupportedDtype, shape: info.shape as number[], begin, end };
}

function decode(view: DataView, at: number, dtype: SupportedDtype, n: number): Float32Array {
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(new Uint8Array(view.buffer, view.byteOffset + at, 4 * n));
      else for (let i = 0; i < n; i++) out[i] = view.getFloat32(at + 4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(at + 8 * i, true);
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) {
        scratch.setUint32(0, view.getUint16(at + 2 * i, true) << 16, true);
        out[i] = scratch.getFloat32(0, true);
      }
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(at + 2 * i, true));
      break;
  }
  return out;
}

const scratch = new DataView(new ArrayBuffer(4));
/** The file's byte order is little-endian; on such a machine F32 data is copied as bytes. */
const LITTLE_ENDIAN = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f;

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Writes tensors as a `.safetensors` file (F32), readable by `safetensors.torch.load_file`.
 * @example
 * const bytes = saveSafetensors(lstm.stateDict());
 */
export function saveSafetensors(tensors: StateDict, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * t.size] };
    offset += 4 * t.size;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const values = tensors[name]!.values;
    for (let i = 0; i < values.length; i++, at += 4) view.setFloat32(at, values[i]!, true);
  }
  return out;
}
