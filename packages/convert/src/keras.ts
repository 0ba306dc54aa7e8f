// fromKeras: the recurrent layers of a TensorFlow.js / Keras layers model (model.json + the weight
// shards): kernels transposed, gate blocks reordered (GRU z,r,h to r,z,n; LSTM's i,f,c,o is already
// PyTorch's), Keras's one bias (LSTM, SimpleRNN) or two (GRU reset_after) mapped to bias_ih/bias_hh.

import { Tensor } from '@recur/core-tensor';
import type { GRU, LSTM, RNN, StateDict } from '@recur/nn-recurrent';
import { ModelFileError, asBytes, quote } from './errors.js';
import { halfToFloat } from './floats.js';
import { type ModuleConfig, type RecurrentKind, type RecurrentModule, buildModule, reorderBlocks, transpose } from './modules.js';

const WHERE = 'fromKeras';

/**
 * One recurrent layer of the model, as a configured recur module (`batchFirst: true`) with its weights.
 * `kind` tells which module it is ('SimpleRNN' is an `RNN`; a 'Bidirectional' layer's module is
 * whichever it wraps, so check `module` itself), and checking it narrows `module` to call `forward`.
 * @example
 * const [first] = fromKeras(JSON.parse(readFileSync('model.json', 'utf8')), readFileSync('weights.bin'));
 * if (first?.kind === 'LSTM') first.module.forward(randn([2, 5, 3])); // [B, T, I]: [out, [h, c]]
 */
export type KerasRecurrentLayer =
  | KerasLayerOf<'LSTM', LSTM>
  | KerasLayerOf<'GRU', GRU>
  | KerasLayerOf<'SimpleRNN', RNN>
  | KerasLayerOf<'Bidirectional', RecurrentModule>;

/** A `KerasRecurrentLayer` of one Keras class. */
export interface KerasLayerOf<Kind extends string, M extends RecurrentModule> {
  /** The layer's name in the model (nested models' layers as `outer/inner`). */
  name: string;
  /** The layer's Keras class: 'LSTM', 'GRU', 'SimpleRNN' or 'Bidirectional' (the module is then bidirectional). */
  kind: Kind;
  module: M;
}

const RECURRENT: Record<string, { kind: RecurrentKind; gates: number; order: number[] }> = {
  LSTM: { kind: 'LSTM', gates: 4, order: [0, 1, 2, 3] },
  GRU: { kind: 'GRU', gates: 3, order: [1, 0, 2] },
  SimpleRNN: { kind: 'RNN', gates: 1, order: [0] },
};
const MODELS = new Set(['Sequential', 'Model', 'Functional']);
/** Deepest nesting of models inside models recur walks. */
const MAX_DEPTH = 16;

type Found = Array<{ name: string; kind: KerasRecurrentLayer['kind']; config: ModuleConfig; stateDict: StateDict }>;

interface WeightSpec {
  name: string;
  shape: number[];
  values: () => Float32Array;
}

/**
 * The LSTM, GRU (`reset_after: true`), SimpleRNN and Bidirectional (`merge_mode: 'concat'`) layers
 * of a layers model, in model order. `modelJson` is the parsed `model.json` (or its text);
 * `weightData` the weight shards its manifest lists, concatenated in order. Refused with the reason:
 * a GRU with `reset_after: false` and a `hard_sigmoid` recurrent activation (PyTorch's modules compute
 * other numbers), `go_backwards`, merge modes other than concat, activations PyTorch does not have.
 * Keras layers are batch-major, so each module has `batchFirst: true`.
 * @example
 * const layers = fromKeras(JSON.parse(await readFile('model.json', 'utf8')), (await readFile('group1-shard1of1.bin')).buffer);
 * const [out, [h, c]] = layers[0].module.forward(x); // x: [B, T, I]
 */
export function fromKeras(modelJson: unknown, weightData: ArrayBuffer | Uint8Array): KerasRecurrentLayer[] {
  const json = parseJson(modelJson);
  const bytes = asBytes(WHERE, weightData, 'weightData');
  const weights = readManifest(json, bytes);
  const topology = field(json, 'modelTopology');
  if (!isObject(topology)) throw new ModelFileError(`${WHERE}: expected model.json with a modelTopology object, got ${kind(topology)}`);
  const model = isObject(topology.model_config) ? topology.model_config : topology;
  const found: Found = [];
  walkModel(model, '', weights, found, 0);
  // The module is the class the layer names (its config's kind), so kind and module agree as the type says.
  return found.map(({ name, kind, config, stateDict }) => ({ name, kind, module: buildModule(config, stateDict) }) as KerasRecurrentLayer);
}

function parseJson(modelJson: unknown): Record<string, unknown> {
  let json = modelJson;
  if (typeof modelJson === 'string') {
    try {
      json = JSON.parse(modelJson);
    } catch (e) {
      throw new ModelFileError(`${WHERE}: expected model.json text, got text that is not JSON (${(e as Error).message})`);
    }
  }
  if (!isObject(json)) throw new ModelFileError(`${WHERE}: expected model.json as an object or its text, got ${kind(json)}`);
  return json;
}

/** Every weight of the manifest, located in `bytes`; the manifest must describe exactly those bytes. */
function readManifest(json: Record<string, unknown>, bytes: Uint8Array): Map<string, WeightSpec> {
  const manifest = field(json, 'weightsManifest');
  if (!Array.isArray(manifest)) throw new ModelFileError(`${WHERE}: expected weightsManifest as an array of weight groups, got ${kind(manifest)}`);
  const specs = new Map<string, WeightSpec>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (const group of manifest) {
    const list = isObject(group) ? field(group, 'weights') : undefined;
    if (!Array.isArray(list)) throw new ModelFileError(`${WHERE}: expected each weightsManifest group to have a weights array, got ${kind(list)}`);
    for (const w of list) {
      if (!isObject(w) || typeof w.name !== 'string') throw new ModelFileError(`${WHERE}: expected a weight { name, shape, dtype }, got ${kind(w)}`);
      const name = w.name;
      if (specs.has(name)) throw new ModelFileError(`${WHERE}: weightsManifest lists the weight ${quote(name)} twice`);
      const shape = w.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new ModelFileError(`${WHERE}: weight ${quote(name)}: expected a shape of non-negative integers, got ${kind(shape)}`);
      }
      const numel = (shape as number[]).reduce((a, d) => a * d, 1);
      const q = field(w, 'quantization');
      const dtype = isObject(q) ? q.dtype : w.dtype;
      const size = dtype === 'float32' || dtype === 'int32' ? 4 : dtype === 'uint16' || dtype === 'float16' ? 2 : dtype === 'uint8' || dtype === 'bool' ? 1 : 0;
      if (size === 0) throw new ModelFileError(`${WHERE}: weight ${quote(name)}: expected dtype float32 (or a uint8/uint16/float16 quantization), got ${kind(dtype)}`);
      const at = offset;
      offset += numel * size;
      if (offset > bytes.length) {
        throw new ModelFileError(`${WHERE}: weight ${quote(name)} ends at byte ${offset}, past the ${bytes.length} bytes of weightData (are all shards concatenated in manifest order?)`);
      }
      const scale = isObject(q) && typeof q.scale === 'number' ? q.scale : 1;
      const min = isObject(q) && typeof q.min === 'number' ? q.min : 0;
      const values = () => {
        const out = new Float32Array(numel);
        for (let i = 0; i < numel; i++) {
          if (dtype === 'float32') out[i] = view.getFloat32(at + 4 * i, true);
          else if (dtype === 'float16') out[i] = halfToFloat(view.getUint16(at + 2 * i, true));
          else if (dtype === 'uint16') out[i] = view.getUint16(at + 2 * i, true) * scale + min;
          else if (dtype === 'uint8') out[i] = view.getUint8(at + i) * scale + min;
          else if (dtype === 'int32') out[i] = view.getInt32(at + 4 * i, true);
          else out[i] = view.getUint8(at + i);
        }
        return out;
      };
      specs.set(name, { name, shape: shape as number[], values });
    }
  }
  if (offset !== bytes.length) {
    throw new ModelFileError(`${WHERE}: weightsManifest describes ${offset} bytes, weightData has ${bytes.length}; pass every shard, concatenated in manifest order`);
  }
  return specs;
}

function walkModel(model: unknown, prefix: string, weights: Map<string, WeightSpec>, found: Found, depth: number): void {
  if (depth > MAX_DEPTH) throw new ModelFileError(`${WHERE}: expected models nested at most ${MAX_DEPTH} deep, got deeper`);
  const config = isObject(model) ? model.config : undefined;
  const layers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(layers)) throw new ModelFileError(`${WHERE}: expected a model config with a layers array at ${quote(prefix || 'modelTopology')}, got ${kind(layers)}`);
  for (const layer of layers) {
    if (!isObject(layer) || typeof layer.class_name !== 'string' || !isObject(layer.config)) {
      throw new ModelFileError(`${WHERE}: expected each layer as { class_name, config }, got ${kind(layer)}`);
    }
    const name = typeof layer.config.name === 'string' ? layer.config.name : layer.class_name;
    if (MODELS.has(layer.class_name)) walkModel(layer, `${prefix}${name}/`, weights, found, depth + 1);
    else collect(layer.class_name, layer.config, `${prefix}${name}`, found, weights, name);
  }
}

function collect(
  className: string,
  config: Record<string, unknown>,
  fullName: string,
  found: Found,
  weights: Map<string, WeightSpec>,
  name: string,
): void {
  const where = `${WHERE}: layer ${quote(fullName)}`;
  if (className === 'Bidirectional') {
    const mode = config.merge_mode ?? 'concat';
    if (mode !== 'concat') throw new ModelFileError(`${where}: merge_mode ${kind(mode)} is not supported: PyTorch's bidirectional output concatenates (merge_mode 'concat')`);
    const inner = config.layer;
    if (!isObject(inner) || typeof inner.class_name !== 'string' || !isObject(inner.config) || !Object.hasOwn(RECURRENT, inner.class_name)) {
      throw new ModelFileError(`${where}: expected a Bidirectional wrapping an LSTM, GRU or SimpleRNN, got ${isObject(inner) ? kind(inner.class_name) : kind(inner)}`);
    }
    const own = layerWeights(weights, name);
    const forward = own.filter((w) => w.name.split('/').some((s) => s.startsWith('forward_')));
    const backward = own.filter((w) => w.name.split('/').some((s) => s.startsWith('backward_')));
    const f = convertLayer(`${where} (forward)`, inner.class_name, inner.config, forward, false);
    const backwardConfig = isObject(config.backward_layer) && isObject(config.backward_layer.config) ? config.backward_layer.config : { ...inner.config, go_backwards: true };
    const b = convertLayer(`${where} (backward)`, inner.class_name, backwardConfig, backward, true);
    if (b.config.inputSize !== f.config.inputSize || b.config.hiddenSize !== f.config.hiddenSize || b.config.bias !== f.config.bias) {
      throw new ModelFileError(`${where}: the backward layer differs in size or bias from the forward layer; PyTorch's directions are alike`);
    }
    const stateDict: StateDict = Object.create(null);
    for (const [k, v] of Object.entries(f.stateDict)) stateDict[k] = v;
    for (const [k, v] of Object.entries(b.stateDict)) stateDict[`${k}_reverse`] = v;
    found.push({ name: fullName, kind: 'Bidirectional', config: { ...f.config, bidirectional: true }, stateDict });
  } else if (Object.hasOwn(RECURRENT, className)) {
    const { config: c, stateDict } = convertLayer(where, className, config, layerWeights(weights, name), false);
    found.push({ name: fullName, kind: className as KerasRecurrentLayer['kind'], config: c, stateDict });
  } else if (className === 'RNN' || className.startsWith('CuDNN') || className === 'ConvLSTM2D') {
    throw new ModelFileError(`${where}: ${className} layers are not supported (recur reads LSTM, GRU, SimpleRNN and Bidirectional)`);
  }
}

/** The weights stored under the layer's name (`name/...`). */
function layerWeights(weights: Map<string, WeightSpec>, name: string): WeightSpec[] {
  return [...weights.values()].filter((w) => w.name.startsWith(`${name}/`));
}

function convertLayer(
  where: string,
  className: string,
  config: Record<string, unknown>,
  weights: WeightSpec[],
  backward: boolean,
): { config: ModuleConfig; stateDict: StateDict } {
  const spec = RECURRENT[className]!;
  const units = config.units;
  if (!Number.isSafeInteger(units) || (units as number) <= 0) throw new ModelFileError(`${where}: expected units as a positive integer, got ${kind(units)}`);
  const H = units as number;
  const activation = config.activation ?? 'tanh';
  const nonlinearity = activation === 'relu' && className === 'SimpleRNN' ? 'relu' : 'tanh';
  if (activation !== 'tanh' && !(className === 'SimpleRNN' && activation === 'relu')) {
    throw new ModelFileError(`${where}: activation ${kind(activation)} is not supported: PyTorch's ${className === 'SimpleRNN' ? 'RNN uses tanh or relu' : `${spec.kind} uses tanh`}`);
  }
  if (className !== 'SimpleRNN') {
    const recurrent = config.recurrent_activation ?? 'sigmoid';
    if (recurrent === 'hard_sigmoid' || recurrent === 'hardSigmoid') {
      throw new ModelFileError(
        `${where}: recurrent_activation 'hard_sigmoid' is not supported: PyTorch's ${spec.kind} gates use the logistic sigmoid, so the numbers would differ; retrain with recurrent_activation='sigmoid'`,
      );
    }
    if (recurrent !== 'sigmoid') throw new ModelFileError(`${where}: recurrent_activation ${kind(recurrent)} is not supported: PyTorch's ${spec.kind} gates use sigmoid`);
  }
  if ((config.go_backwards === true) !== backward) {
    throw new ModelFileError(`${where}: go_backwards=${config.go_backwards === true} is not supported${backward ? ' in a backward layer' : ': PyTorch has no reverse-only layer'}`);
  }
  const pick = (role: string) => weights.find((w) => lastSegment(w.name) === role);
  const kernel = pick('kernel');
  const rec = pick('recurrent_kernel');
  const bias = pick('bias');
  const useBias = config.use_bias !== false;
  const G = spec.gates;
  if (!kernel || !rec || (useBias && !bias)) {
    throw new ModelFileError(
      `${where}: expected weights kernel, recurrent_kernel${useBias ? ' and bias' : ''} under the layer's name, got ${weights.length ? weights.map((w) => quote(w.name)).join(', ') : 'none'}`,
    );
  }
  const I = kernel.shape[0] ?? 0;
  const shapeIs = (w: WeightSpec, s: number[]) => w.shape.length === s.length && w.shape.every((d, i) => d === s[i]);
  if (!shapeIs(kernel, [I, G * H]) || !shapeIs(rec, [H, G * H]) || I === 0) {
    throw new ModelFileError(`${where}: expected kernel [input, ${G * H}] and recurrent_kernel [${H}, ${G * H}] for units ${H}, got [${kernel.shape}] and [${rec.shape}]`);
  }
  let resetAfter = false;
  if (className === 'GRU') {
    resetAfter = config.reset_after === undefined ? (bias ? bias.shape.length === 2 : true) : config.reset_after === true;
    if (!resetAfter) {
      throw new ModelFileError(
        `${where}: reset_after=false is not supported: that GRU applies the reset gate before the recurrent matrix, PyTorch's GRU after it (Keras's reset_after=true); the numbers would differ`,
      );
    }
  }
  const biasShape = resetAfter ? [2, G * H] : [G * H];
  if (bias && useBias && !shapeIs(bias, biasShape)) throw new ModelFileError(`${where}: expected bias [${biasShape}], got [${bias.shape}]`);
  const sd: StateDict = Object.create(null);
  sd.weight_ih_l0 = new Tensor(reorderBlocks(transpose(kernel.values(), I, G * H), 0, H, I, spec.order), [G * H, I]);
  sd.weight_hh_l0 = new Tensor(reorderBlocks(transpose(rec.values(), H, G * H), 0, H, H, spec.order), [G * H, H]);
  if (useBias && bias) {
    const b = bias.values();
    sd.bias_ih_l0 = new Tensor(reorderBlocks(b, 0, H, 1, spec.order), [G * H]);
    sd.bias_hh_l0 = new Tensor(resetAfter ? reorderBlocks(b, G * H, H, 1, spec.order) : new Float32Array(G * H), [G * H]);
  }
  const batchFirst = config.time_major !== true;
  return { config: { kind: spec.kind, inputSize: I, hiddenSize: H, bidirectional: false, bias: useBias, batchFirst, nonlinearity }, stateDict: sd };
}

function lastSegment(name: string): string {
  return (name.split('/').pop() ?? '').replace(/:\d+$/, '');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function kind(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : `'${v}'`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}
