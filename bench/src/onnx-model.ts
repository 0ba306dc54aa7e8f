// Builds the ONNX graph of a PyTorch RNN/LSTM/GRU stack by hand: one ONNX LSTM/GRU/RNN node per layer
// (gates reordered: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h with linear_before_reset=1), and for
// stacked or bidirectional layers a Transpose + Reshape from [T, D, B, H] to [T, B, D*H].

import onnxProto, { type onnx as OnnxTypes } from 'onnx-proto';

// onnx-proto is CommonJS: take the namespace from its default export.
const { onnx } = onnxProto;
import { type Weights, type Workload, gates, reorderGates } from './workloads.js';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

function floatTensor(name: string, dims: number[], data: Float32Array): OnnxTypes.ITensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

function valueInfo(name: string, dims: number[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  };
}

/** The serialized model: input `X` `[T, B, I]`, output `Y` `[T, B, D*H]`. */
export function buildOnnxModel(w: Workload, weights: Weights): Uint8Array {
  const H = w.hiddenSize;
  const G = gates(w.kind);
  const D = w.bidirectional ? 2 : 1;
  const order = w.kind === 'LSTM' ? [0, 3, 1, 2] : w.kind === 'GRU' ? [1, 0, 2] : [0];
  const nodes: OnnxTypes.INodeProto[] = [];
  const inits: OnnxTypes.ITensorProto[] = [];
  let input = 'X';
  for (let l = 0; l < w.numLayers; l++) {
    const I = l === 0 ? w.inputSize : H * D;
    const W = new Float32Array(D * G * H * I);
    const R = new Float32Array(D * G * H * H);
    const Bias = new Float32Array(D * 2 * G * H);
    for (let d = 0; d < D; d++) {
      const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
      W.set(reorderGates(weights.params[`weight_ih${sfx}`]!.data, H, I, order), d * G * H * I);
      R.set(reorderGates(weights.params[`weight_hh${sfx}`]!.data, H, H, order), d * G * H * H);
      Bias.set(reorderGates(weights.params[`bias_ih${sfx}`]!.data, H, 1, order), d * 2 * G * H);
      Bias.set(reorderGates(weights.params[`bias_hh${sfx}`]!.data, H, 1, order), d * 2 * G * H + G * H);
    }
    inits.push(floatTensor(`W${l}`, [D, G * H, I], W), floatTensor(`R${l}`, [D, G * H, H], R), floatTensor(`B${l}`, [D, 2 * G * H], Bias));
    const attributes: OnnxTypes.IAttributeProto[] = [
      { name: 'hidden_size', type: onnx.AttributeProto.AttributeType.INT, i: H },
      { name: 'direction', type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(D === 2 ? 'bidirectional' : 'forward') },
    ];
    if (w.kind === 'GRU') attributes.push({ name: 'linear_before_reset', type: onnx.AttributeProto.AttributeType.INT, i: 1 });
    if (w.kind === 'RNN') {
      attributes.push({ name: 'activations', type: onnx.AttributeProto.AttributeType.STRINGS, strings: [new TextEncoder().encode('Tanh')] });
    }
    nodes.push({ opType: w.kind, input: [input, `W${l}`, `R${l}`, `B${l}`], output: [`Y${l}`], attribute: attributes, name: `layer${l}` });
    // [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H]
    nodes.push({ opType: 'Transpose', input: [`Y${l}`], output: [`Yt${l}`], attribute: [{ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: [0, 2, 1, 3] }] });
    inits.push({ name: `shape${l}`, dims: [3], dataType: INT64, int64Data: [w.seqLen, w.batch, D * H] });
    const out = l === w.numLayers - 1 ? 'Y' : `X${l + 1}`;
    nodes.push({ opType: 'Reshape', input: [`Yt${l}`, `shape${l}`], output: [out] });
    input = out;
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'recur-bench',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: `${w.kind}-${w.id}`,
      node: nodes,
      initializer: inits,
      input: [valueInfo('X', [w.seqLen, w.batch, w.inputSize])],
      output: [valueInfo('Y', [w.seqLen, w.batch, D * H])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
