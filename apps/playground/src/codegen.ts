// The equivalent recur (TypeScript) and PyTorch code for a configuration, ready to copy.

import { type Config, isCell, layerKind, numDirections, shapesOf } from './config.js';

function recurOptions(c: Config): string {
  const o: string[] = [];
  if (!isCell(c.kind) && c.numLayers !== 1) o.push(`numLayers: ${c.numLayers}`);
  if ((c.kind === 'RNN' || c.kind === 'RNNCell') && c.nonlinearity === 'relu') o.push("nonlinearity: 'relu'");
  if (!c.bias) o.push('bias: false');
  if (!isCell(c.kind) && c.batchFirst) o.push('batchFirst: true');
  if (!isCell(c.kind) && c.bidirectional) o.push('bidirectional: true');
  if (c.kind === 'LSTM' && c.projSize > 0) o.push(`projSize: ${c.projSize}`);
  return o.length ? `, { ${o.join(', ')} }` : '';
}

function torchOptions(c: Config): string {
  const o: string[] = [];
  if (!isCell(c.kind) && c.numLayers !== 1) o.push(`num_layers=${c.numLayers}`);
  if ((c.kind === 'RNN' || c.kind === 'RNNCell') && c.nonlinearity === 'relu') o.push("nonlinearity='relu'");
  if (!c.bias) o.push('bias=False');
  if (!isCell(c.kind) && c.batchFirst) o.push('batch_first=True');
  if (!isCell(c.kind) && c.bidirectional) o.push('bidirectional=True');
  if (c.kind === 'LSTM' && c.projSize > 0) o.push(`proj_size=${c.projSize}`);
  return o.length ? `, ${o.join(', ')}` : '';
}

export function recurCode(c: Config): string {
  const s = shapesOf(c);
  const lstm = layerKind(c.kind) === 'LSTM';
  if (isCell(c.kind)) {
    return `import { Tensor, randn, zeros } from '@recur/core-tensor';
import { ${c.kind} } from '@recur/nn-recurrent';

const cell = new ${c.kind}(${c.inputSize}, ${c.hiddenSize}${recurOptions(c)});
const x = randn([${s.input.join(', ')}], { seed: ${c.seed} }).dataSync();
const step = (t: number) => new Tensor(x.slice(t * ${c.batch * c.inputSize}, (t + 1) * ${c.batch * c.inputSize}), [${c.batch}, ${c.inputSize}]);
let h = zeros([${c.batch}, ${c.hiddenSize}]);${lstm ? `\nlet c = zeros([${c.batch}, ${c.hiddenSize}]);` : ''}
for (let t = 0; t < ${c.seqLen}; t++) {
  ${lstm ? '[h, c] = cell.forward(step(t), [h, c]);' : 'h = cell.forward(step(t), h);'}
}`;
  }
  return `import { randn } from '@recur/core-tensor';
import { ${c.kind} } from '@recur/nn-recurrent';

const ${c.kind.toLowerCase()} = new ${c.kind}(${c.inputSize}, ${c.hiddenSize}${recurOptions(c)});
${c.kind.toLowerCase()}.eval();
const x = randn([${s.input.join(', ')}], { seed: ${c.seed} });
const [out, ${lstm ? '[hN, cN]' : 'hN'}] = ${c.kind.toLowerCase()}.forward(x);
// out ${JSON.stringify(s.output)}, hN ${JSON.stringify(s.hN)}${s.cN ? `, cN ${JSON.stringify(s.cN)}` : ''}`;
}

export function torchCode(c: Config): string {
  const s = shapesOf(c);
  const lstm = layerKind(c.kind) === 'LSTM';
  if (isCell(c.kind)) {
    return `import torch

cell = torch.nn.${c.kind}(${c.inputSize}, ${c.hiddenSize}${torchOptions(c)})
x = torch.randn(${s.input.join(', ')})
h = torch.zeros(${c.batch}, ${c.hiddenSize})${lstm ? `\nc = torch.zeros(${c.batch}, ${c.hiddenSize})` : ''}
for t in range(${c.seqLen}):
    ${lstm ? 'h, c = cell(x[t], (h, c))' : 'h = cell(x[t], h)'}`;
  }
  const D = numDirections(c);
  return `import torch

${c.kind.toLowerCase()} = torch.nn.${c.kind}(${c.inputSize}, ${c.hiddenSize}${torchOptions(c)}).eval()
x = torch.randn(${s.input.join(', ')})
out, ${lstm ? '(h_n, c_n)' : 'h_n'} = ${c.kind.toLowerCase()}(x)
# out ${JSON.stringify(s.output)}, h_n ${JSON.stringify(s.hN)}${s.cN ? `, c_n ${JSON.stringify(s.cN)}` : ''}${
    D === 2
      ? `\n# out[-1, :, :H] == h_n[-2] (forward ends last); out[0, :, H:] == h_n[-1] (reverse ends first)`
      : '\n# out[-1] == h_n[-1]'
  }
# save for recur: from safetensors.torch import save_file; save_file(${c.kind.toLowerCase()}.state_dict(), "model.safetensors")`;
}
