// recur in a web page: register the wasm backend, load a PyTorch .safetensors file, run an LSTM and
// compare with the output PyTorch stored in the same file.
import { getBackend, ready, registerBackend } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { LSTM, loadSafetensors } from '@recur/nn-recurrent';

const log = document.querySelector('#log');

async function main() {
  registerBackend(wasmBackend);
  await ready(); // picks the fastest backend that works here: wasm SIMD in current browsers, else js

  // public/lstm.safetensors, served next to the page. Its tensors: param.* (the state dict of PyTorch's
  // nn.LSTM(6, 8, num_layers=2, bidirectional=True)), input [5, 3, 6], h0 and c0 [4, 3, 8], output [5, 3, 16].
  const response = await fetch(`${import.meta.env.BASE_URL}lstm.safetensors`);
  const file = loadSafetensors(new Uint8Array(await response.arrayBuffer()));

  const lstm = new LSTM({ inputSize: 6, hiddenSize: 8, numLayers: 2, bidirectional: true });
  lstm.loadStateDict(file, { prefix: 'param.' }); // only the param.* keys, without the prefix
  lstm.eval();

  const [output] = lstm.forward(file.input, [file.h0, file.c0]);
  const ours = output.dataSync();
  const torch = file.output.dataSync();
  let maxDiff = 0;
  for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - torch[i]));

  const first = Array.from(ours.slice(0, 4), (v) => v.toFixed(6));
  log.textContent = [
    `backend: ${getBackend()}`,
    `output shape: [${output.shape.join(', ')}]`,
    `output[0, 0, 0:4]: ${first.join(' ')}`,
    `largest difference from PyTorch: ${maxDiff.toExponential(2)}`,
  ].join('\n');
  // For scripts/test-examples.mjs: the same facts, machine-readable.
  document.body.dataset.result = JSON.stringify({ backend: getBackend(), shape: output.shape, first: Array.from(ours.slice(0, 4)), maxDiff });
}

main().catch((error) => {
  log.textContent = `failed: ${error.message}`;
  document.body.dataset.result = JSON.stringify({ error: String(error) });
  throw error;
});
