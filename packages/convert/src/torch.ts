// loadTorch: the zip format of torch.save (PyTorch >= 1.6). data.pkl is interpreted by the
// restricted pickle reader; each tensor is a view (offset, sizes, strides) of a storage entry
// data/<key>, read as the file's byte order says and converted to float32. Every size is checked
// against the file before anything is allocated, and nothing is returned unless everything loads.

import { Tensor, formatShape } from '@recur/core-tensor';
import type { StateDict } from '@recur/nn-recurrent';
import { ModelFileError, asBytes, quote, sniffKind } from './errors.js';
import { bf16ToFloat, halfToFloat } from './floats.js';
import { PyDict, PyList, PyTuple, type PyValue, type StorageDtype, type StorageRef, TensorRef, kindOf, readPickle } from './pickle.js';
import { extractZip, listZip } from './zip.js';

const WHERE = 'loadTorch';
const ELEMENT_BYTES: Record<StorageDtype, number> = { f32: 4, f16: 2, bf16: 2, f64: 8, i64: 8, i32: 4, i16: 2, i8: 1, u8: 1, bool: 1 };
/** Deepest nesting of dicts and lists in a checkpoint that recur walks (state dicts nest 1 or 2). */
const MAX_DEPTH = 32;
/** The float32 tensors may take this many times the file's bytes (views may share one storage). */
const OUTPUT_FACTOR = 8;

/**
 * Reads a file written by `torch.save(...)` (the zip format, PyTorch >= 1.6) into a state dict of
 * float32 tensors. float32, float16, bfloat16 and float64 storages are converted (integer and bool
 * storages too, e.g. BatchNorm's `num_batches_tracked`); views keep their offset and strides, and
 * tensors sharing a storage each get their own values. Nested dicts and lists (a checkpoint such as
 * `{'model': model.state_dict(), 'epoch': 3}`) are flattened with dots: `model.rnn.weight_ih_l0`;
 * values that are not tensors (numbers, strings) are left out. The pickle is interpreted, never
 * executed: any global outside a state dict's fixed set (`collections.OrderedDict`, torch's tensor
 * rebuilders and storage types) is refused, as are legacy (pre-1.6) files and TorchScript archives.
 * The result has no prototype, like `loadSafetensors`'s.
 * @example
 * const sd = loadTorch(new Uint8Array(await readFile('model.pt')));
 * lstm.loadStateDict(sd, { prefix: 'encoder.rnn.' });
 */
export function loadTorch(bytes: Uint8Array | ArrayBuffer): StateDict {
  const file = asBytes(WHERE, bytes);
  if (!(file[0] === 0x50 && file[1] === 0x4b && file[2] === 0x03 && file[3] === 0x04)) {
    const kind = sniffKind(file);
    throw new ModelFileError(
      `${WHERE}: expected the zip format of torch.save (PyTorch >= 1.6, starting with PK\\x03\\x04), got ${kind ?? `${file.length} bytes of another kind`}${
        kind?.startsWith('a bare pickle') ? '; load it in PyTorch >= 1.6 and torch.save it again' : ''
      }`,
    );
  }
  const names = listZip(WHERE, file);
  const prefix = archivePrefix(names);
  const pickleBytes = extractZip(WHERE, file, new Set([`${prefix}data.pkl`, `${prefix}byteorder`]), file.length);
  const byteorder = pickleBytes.get(`${prefix}byteorder`);
  const order = byteorder ? new TextDecoder().decode(byteorder).trim() : 'little';
  if (order !== 'little' && order !== 'big') throw new ModelFileError(`${WHERE}: expected byteorder 'little' or 'big', got ${quote(order)}`);
  const root = readPickle(WHERE, pickleBytes.get(`${prefix}data.pkl`)!);
  const entries = flatten(root);
  const storages = new Map<StorageRef, string>();
  for (const [, t] of entries) storages.set(t.storage, `${prefix}data/${t.storage.key}`);
  const data = extractZip(WHERE, file, new Set(storages.values()), 4 * file.length);
  checkSizes(entries, storages, data, file.length);
  const sd: StateDict = Object.create(null);
  for (const [name, t] of entries) {
    sd[name] = new Tensor(gather(t, data.get(storages.get(t.storage)!)!, order === 'little'), t.size);
  }
  return sd;
}

/** The archive's folder (`archive/`, or the file's stem): the one holding data.pkl. */
function archivePrefix(names: string[]): string {
  if (names.some((n) => /^[^/]*\/constants\.pkl$/.test(n))) {
    throw new ModelFileError(
      `${WHERE}: expected a torch.save file, got a TorchScript archive (torch.jit.save); torch.save(model.state_dict(), path) instead`,
    );
  }
  const pickles = names.filter((n) => /^[^/]*\/data\.pkl$/.test(n) || n === 'data.pkl');
  if (pickles.length === 1) return pickles[0]!.slice(0, -'data.pkl'.length);
  throw new ModelFileError(
    `${WHERE}: expected one <archive>/data.pkl in the zip, got ${pickles.length === 0 ? 'none' : pickles.map(quote).join(', ')} among ${names.length} entries${
      names.length ? ` (${names.slice(0, 4).map(quote).join(', ')}${names.length > 4 ? ', …' : ''})` : ''
    }`,
  );
}

/** The tensors of the pickled value, with dotted names; containers are walked once, depth bounded. */
function flatten(root: PyValue): Array<[string, TensorRef]> {
  if (root instanceof TensorRef) {
    throw new ModelFileError(`${WHERE}: expected a dict of tensors (a state dict), got a single tensor; torch.save({'name': tensor}, ...) instead`);
  }
  if (!(root instanceof PyDict)) throw new ModelFileError(`${WHERE}: expected a dict of tensors (a state dict), got ${kindOf(root)}`);
  const out: Array<[string, TensorRef]> = [];
  const names = new Set<string>();
  const seen = new Set<object>();
  const walk = (value: PyValue, name: string, depth: number) => {
    if (value instanceof TensorRef) {
      if (names.has(name)) throw new ModelFileError(`${WHERE}: two tensors flatten to the name ${quote(name)}`);
      names.add(name);
      out.push([name, value]);
      return;
    }
    if (!(value instanceof PyDict || value instanceof PyList || value instanceof PyTuple)) return;
    if (depth > MAX_DEPTH) throw new ModelFileError(`${WHERE}: expected dicts nested at most ${MAX_DEPTH} deep, got deeper at ${quote(name)}`);
    if (seen.has(value)) throw new ModelFileError(`${WHERE}: the pickle reaches one container twice (again at ${quote(name)}); recur reads trees only`);
    seen.add(value);
    const dot = name === '' ? '' : `${name}.`;
    if (value instanceof PyDict) for (const [k, v] of value.entries) walk(v, `${dot}${String(k)}`, depth + 1);
    else value.items.forEach((v, i) => {
        walk(v, `${dot}${i}`, depth + 1);
      });
  };
  walk(root, '', 0);
  return out;
}

/** Every storage exists and is long enough for its views, and the outputs fit the budget. */
function checkSizes(entries: Array<[string, TensorRef]>, storages: Map<StorageRef, string>, data: Map<string, Uint8Array>, fileBytes: number): void {
  let outputBytes = 0;
  for (const [name, t] of entries) {
    const entry = storages.get(t.storage)!;
    const bytes = data.get(entry);
    const where = `${WHERE}: tensor ${quote(name)}`;
    if (!bytes) throw new ModelFileError(`${where}: its storage ${quote(t.storage.key)} has no zip entry ${quote(entry)}`);
    const size = ELEMENT_BYTES[t.storage.dtype];
    if (bytes.length % size) {
      throw new ModelFileError(`${where}: storage ${quote(entry)} of ${t.storage.dtype} has ${bytes.length} bytes, not a multiple of ${size}`);
    }
    const available = bytes.length / size;
    const numel = t.size.reduce((a, d) => a * d, 1);
    let last = t.offset;
    for (let d = 0; d < t.size.length; d++) last += (t.size[d]! - 1) * t.stride[d]!;
    if (numel > 0 && !(last < available)) {
      throw new ModelFileError(
        `${where}: shape ${formatShape(t.size)} with strides ${formatShape(t.stride)} at offset ${t.offset} needs ${last + 1} elements of storage ${quote(t.storage.key)}, which holds ${available}`,
      );
    }
    outputBytes += 4 * numel;
    if (!(outputBytes <= OUTPUT_FACTOR * fileBytes + 4096)) {
      throw new ModelFileError(
        `${where}: the tensors would take ${outputBytes} bytes as float32, more than ${OUTPUT_FACTOR} times the file's ${fileBytes} bytes (views that repeat a small storage)`,
      );
    }
  }
}

/** The tensor's elements in row-major order, converted to float32. */
function gather(t: TensorRef, bytes: Uint8Array, little: boolean): Float32Array {
  const numel = t.size.reduce((a, d) => a * d, 1);
  const out = new Float32Array(numel);
  if (numel === 0) return out;
  const read = reader(t.storage.dtype, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), little);
  const rank = t.size.length;
  const index = new Array<number>(rank).fill(0);
  let at = t.offset;
  for (let i = 0; i < numel; i++) {
    out[i] = read(at);
    for (let d = rank - 1; d >= 0; d--) {
      at += t.stride[d]!;
      if (++index[d]! < t.size[d]!) break;
      at -= t.stride[d]! * t.size[d]!;
      index[d] = 0;
    }
  }
  return out;
}

function reader(dtype: StorageDtype, view: DataView, little: boolean): (i: number) => number {
  switch (dtype) {
    case 'f32':
      return (i) => view.getFloat32(4 * i, little);
    case 'f64':
      return (i) => view.getFloat64(8 * i, little);
    case 'f16':
      return (i) => halfToFloat(view.getUint16(2 * i, little));
    case 'bf16':
      return (i) => bf16ToFloat(view.getUint16(2 * i, little));
    case 'i64':
      return (i) => Number(view.getBigInt64(8 * i, little));
    case 'i32':
      return (i) => view.getInt32(4 * i, little);
    case 'i16':
      return (i) => view.getInt16(2 * i, little);
    case 'i8':
      return (i) => view.getInt8(i);
    case 'u8':
      return (i) => view.getUint8(i);
    case 'bool':
      return (i) => (view.getUint8(i) ? 1 : 0);
  }
}
