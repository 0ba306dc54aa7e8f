// Reading a state dict into a module, all or nothing: every key and value is checked and every value
// copied into new storage before the caller applies anything, so a failed load changes no weight,
// whatever the values are (tensors, tensors of another copy of recur, or objects that only look alike).

import { ArgumentError, StateDictError, Tensor, describeValue, formatShape } from '@recur/core-tensor';

/**
 * A state dict: parameter name to tensor, as PyTorch's `module.state_dict()`.
 * @example
 * const sd: StateDict = new GRU(4, 8).stateDict(); // { weight_ih_l0: Tensor [24, 4], ... }
 * writeFileSync('gru.safetensors', saveSafetensors(sd));
 */
export type StateDict = Record<string, Tensor>;

/** Options of `loadStateDict`. @example lstm.loadStateDict(sd, { prefix: 'encoder.rnn.', strict: false }) */
export interface LoadStateDictOptions {
  /** Reject missing and unexpected keys (default true). Mis-shaped keys are rejected either way. */
  strict?: boolean;
  /** Only keys starting with this prefix are considered, with the prefix removed (e.g. `'encoder.rnn.'`). */
  prefix?: string;
}

/** What `loadStateDict` returns: the keys that did not match, as PyTorch's `_IncompatibleKeys`. */
export interface LoadStateDictResult {
  /** The module's parameters the state dict lacks, as keys of the state dict (with the prefix). */
  missingKeys: string[];
  /** Keys under the prefix that name no parameter of the module. */
  unexpectedKeys: string[];
}

/**
 * Checks `stateDict` against `params` and reads every matching value into a new array. Throws one
 * `StateDictError` listing every problem (or an `ArgumentError` for arguments of the wrong kind).
 */
export function readStateDict(
  where: string,
  params: ReadonlyMap<string, Tensor>,
  stateDict: unknown,
  options: unknown,
): { updates: Array<[string, Float32Array]>; result: LoadStateDictResult } {
  if (typeof stateDict !== 'object' || stateDict === null) {
    throw new ArgumentError(`${where}: expected a state dict object mapping names to tensors, got ${describeValue(stateDict)}`);
  }
  const { strict, prefix } = readOptions(where, options);
  const given = new Map<string, unknown>();
  const badKeys: string[] = [];
  const entries: Array<[unknown, unknown]> = stateDict instanceof Map ? [...stateDict.entries()] : Object.entries(stateDict);
  for (const [key, value] of entries) {
    if (typeof key !== 'string') badKeys.push(describeValue(key));
    else if (key.startsWith(prefix)) given.set(key.slice(prefix.length), value);
  }
  const problems: string[] = badKeys.map((k) => `keys must be strings, got ${k}`);
  const updates: Array<[string, Float32Array]> = [];
  const missingKeys: string[] = [];
  for (const [name, current] of params) {
    if (!given.has(name)) {
      missingKeys.push(prefix + name);
      if (strict) problems.push(`missing key ${prefix}${name} (expected shape ${formatShape(current.shape)})`);
      continue;
    }
    const read = readValue(given.get(name), current.shape);
    if (typeof read === 'string') problems.push(`${prefix}${name} ${read}`);
    else updates.push([name, read]);
  }
  const unexpectedKeys = [...given.keys()].filter((k) => !params.has(k)).map((k) => prefix + k);
  if (strict) for (const k of unexpectedKeys) problems.push(`unexpected key ${k}`);
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('; ') + (problems.length > 20 ? `; and ${problems.length - 20} more` : '');
    const detail = problems.length === 1 ? problems[0] : `${problems.length} problems: ${shown}`;
    const hint = missingKeys.length === params.size && prefix === '' ? prefixHint(entries, params) : '';
    throw new StateDictError(`${where}: ${detail}${hint}`);
  }
  return { updates, result: { missingKeys, unexpectedKeys } };
}

function readOptions(where: string, options: unknown): { strict: boolean; prefix: string } {
  if (options === undefined) return { strict: true, prefix: '' };
  if (typeof options !== 'object' || options === null) {
    throw new ArgumentError(`${where}: expected options as an object { strict?, prefix? }, got ${describeValue(options)}`);
  }
  const { strict = true, prefix = '' } = options as LoadStateDictOptions;
  if (typeof strict !== 'boolean') throw new ArgumentError(`${where}: expected strict as a boolean, got ${describeValue(strict)}`);
  if (typeof prefix !== 'string') throw new ArgumentError(`${where}: expected prefix as a string, got ${describeValue(prefix)}`);
  return { strict, prefix };
}

/** A copy of a tensor's values if it has exactly `shape`; otherwise what is wrong, in words. */
function readValue(value: unknown, shape: readonly number[]): Float32Array | string {
  const size = shape.reduce((a, b) => a * b, 1);
  let given: unknown;
  let data: unknown;
  try {
    given = (value as { shape?: unknown } | null)?.shape;
    const isTensorLike = Array.isArray(given) && typeof (value as { dataSync?: unknown }).dataSync === 'function';
    if (!(value instanceof Tensor) && !isTensorLike) return `expected a Tensor, got ${describeValue(value)}`;
    const dims = given as unknown[];
    if (dims.length !== shape.length || dims.some((d, i) => d !== shape[i])) {
      const text =
        dims.length > 32
          ? `a shape of ${dims.length} dimensions`
          : dims.every((d) => Number.isSafeInteger(d))
            ? formatShape(dims as number[])
            : `a shape whose dimensions are not all safe integers (${dims.map((d) => describeValue(d)).join(', ')})`;
      return `expected shape ${formatShape(shape)}, got ${text}`;
    }
    data = value instanceof Tensor ? value.values : (value as { dataSync(): unknown }).dataSync();
  } catch (error) {
    return `could not be read: ${error instanceof Error ? error.message : describeValue(error)}`;
  }
  if (!(data instanceof Float32Array) && !(data instanceof Float64Array) && !Array.isArray(data)) {
    return `expected its data as a Float32Array of ${size} values, got ${describeValue(data)}`;
  }
  if (data.length !== size) return `holds ${data.length} values, expected ${size} for shape ${formatShape(shape)}`;
  if (Array.isArray(data)) {
    const bad = data.findIndex((v) => typeof v !== 'number');
    if (bad >= 0) return `holds ${describeValue(data[bad])} at index ${bad}, expected numbers`;
  }
  return Float32Array.from(data as ArrayLike<number>);
}

/** When no key matched at all, the prefix the keys share before a parameter name, if any. */
function prefixHint(entries: Array<[unknown, unknown]>, params: ReadonlyMap<string, Tensor>): string {
  for (const [key] of entries) {
    if (typeof key !== 'string') continue;
    for (const name of params.keys()) {
      if (key.endsWith(`.${name}`)) return ` (the keys look prefixed: try { prefix: '${key.slice(0, key.length - name.length)}' })`;
    }
  }
  return '';
}
