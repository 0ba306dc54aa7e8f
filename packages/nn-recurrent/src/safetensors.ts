// The safetensors format (8-byte little-endian header length, a JSON header, then raw little-endian
// tensor bytes), so weights saved with `safetensors.torch.save_file(model.state_dict(), path)` load
// here as they are. The parser validates every offset before it allocates anything.

import { ArgumentError, RangeArgumentError, SafetensorsError, Tensor, describeValue, formatShape } from '@recur/core-tensor';
import type { StateDict } from './module.js';

/** Bytes per element of each dtype recur reads; a Map, so no prototype name ('constructor') is a dtype. */
const DTYPE_BYTES: ReadonlyMap<string, number> = new Map([
  ['F32', 4],
  ['F16', 2],
  ['BF16', 2],
  ['F64', 8],
]);
type SupportedDtype = 'F32' | 'F16' | 'BF16' | 'F64';
const DTYPES_TEXT = 'F32, F16, BF16 or F64';

/**
 * Deepest JSON nesting a header may have (serde_json's limit, so recur reads what the reference
 * implementation reads); a valid header nests 3 levels. Checked on the bytes, before JSON.parse
 * builds anything.
 */
const MAX_DEPTH = 128;

/** A `.safetensors` file read by `readSafetensors`: its tensors and its metadata. */
export interface SafetensorsFile {
  /** Tensor name to tensor, in a prototype-free object: every name in the file is an own key, `__proto__` included. */
  tensors: StateDict;
  /** The header's `__metadata__` (string to string) in a prototype-free object, or an empty one. */
  metadata: Record<string, string>;
}

/**
 * Reads a `.safetensors` file into tensors (F16, BF16 and F64 are converted to float32). The result
 * has no prototype, so a tensor may be named `__proto__` or `constructor` like any other; use
 * `Object.hasOwn(sd, name)` or `name in sd` rather than `sd.hasOwnProperty(name)`.
 * @example
 * const sd = loadSafetensors(new Uint8Array(await (await fetch('lstm.safetensors')).arrayBuffer()));
 * lstm.loadStateDict(sd);
 */
export function loadSafetensors(bytes: Uint8Array | ArrayBuffer): StateDict {
  return readSafetensors(bytes).tensors;
}

interface Entry {
  name: string;
  dtype: SupportedDtype;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * What a file that is not safetensors plainly is, from its first bytes, with the loader to use; null
 * when it may be safetensors (whose first byte is the low byte of a JSON header length).
 */
function otherFormat(bytes: Uint8Array): string | null {
  const b = (i: number) => bytes[i] ?? -1;
  if (b(0) === 0x50 && b(1) === 0x4b && b(2) === 0x03 && b(3) === 0x04) {
    return "a zip archive, which is what torch.save writes (.pt/.pth): load it with loadTorch from '@recur/convert'";
  }
  if (b(0) === 0x80 && b(1) >= 2 && b(1) <= 5) {
    return 'a Python pickle (a .pt file of PyTorch before 1.6): load it in PyTorch and save it again with torch.save, or with safetensors';
  }
  if (b(0) === 0x7b) return "a JSON document (a TensorFlow.js / Keras model.json?): load it with fromKeras from '@recur/convert'";
  if (b(0) === 0x08 && b(1) >= 3 && b(1) <= 12 && b(2) === 0x12) {
    return "an ONNX model (a protobuf with an ir_version): load it with fromOnnx from '@recur/convert'";
  }
  return null;
}

/**
 * Like `loadSafetensors`, and also returns the header's `__metadata__`.
 * @example
 * const { tensors, metadata } = readSafetensors(readFileSync('model.safetensors'));
 * metadata.format; // e.g. 'pt' for files written by PyTorch
 */
export function readSafetensors(input: Uint8Array | ArrayBuffer): SafetensorsFile {
  const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : input;
  if (!(bytes instanceof Uint8Array)) {
    throw new SafetensorsError(`loadSafetensors: expected a Uint8Array or ArrayBuffer, got ${describeValue(input)}`);
  }
  // A file of another kind cannot have a JSON header of a length that fits: name what it is.
  const fits = bytes.length >= 9 && new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true) === 0 &&
    new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(0, true) <= bytes.length - 8 && bytes[8] === 0x7b;
  const other = fits ? null : otherFormat(bytes);
  if (other) throw new SafetensorsError(`loadSafetensors: expected a .safetensors file, got ${other}`);
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
  const headerBytes = bytes.subarray(8, 8 + headerLength);
  checkNesting(headerBytes);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new SafetensorsError(`loadSafetensors: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isJsonObject(header)) {
    throw new SafetensorsError(`loadSafetensors: expected the header as a JSON object, got ${describeJson(header)}`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = Object.create(null);
  const entries: Entry[] = [];
  for (const name of Object.keys(header)) {
    const raw = header[name];
    if (name === '__metadata__') metadata = parseMetadata(raw);
    else entries.push(parseEntry(name, raw, dataLength));
  }
  checkLayout(entries, dataLength);
  const tensors: StateDict = Object.create(null);
  for (const e of entries) {
    const n = (e.end - e.begin) / DTYPE_BYTES.get(e.dtype)!;
    tensors[e.name] = new Tensor(decode(view, dataStart + e.begin, e.dtype, n), e.shape);
  }
  return { tensors, metadata };
}

/** Data bytes must be covered by the tensors exactly once, without holes, as the format requires. */
function checkLayout(entries: Entry[], dataLength: number): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of entries) {
    if (e.begin < cursor) {
      throw new SafetensorsError(
        `loadSafetensors: tensor ${quote(e.name)} at bytes [${e.begin}, ${e.end}) overlaps the previous tensor (ends at ${cursor})`,
      );
    }
    if (e.begin > cursor) {
      throw new SafetensorsError(`loadSafetensors: bytes [${cursor}, ${e.begin}) before tensor ${quote(e.name)} belong to no tensor`);
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError(`loadSafetensors: ${dataLength - cursor} bytes after the last tensor belong to no tensor`);
  }
}

function parseMetadata(raw: unknown): Record<string, string> {
  if (!isJsonObject(raw)) {
    throw new SafetensorsError(`loadSafetensors: expected __metadata__ as an object of strings, got ${describeJson(raw)}`);
  }
  const metadata: Record<string, string> = Object.create(null);
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (typeof value !== 'string') {
      throw new SafetensorsError(`loadSafetensors: __metadata__ key ${quote(key)}: expected a string value, got ${describeJson(value)}`);
    }
    metadata[key] = value;
  }
  return metadata;
}

function parseEntry(name: string, raw: unknown, dataLength: number): Entry {
  const where = `loadSafetensors: tensor ${quote(name)}`;
  if (!isJsonObject(raw)) {
    throw new SafetensorsError(`${where}: expected an object { dtype, shape, data_offsets }, got ${describeJson(raw)}`);
  }
  const dtype = own(raw, 'dtype');
  const bytesPer = typeof dtype === 'string' ? DTYPE_BYTES.get(dtype) : undefined;
  if (bytesPer === undefined) {
    throw new SafetensorsError(`${where}: expected dtype ${DTYPES_TEXT}, got ${describeJson(dtype)}`);
  }
  const shape = parseShape(where, own(raw, 'shape'));
  const [begin, end] = parseOffsets(where, own(raw, 'data_offsets'));
  if (end > dataLength) {
    throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] lie outside the ${dataLength} data bytes`);
  }
  // Every dimension is a safe integer, so the product is exact up to 2^53 and past it is too large
  // to equal any byte count anyway.
  const need = shape.reduce((a, d) => a * d, 1) * bytesPer;
  if (end - begin !== need) {
    throw new SafetensorsError(
      `loadSafetensors: tensor ${quote(name)} of shape ${formatShape(shape)} and dtype ${dtype} needs ${need} bytes, its offsets give ${end - begin}`,
    );
  }
  return { name, dtype: dtype as SupportedDtype, shape, begin, end };
}

function parseShape(where: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) {
    throw new SafetensorsError(`${where}: expected a shape as an array of non-negative safe integers, got ${describeJson(shape)}`);
  }
  const dims = new Array<number>(shape.length);
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (!isSize(d)) {
      throw new SafetensorsError(`${where}: expected a shape of non-negative safe integers, got dimension ${i} = ${describeJson(d)}`);
    }
    dims[i] = d + 0; // -0 in JSON is a dimension of 0
  }
  return dims;
}

function parseOffsets(where: string, offsets: unknown): [number, number] {
  const expected = `${where}: expected data_offsets [begin, end] of safe integers with 0 <= begin <= end`;
  if (!Array.isArray(offsets) || offsets.length !== 2) throw new SafetensorsError(`${expected}, got ${describeJson(offsets)}`);
  const [begin, end]: unknown[] = offsets;
  if (!isSize(begin)) throw new SafetensorsError(`${expected}, got begin = ${describeJson(begin)}`);
  if (!isSize(end)) throw new SafetensorsError(`${expected}, got end = ${describeJson(end)}`);
  if (begin > end) throw new SafetensorsError(`${expected}, got [${begin},${end}]`);
  return [begin + 0, end + 0];
}

/** A non-negative safe integer: a dimension or byte offset any number can hold exactly. */
function isSize(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An own property only: a header's entry has no inherited fields. */
function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** A value parsed from JSON, in words (without reading any of its fields). */
function describeJson(v: unknown): string {
  return isJsonObject(v) ? 'an object' : describeValue(v);
}

/** A name from a file, quoted for a message and shortened when long. */
function quote(name: string): string {
  return name.length > 64 ? `'${name.slice(0, 48)}…' (${name.length} characters)` : `'${name}'`;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Refuses a header nested deeper than MAX_DEPTH, scanning its bytes (UTF-8 continuation bytes are never
 * ASCII, so brackets and quotes are found exactly). Names the tensor and field where it happens.
 */
function checkNesting(json: Uint8Array): void {
  const isObject: boolean[] = [];
  // Byte ranges of the last key seen at depths 1 and 2 (tensor name, then field name).
  const keys: Array<[number, number]> = [];
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    if (c === QUOTE) {
      const start = i;
      for (i++; i < json.length && json[i] !== QUOTE; i++) if (json[i] === BACKSLASH) i++;
      if (expectKey && isObject.length <= 2) keys[isObject.length - 1] = [start, i + 1];
      expectKey = false;
    } else if (c === 0x7b || c === 0x5b) {
      if (isObject.length === MAX_DEPTH) throw tooDeep(json, i, keys, isObject);
      isObject.push(c === 0x7b);
      expectKey = c === 0x7b;
    } else if (c === 0x7d || c === 0x5d) {
      isObject.pop();
      expectKey = false;
    } else if (c === 0x2c) {
      expectKey = isObject[isObject.length - 1] === true;
    }
  }
}

function tooDeep(json: Uint8Array, at: number, keys: Array<[number, number]>, isObject: boolean[]): SafetensorsError {
  const key = (depth: number): string | null => {
    const range = keys[depth];
    if (!isObject[depth] || !range) return null;
    try {
      const text: unknown = JSON.parse(new TextDecoder().decode(json.subarray(range[0], range[1])));
      return typeof text === 'string' ? text : null;
    } catch {
      return null;
    }
  };
  const name = key(0);
  const field = key(1);
  let where = 'header';
  if (name === '__metadata__') where = field === null ? '__metadata__' : `__metadata__ key ${quote(field)}`;
  else if (name !== null) where = field === null ? `tensor ${quote(name)}` : `tensor ${quote(name)} field ${quote(field)}`;
  return new SafetensorsError(
    `loadSafetensors: ${where}: expected JSON nested at most ${MAX_DEPTH} levels deep (a safetensors header needs 3), got deeper nesting at header byte ${at}`,
  );
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
 * Writes tensors as a `.safetensors` file (F32), readable by `safetensors.torch.load_file` and by
 * `loadSafetensors`, which gives back exactly the same names, shapes, float32 bits and metadata.
 * `tensors` is an object or a `Map` of name to `Tensor`; `metadata` (optional) an object or a `Map`
 * of string to string. Refuses with an `ArgumentError` what no reader would take back: the tensor
 * name `__metadata__` (the format's own key), values that are not tensors, metadata values that are
 * not strings, and names or values that are not well-formed Unicode.
 * @example
 * const bytes = saveSafetensors(lstm.stateDict(), { format: 'pt' });
 */
export function saveSafetensors(
  tensors: StateDict | ReadonlyMap<string, Tensor>,
  metadata?: Record<string, string> | ReadonlyMap<string, string> | null,
): Uint8Array {
  const where = 'saveSafetensors';
  const items = readTensors(where, tensors);
  const meta = readMetadata(where, metadata);
  // Built as a prototype-free object, so a tensor named __proto__ is written as an ordinary key.
  const header: Record<string, unknown> = Object.create(null);
  if (meta !== null) header.__metadata__ = meta;
  let offset = 0;
  for (const [name, shape, values] of items) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + 4 * values.length] };
    offset += 4 * values.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = allocate(where, 8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength); // spaces pad the header to 8 bytes
  let at = 8 + headerLength;
  for (const [, , values] of items) {
    // Copied as bytes on a little-endian machine, so every float32 bit (NaN payloads too) survives.
    if (LITTLE_ENDIAN) out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
    else for (let i = 0; i < values.length; i++) view.setFloat32(at + 4 * i, values[i]!, true);
    at += values.byteLength;
  }
  return out;
}

/** Name, shape and values of every tensor to write, sorted by name; read once, all checked first. */
function readTensors(where: string, tensors: unknown): Array<[string, number[], Float32Array]> {
  if (typeof tensors !== 'object' || tensors === null || Array.isArray(tensors) || tensors instanceof Tensor) {
    throw new ArgumentError(
      `${where}: expected tensors as an object or Map of name to Tensor, got ${describeValue(tensors)}`,
    );
  }
  const pairs: Array<[unknown, unknown]> =
    tensors instanceof Map ? [...tensors.entries()] : Object.keys(tensors).map((k) => [k, (tensors as Record<string, unknown>)[k]]);
  const items: Array<[string, number[], Float32Array]> = [];
  for (const [name, value] of pairs) {
    if (typeof name !== 'string') throw new ArgumentError(`${where}: expected tensor names as strings, got ${describeValue(name)}`);
    if (name === '__metadata__') {
      throw new ArgumentError(`${where}: expected a tensor name other than '__metadata__' (the format's own key), got '__metadata__'`);
    }
    checkWellFormed(where, 'tensor name', name);
    if (!(value instanceof Tensor)) throw new ArgumentError(`${where}: tensor ${quote(name)}: expected a Tensor, got ${describeValue(value)}`);
    let values: Float32Array;
    try {
      values = value.values;
    } catch (e) {
      throw new ArgumentError(`${where}: tensor ${quote(name)}: expected a readable Tensor, got one that fails: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const bad = value.shape.findIndex((d) => !isSize(d));
    if (bad >= 0) {
      // core-tensor allows any integer dimension of an empty tensor; a file holds only safe integers.
      throw new RangeArgumentError(
        `${where}: tensor ${quote(name)}: expected a shape of safe integers, got dimension ${bad} = ${describeValue(value.shape[bad])}`,
      );
    }
    items.push([name, value.shape.map((d) => d + 0), values]);
  }
  return items.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** The metadata as a prototype-free object of strings, or null when there is none to write. */
function readMetadata(where: string, metadata: unknown): Record<string, string> | null {
  if (metadata === undefined || metadata === null) return null;
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    throw new ArgumentError(`${where}: expected metadata as an object or Map of string to string, got ${describeValue(metadata)}`);
  }
  const pairs: Array<[unknown, unknown]> =
    metadata instanceof Map ? [...metadata.entries()] : Object.keys(metadata).map((k) => [k, (metadata as Record<string, unknown>)[k]]);
  const out: Record<string, string> = Object.create(null);
  for (const [key, value] of pairs) {
    if (typeof key !== 'string') throw new ArgumentError(`${where}: expected metadata keys as strings, got ${describeValue(key)}`);
    checkWellFormed(where, 'metadata key', key);
    if (typeof value !== 'string') {
      throw new ArgumentError(`${where}: metadata key ${quote(key)}: expected a string value, got ${describeValue(value)}`);
    }
    checkWellFormed(where, `metadata value of ${quote(key)}`, value);
    out[key] = value;
  }
  return pairs.length > 0 ? out : null;
}

/** A lone UTF-16 surrogate has no UTF-8 form: other readers of the file would refuse it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkWellFormed(where: string, what: string, text: string): void {
  const m = LONE_SURROGATE.exec(text);
  if (m) {
    const code = m[0].charCodeAt(0).toString(16).toUpperCase();
    throw new ArgumentError(
      `${where}: expected a well-formed Unicode ${what}, got ${describeValue(text)} with a lone surrogate U+${code} at index ${m.index}`,
    );
  }
}

function allocate(where: string, bytes: number): Uint8Array {
  try {
    return new Uint8Array(bytes);
  } catch (e) {
    throw new RangeArgumentError(`${where}: the file would need ${bytes} bytes, more than one Uint8Array can hold`, { cause: e });
  }
}
