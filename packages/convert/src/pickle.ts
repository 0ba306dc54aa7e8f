// A pickle interpreter for state dicts: it understands the opcodes torch.save writes (protocols 2
// to 5) and the handful of globals a state dict names, and builds plain values from them. It calls
// nothing: a global outside the allowed set is refused by name the moment it is read, and the only
// "calls" it performs are its own constructors for OrderedDict and torch's tensor rebuilders.

import { ModelFileError, quote } from './errors.js';

/** Element types of torch's storage classes, as the pickle names them (`torch.FloatStorage`). */
export type StorageDtype = 'f32' | 'f16' | 'bf16' | 'f64' | 'i64' | 'i32' | 'i16' | 'i8' | 'u8' | 'bool';

const STORAGE_TYPES: ReadonlyMap<string, StorageDtype> = new Map([
  ['FloatStorage', 'f32'],
  ['HalfStorage', 'f16'],
  ['BFloat16Storage', 'bf16'],
  ['DoubleStorage', 'f64'],
  ['LongStorage', 'i64'],
  ['IntStorage', 'i32'],
  ['ShortStorage', 'i16'],
  ['CharStorage', 'i8'],
  ['ByteStorage', 'u8'],
  ['BoolStorage', 'bool'],
]);

/** The callables a state dict's pickle may name; anything else is refused. */
const CALLABLES = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
]);

export const ALLOWED_GLOBALS: readonly string[] = [...CALLABLES, ...[...STORAGE_TYPES.keys()].map((s) => `torch.${s}`)];

export class PyGlobal {
  constructor(readonly path: string) {}
}
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}
export class PyList {
  constructor(readonly items: PyValue[]) {}
}
export class PyDict {
  readonly entries = new Map<string | number | boolean | bigint | null, PyValue>();
}
/** A storage of the archive: the entry `data/<key>` and its element type. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: StorageDtype,
  ) {}
}
/** `_rebuild_tensor_v2(storage, offset, size, stride, ...)`: a view of a storage, read later. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyGlobal | PyTuple | PyList | PyDict | StorageRef | TensorRef;

const MARK = Symbol('mark');
type Slot = PyValue | typeof MARK;

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Interprets `data` (a `data.pkl`) and returns the value STOP leaves on the stack. */
export function readPickle(where: string, data: Uint8Array): PyValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: Slot[] = [];
  const memo = new Map<number, PyValue>();
  const storages = new Map<string, StorageRef>();
  let pos = 0;
  let op = 0;
  let opAt = 0;

  const fail = (message: string): never => {
    throw new ModelFileError(`${where}: data.pkl byte ${opAt} (opcode 0x${op.toString(16).padStart(2, '0')}): ${message}`);
  };
  const need = (n: number) => {
    if (!(n >= 0 && pos + n <= data.length)) fail(`expected ${n} more bytes, the pickle has ${data.length - pos}`);
  };
  const u8 = () => {
    need(1);
    return data[pos++]!;
  };
  const u16 = () => {
    need(2);
    pos += 2;
    return view.getUint16(pos - 2, true);
  };
  const u32 = () => {
    need(4);
    pos += 4;
    return view.getUint32(pos - 4, true);
  };
  const u64 = () => {
    need(8);
    const v = view.getUint32(pos, true) + view.getUint32(pos + 4, true) * 2 ** 32;
    pos += 8;
    return v;
  };
  const take = (n: number) => {
    need(n);
    pos += n;
    return data.subarray(pos - n, pos);
  };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('expected a newline-terminated name');
    const text = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const text = (n: number) => {
    try {
      return utf8.decode(take(n));
    } catch {
      return fail('expected UTF-8 text in a unicode string');
    }
  };
  const pop = (): PyValue => {
    const v = stack.pop();
    if (v === undefined) fail('expected a value on the stack, it is empty');
    if (v === MARK) fail('expected a value on the stack, found a mark');
    return v as PyValue;
  };
  const top = (): PyValue => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) fail('expected a value on the stack');
    return v as PyValue;
  };
  const popMark = (): PyValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail('expected a mark on the stack, found none');
    const items = stack.splice(at) as PyValue[];
    items.shift();
    return items;
  };
  const global = (module: string, name: string): PyGlobal => {
    const path = `${module}.${name}`;
    if (!CALLABLES.has(path) && !(module === 'torch' && STORAGE_TYPES.has(name))) {
      const hint = module.startsWith('torch.nn') ? ' (a whole module was saved: save model.state_dict() instead)' : '';
      fail(`the pickle names the global ${quote(path)}, which a state dict never needs${hint}; recur reads only ${ALLOWED_GLOBALS.join(', ')}`);
    }
    return new PyGlobal(path);
  };
  const setItems = (dict: PyValue, items: PyValue[]) => {
    if (!(dict instanceof PyDict)) return fail(`expected a dict to set items on, got ${kindOf(dict)}`);
    if (items.length % 2) fail(`expected key-value pairs, got ${items.length} values`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i]!;
      if (!(key === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof key))) {
        fail(`expected a dict key that is a string or a number, got ${kindOf(key)}`);
      }
      dict.entries.set(key as string, items[i + 1]!);
    }
  };
  const append = (list: PyValue, items: PyValue[]) => {
    if (!(list instanceof PyList)) return fail(`expected a list to append to, got ${kindOf(list)}`);
    for (const item of items) list.items.push(item);
  };
  const int = (bytes: Uint8Array): number | bigint => {
    if (bytes.length === 0) return 0;
    let v = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const persistent = (pid: PyValue): StorageRef => {
    const items = pid instanceof PyTuple ? pid.items : [];
    const [tag, type, key, , numel] = items;
    if (tag !== 'storage' || !(type instanceof PyGlobal) || typeof key !== 'string' || typeof numel !== 'number') {
      return fail(`expected a persistent id ('storage', <storage type>, key, location, size), got ${kindOf(pid)}`);
    }
    const dtype = STORAGE_TYPES.get(type.path.slice('torch.'.length));
    if (!type.path.startsWith('torch.') || dtype === undefined) return fail(`expected a storage type, got ${quote(type.path)}`);
    const known = storages.get(key);
    if (known && known.dtype !== dtype) fail(`storage ${quote(key)} is read as ${known.dtype} and as ${dtype}`);
    const ref = known ?? new StorageRef(key, dtype);
    storages.set(key, ref);
    return ref;
  };
  const call = (fn: PyValue, args: PyValue): PyValue => {
    if (!(fn instanceof PyGlobal) || !CALLABLES.has(fn.path)) return fail(`expected a callable the allowed set names, got ${kindOf(fn)}`);
    if (!(args instanceof PyTuple)) return fail(`expected the arguments of ${fn.path} as a tuple, got ${kindOf(args)}`);
    const a = args.items;
    switch (fn.path) {
      case 'collections.OrderedDict': {
        const dict = new PyDict();
        if (a.length === 0) return dict;
        const pairs = a[0];
        if (a.length !== 1 || !(pairs instanceof PyList || pairs instanceof PyTuple)) return fail('expected OrderedDict() or OrderedDict(pairs)');
        for (const p of pairs.items) {
          if (!(p instanceof PyTuple) || p.items.length !== 2) return fail('expected OrderedDict pairs as 2-tuples');
          setItems(dict, p.items);
        }
        return dict;
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        if (!(a[0] instanceof TensorRef)) return fail(`expected ${fn.path}(tensor, ...), got ${kindOf(a[0] ?? null)} first`);
        return a[0];
      default: {
        const [storage, offset, size, stride] = a;
        if (!(storage instanceof StorageRef)) return fail(`expected ${fn.path}(storage, ...), got ${kindOf(storage ?? null)} first`);
        if (!isIndex(offset)) return fail(`expected a storage offset that is a non-negative integer, got ${kindOf(offset ?? null)}`);
        const dims = intTuple(size);
        const strides = intTuple(stride);
        if (!dims || !strides || dims.length !== strides.length) {
          return fail(`expected size and stride as tuples of non-negative integers of one length, got ${kindOf(size ?? null)} and ${kindOf(stride ?? null)}`);
        }
        return new TensorRef(storage, offset, dims, strides);
      }
    }
  };

  while (true) {
    opAt = pos;
    if (pos >= data.length) fail('expected STOP (.) before the end of the pickle');
    op = data[pos++]!;
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail(`expected pickle protocol 2 to 5, got ${data[pos - 1]}`);
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        if (stack.pop() === undefined) fail('expected a value to pop');
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
      case 0x89: // NEWFALSE
        stack.push(op === 0x88);
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x4a: // BININT
        stack.push(u32() | 0);
        break;
      case 0x8a: // LONG1
        stack.push(int(take(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(int(take(u32())));
        break;
      case 0x47: // BINFLOAT
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(take(u32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push(new PyList([]));
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const n = op - 0x84;
        const items: PyValue[] = [];
        for (let i = 0; i < n; i++) items.unshift(pop());
        stack.push(new PyTuple(items));
        break;
      }
      case 0x6c: // LIST
        stack.push(new PyList(popMark()));
        break;
      case 0x64: {
        // DICT
        const dict = new PyDict();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x61: {
        // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const i = op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`expected memo entry ${i}, which was never stored`);
        stack.push(memo.get(i)!);
        break;
      }
      case 0x63: // GLOBAL
        stack.push(global(line(), line()));
        break;
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('expected a module and a name as strings');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: {
        // BUILD: the state of an OrderedDict (its _metadata) changes no tensor
        pop();
        if (!(top() instanceof PyDict)) fail(`expected BUILD on an OrderedDict, got ${kindOf(top())}`);
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;
      default:
        fail(`expected one of the opcodes a state dict uses, got ${OPCODE_NAMES.get(op) ?? 'an unknown opcode'}`);
    }
  }
}

/** Opcodes recur refuses, named so a message says what the file tried. */
const OPCODE_NAMES = new Map([
  [0x81, 'NEWOBJ (creates an object of a class)'],
  [0x92, 'NEWOBJ_EX (creates an object of a class)'],
  [0x69, 'INST (creates an object of a class)'],
  [0x6f, 'OBJ (creates an object of a class)'],
  [0x50, 'PERSID (text persistent id)'],
  [0x82, 'EXT1'],
  [0x83, 'EXT2'],
  [0x84, 'EXT4'],
  [0x49, 'INT (protocol 0)'],
  [0x4c, 'LONG (protocol 0)'],
  [0x46, 'FLOAT (protocol 0)'],
  [0x53, 'STRING (protocol 0)'],
  [0x56, 'UNICODE (protocol 0)'],
  [0x70, 'PUT (protocol 0)'],
  [0x67, 'GET (protocol 0)'],
  [0x96, 'BYTEARRAY8'],
  [0x97, 'NEXT_BUFFER'],
  [0x98, 'READONLY_BUFFER'],
  [0x8f, 'EMPTY_SET'],
  [0x90, 'ADDITEMS'],
  [0x91, 'FROZENSET'],
]);

function isIndex(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function intTuple(v: PyValue | undefined): number[] | null {
  if (!(v instanceof PyTuple) || !v.items.every(isIndex)) return null;
  return v.items as number[];
}

/** A value in words, for messages; never walks it. */
export function kindOf(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : `the string '${v}'`;
  if (typeof v === 'boolean') return `bool ${v}`;
  if (typeof v === 'number' || typeof v === 'bigint') return `${Number.isInteger(v) || typeof v === 'bigint' ? 'int' : 'float'} ${String(v)}`;
  if (v instanceof Uint8Array) return `bytes of length ${v.length}`;
  if (v instanceof PyGlobal) return `the global ${quote(v.path)}`;
  if (v instanceof PyTuple) return `a tuple of ${v.items.length}`;
  if (v instanceof PyList) return `a list of ${v.items.length}`;
  if (v instanceof PyDict) return `a dict of ${v.entries.size}`;
  if (v instanceof StorageRef) return `storage ${quote(v.key)}`;
  return `a tensor of shape [${v.size.join(',')}]`;
}
