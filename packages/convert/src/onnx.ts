// fromOnnx: the LSTM, GRU and RNN nodes of an ONNX graph, anywhere in it (subgraphs of If, Loop,
// Scan included), as recur modules. Weights come from initializers or Constant nodes resolved by
// ONNX's scoping (innermost graph first, then each enclosing graph); gate blocks are reordered
// (LSTM i,o,f,c to i,f,g,o; GRU z,r,h to r,z,n) and B is split into bias_ih and bias_hh.

import { Tensor } from '@recur/core-tensor';
import type { GRU, LSTM, RNN, StateDict } from '@recur/nn-recurrent';
import { ModelFileError, asBytes, quote, sniffKind } from './errors.js';
import { bf16ToFloat, halfToFloat } from './floats.js';
import { type ModuleConfig, type RecurrentKind, type RecurrentModule, buildModule, reorderBlocks } from './modules.js';
import { type OnnxAttribute, type OnnxGraph, type OnnxNode, type OnnxTensor, decodeModel } from './onnx-proto.js';

const WHERE = 'fromOnnx';

/**
 * One recurrent node of the graph, as a configured recur module with its weights loaded. `op` tells
 * which module it is, so checking it narrows `module` to call its `forward`.
 * @example
 * for (const node of fromOnnx(readFileSync('model.onnx'))) {
 *   console.log(node.path, node.op, node.module.inputSize, node.module.hiddenSize);
 *   if (node.op === 'LSTM') node.module.forward(randn([5, 1, node.module.inputSize])); // [out, [h, c]]
 * }
 */
export type OnnxRecurrentNode = OnnxNodeOf<'LSTM', LSTM> | OnnxNodeOf<'GRU', GRU> | OnnxNodeOf<'RNN', RNN>;

/** An `OnnxRecurrentNode` of one op. */
export interface OnnxNodeOf<Op extends RecurrentKind, M extends RecurrentModule> {
  /** The node's name, or `<op>_<index in its graph>` when it has none. */
  name: string;
  /** Where it sits: enclosing nodes and their graph attributes, then the name (`pick/else_branch/music_gru`). */
  path: string;
  op: Op;
  module: M;
}

/** Per op: gate count, PyTorch's gate blocks as indices of ONNX's, the activations PyTorch uses. */
const OPS: Record<RecurrentKind, { gates: number; order: number[]; activations: string[][] }> = {
  LSTM: { gates: 4, order: [0, 2, 3, 1], activations: [['sigmoid', 'tanh', 'tanh']] },
  GRU: { gates: 3, order: [1, 0, 2], activations: [['sigmoid', 'tanh']] },
  RNN: { gates: 1, order: [0], activations: [['tanh'], ['relu']] },
};

const KNOWN_ATTRIBUTES = new Set(['activation_alpha', 'activation_beta', 'activations', 'clip', 'direction', 'hidden_size', 'input_forget', 'layout', 'linear_before_reset']);

/** Bytes and names of ONNX's float types recur converts to float32. */
const FLOAT_TYPES: ReadonlyMap<number, [string, number]> = new Map([
  [1, ['FLOAT', 4]],
  [10, ['FLOAT16', 2]],
  [11, ['DOUBLE', 8]],
  [16, ['BFLOAT16', 2]],
]);

type Resolved = OnnxTensor | 'runtime';

interface Scope {
  values: Map<string, Resolved>;
  parent: Scope | null;
}

/**
 * The recurrent nodes of an ONNX model (`LSTM`, `GRU` with `linear_before_reset=1`, `RNN` with
 * Tanh or Relu), in graph order, subgraphs included, each as a one-layer recur module in PyTorch's
 * layout (`layout=1` gives `batchFirst: true`; `h0`/`c0` stay `[D, B, H]` as in PyTorch). Refused,
 * naming the node and attribute: peepholes (`P`), `clip`, `input_forget`, activations other than
 * PyTorch's, `activation_alpha`/`beta`, `linear_before_reset=0`, `direction=reverse`, weights that
 * are computed at run time or stored in external files.
 * @example
 * const [{ module }] = fromOnnx(new Uint8Array(await readFile('model.onnx')));
 * const [out, [h, c]] = module.forward(x);
 */
export function fromOnnx(bytes: Uint8Array | ArrayBuffer): OnnxRecurrentNode[] {
  const file = asBytes(WHERE, bytes);
  const kind = sniffKind(file);
  if (kind && !kind.startsWith('an ONNX')) throw new ModelFileError(`${WHERE}: expected an ONNX model, got ${kind}`);
  const model = decodeModel(WHERE, file);
  if (!model.graph) throw new ModelFileError(`${WHERE}: expected an ONNX model with a graph, got ${file.length} bytes without one`);
  const found: Array<{ node: OnnxNode; name: string; path: string; scope: Scope }> = [];
  walk(model.graph, null, '', found);
  const configs = found.map((f) => ({ ...f, ...convert(f.node, f.path, f.scope) }));
  // buildModule builds the module `config.kind` names, so op and module agree as the type says.
  return configs.map(({ name, path, config, stateDict }) => ({ name, path, op: config.kind, module: buildModule(config, stateDict) }) as OnnxRecurrentNode);
}

function walk(graph: OnnxGraph, parent: Scope | null, path: string, found: Array<{ node: OnnxNode; name: string; path: string; scope: Scope }>): void {
  const values = new Map<string, Resolved>();
  for (const input of graph.inputs) values.set(input, 'runtime');
  for (const t of graph.initializers) values.set(t.name, t);
  for (const node of graph.nodes) {
    const value = node.opType === 'Constant' && isDefaultDomain(node) ? node.attributes.find((a) => a.name === 'value')?.t : undefined;
    for (const out of node.outputs) if (out !== '') values.set(out, value ?? 'runtime');
  }
  const scope: Scope = { values, parent };
  graph.nodes.forEach((node, index) => {
    const name = node.name || `${node.opType}_${index}`;
    const here = path ? `${path}/${name}` : name;
    if (isDefaultDomain(node) && Object.hasOwn(OPS, node.opType)) found.push({ node, name, path: here, scope });
    for (const a of node.attributes) {
      if (a.g) walk(a.g, scope, `${here}/${a.name}`, found);
      for (const [i, g] of a.graphs.entries()) walk(g, scope, `${here}/${a.name}[${i}]`, found);
    }
  });
}

function isDefaultDomain(node: OnnxNode): boolean {
  return node.domain === '' || node.domain === 'ai.onnx';
}

function convert(node: OnnxNode, path: string, scope: Scope): { config: ModuleConfig; stateDict: StateDict } {
  const op = node.opType as RecurrentKind;
  const where = `${WHERE}: ${op} node ${quote(path)}`;
  const spec = OPS[op];
  const attrs = new Map<string, OnnxAttribute>();
  for (const a of node.attributes) {
    if (!KNOWN_ATTRIBUTES.has(a.name)) throw new ModelFileError(`${where}: unsupported attribute ${quote(a.name)} (recur knows ${[...KNOWN_ATTRIBUTES].join(', ')})`);
    attrs.set(a.name, a);
  }
  const refuse = (attr: string, why: string): never => {
    throw new ModelFileError(`${where}: attribute ${attr} ${why}`);
  };
  for (const a of ['clip', 'activation_alpha', 'activation_beta']) if (attrs.has(a)) refuse(a, 'is not supported: PyTorch\'s layers have no such parameter');
  if ((attrs.get('input_forget')?.i ?? 0) !== 0) refuse('input_forget=1', 'is not supported: PyTorch\'s LSTM has no coupled input-forget gate');
  if (op === 'GRU' && (attrs.get('linear_before_reset')?.i ?? 0) !== 1) {
    refuse(`linear_before_reset=${attrs.get('linear_before_reset')?.i ?? 0}`, 'is not supported: PyTorch\'s GRU applies r to (W_hn h + b_hn), which is linear_before_reset=1');
  }
  const direction = text(attrs.get('direction')) ?? 'forward';
  if (direction !== 'forward' && direction !== 'bidirectional') {
    refuse(`direction=${quote(direction)}`, direction === 'reverse' ? 'is not supported: PyTorch has no reverse-only layer' : "is not one of 'forward', 'bidirectional'");
  }
  const D = direction === 'bidirectional' ? 2 : 1;
  const layout = attrs.get('layout')?.i ?? 0;
  if (layout !== 0 && layout !== 1) refuse(`layout=${layout}`, 'is not 0 or 1');
  const activations = (attrs.get('activations')?.strings ?? []).map((s) => new TextDecoder().decode(s).toLowerCase());
  let nonlinearity: 'tanh' | 'relu' = 'tanh';
  if (activations.length) {
    const per = activations.length / D;
    const match = spec.activations.find((a) => a.length === per && activations.every((v, i) => v === a[i % per]));
    if (!match) {
      refuse(
        `activations=[${activations.join(', ')}]`,
        `is not supported: PyTorch's ${op} computes ${spec.activations.map((a) => `[${a.join(', ')}]`).join(' or ')} per direction`,
      );
    }
    if (match![0] === 'relu') nonlinearity = 'relu';
  }
  const input = (i: number, label: string): OnnxTensor | null => {
    const name = node.inputs[i] ?? '';
    if (name === '') return null;
    const value = resolve(scope, name);
    if (value === undefined) throw new ModelFileError(`${where}: input ${label} ${quote(name)} is defined in no enclosing graph`);
    if (value === 'runtime') {
      throw new ModelFileError(`${where}: input ${label} ${quote(name)} is computed at run time; recur needs it as an initializer or Constant`);
    }
    return value;
  };
  if (op === 'LSTM' && input(7, 'P') !== null) throw new ModelFileError(`${where}: input P (peephole weights) is not supported: PyTorch's LSTM has no peepholes`);
  const W = input(1, 'W');
  const R = input(2, 'R');
  if (!W || !R) throw new ModelFileError(`${where}: expected inputs W and R, got ${node.inputs.length} inputs`);
  const G = spec.gates;
  const w = floats(where, 'W', W);
  const r = floats(where, 'R', R);
  const [dW, gh, I] = dims3(where, 'W', W);
  const [dR, ghR, H] = dims3(where, 'R', R);
  const hiddenSize = attrs.get('hidden_size')?.i ?? H;
  if (!(dW === D && dR === D && gh === G * hiddenSize && ghR === G * hiddenSize && H === hiddenSize && I > 0 && hiddenSize > 0)) {
    throw new ModelFileError(
      `${where}: expected W [${D}, ${G}*hidden_size, input_size] and R [${D}, ${G}*hidden_size, hidden_size] for hidden_size ${hiddenSize}, got W [${W.dims.join(',')}] and R [${R.dims.join(',')}]`,
    );
  }
  const B = input(3, 'B');
  const b = B ? floats(where, 'B', B) : null;
  if (B && !(B.dims.length === 2 && B.dims[0] === D && B.dims[1] === 2 * G * H)) {
    throw new ModelFileError(`${where}: expected B [${D}, ${2 * G * H}], got [${B.dims.join(',')}]`);
  }
  const sd: StateDict = Object.create(null);
  for (let d = 0; d < D; d++) {
    const suffix = d === 1 ? '_l0_reverse' : '_l0';
    sd[`weight_ih${suffix}`] = new Tensor(reorderBlocks(w, d * G * H * I, H, I, spec.order), [G * H, I]);
    sd[`weight_hh${suffix}`] = new Tensor(reorderBlocks(r, d * G * H * H, H, H, spec.order), [G * H, H]);
    if (b) {
      sd[`bias_ih${suffix}`] = new Tensor(reorderBlocks(b, d * 2 * G * H, H, 1, spec.order), [G * H]);
      sd[`bias_hh${suffix}`] = new Tensor(reorderBlocks(b, (d * 2 + 1) * G * H, H, 1, spec.order), [G * H]);
    }
  }
  const config: ModuleConfig = { kind: op, inputSize: I, hiddenSize: H, bidirectional: D === 2, bias: b !== null, batchFirst: layout === 1, nonlinearity };
  return { config, stateDict: sd };
}

function resolve(scope: Scope | null, name: string): Resolved | undefined {
  for (let s = scope; s; s = s.parent) if (s.values.has(name)) return s.values.get(name);
  return undefined;
}

function text(a: OnnxAttribute | undefined): string | null {
  return a?.s ? new TextDecoder().decode(a.s) : null;
}

function dims3(where: string, label: string, t: OnnxTensor): [number, number, number] {
  if (t.dims.length !== 3) throw new ModelFileError(`${where}: expected ${label} of rank 3, got dims [${t.dims.join(',')}]`);
  return t.dims as [number, number, number];
}

/** A float tensor's values as float32, after checking they are all there (and nothing more). */
function floats(where: string, label: string, t: OnnxTensor): Float32Array {
  const at = `${where}: ${label} ${quote(t.name)}`;
  if (t.external) throw new ModelFileError(`${at} is stored in an external data file; save the model with its weights inside (onnx.save(model, path, save_as_external_data=False))`);
  const type = FLOAT_TYPES.get(t.dataType);
  if (!type) throw new ModelFileError(`${at}: expected data type FLOAT, FLOAT16, BFLOAT16 or DOUBLE, got data type ${t.dataType}`);
  if (!t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ModelFileError(`${at}: expected non-negative dims, got [${t.dims.join(',')}]`);
  const numel = t.dims.reduce((a, d) => a * d, 1);
  const [typeName, size] = type;
  const listed = t.dataType === 1 ? t.floatData : t.dataType === 11 ? t.doubleData : t.int32Data;
  const given = t.rawData ? t.rawData.length / size : listed.length;
  if (given !== numel) {
    throw new ModelFileError(`${at} of dims [${t.dims.join(',')}] needs ${numel} ${typeName} values, the tensor holds ${t.rawData ? `${t.rawData.length} raw bytes` : `${given} values`}`);
  }
  const out = new Float32Array(numel);
  if (!t.rawData) {
    for (let i = 0; i < numel; i++) out[i] = t.dataType === 10 ? halfToFloat(listed[i]! & 0xffff) : t.dataType === 16 ? bf16ToFloat(listed[i]!) : listed[i]!;
    return out;
  }
  const v = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
  for (let i = 0; i < numel; i++) {
    if (t.dataType === 1) out[i] = v.getFloat32(4 * i, true);
    else if (t.dataType === 11) out[i] = v.getFloat64(8 * i, true);
    else if (t.dataType === 10) out[i] = halfToFloat(v.getUint16(2 * i, true));
    else out[i] = bf16ToFloat(v.getUint16(2 * i, true));
  }
  return out;
}
