// Streaming inference: frames of sensor data are read from a file (or any readable stream: a pipe,
// a socket, process.stdin) and pushed through a 2-layer LSTM one frame at a time, carrying (h, c)
// between calls. Then the same frames are run as one sequence to show both give the same numbers.
//
// Run: npm start            (writes frames.bin first)
//      node index.js my.bin (raw little-endian float32, 8 values per frame)

import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { getBackend, noGrad, ready, registerBackend, tensor } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { LSTM } from '@recur/nn-recurrent';

const CHANNELS = 8;
const BYTES_PER_FRAME = CHANNELS * Float32Array.BYTES_PER_ELEMENT;

const file = process.argv[2] ?? 'frames.bin';
if (!process.argv[2]) writeFrames(file, 300);

registerBackend(wasmBackend);
await ready(); // wasm SIMD where available, else the js backend

// Trained weights would be loaded here:
// lstm.loadStateDict(loadSafetensors(readFileSync('model.safetensors')));
const lstm = new LSTM({ inputSize: CHANNELS, hiddenSize: 32, numLayers: 2, seed: 0 });
lstm.eval();

const stream = lstm.stream({ batch: 1 });
const outputs = [];
let frames = 0;
const start = performance.now();
for await (const frame of framesOf(createReadStream(file, { highWaterMark: 1000 }))) {
  const y = stream.step(frame); // [1, 32]; reused by the next step, so copy what you keep
  outputs.push(y.values.slice());
  frames++;
  if (frames % 100 === 0) console.log(`frame ${frames}: h[0..3] = ${[...y.values.slice(0, 4)].map((v) => v.toFixed(4)).join(' ')}`);
}
const msPerFrame = (performance.now() - start) / frames;

// The same frames as one [T, 1, 8] sequence: forward gives the same outputs as the stream.
const bytes = readFileSync(file);
const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const [whole] = noGrad(() => lstm.forward(tensor(all, [frames, 1, CHANNELS])));
let maxDiff = 0;
outputs.forEach((out, t) => {
  out.forEach((v, i) => {
    maxDiff = Math.max(maxDiff, Math.abs(v - whole.values[t * out.length + i]));
  });
});

console.log(`streamed ${frames} frames from ${file} on the '${getBackend()}' backend, ${(msPerFrame * 1000).toFixed(1)} µs per frame`);
console.log(`largest difference from a whole-sequence forward: ${maxDiff.toExponential(2)}`);
if (maxDiff > 1e-5) {
  console.error('the stream and the whole-sequence forward disagree');
  process.exitCode = 1;
}

/** Yields one frame at a time from a byte stream whose chunks need not align with frames. */
async function* framesOf(readable) {
  const frame = new Float32Array(CHANNELS); // reused: step() copies what it needs
  const frameBytes = new Uint8Array(frame.buffer);
  let filled = 0;
  for await (const chunk of readable) {
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(BYTES_PER_FRAME - filled, chunk.length - at);
      frameBytes.set(chunk.subarray(at, at + n), filled);
      filled += n;
      at += n;
      if (filled === BYTES_PER_FRAME) {
        yield frame;
        filled = 0;
      }
    }
  }
  if (filled !== 0) throw new Error(`${file}: ${filled} bytes left over, not a whole frame of ${BYTES_PER_FRAME}`);
}

/** A made-up recording: 8 channels of noisy sines, as little-endian float32. */
function writeFrames(path, count) {
  const data = new Float32Array(count * CHANNELS);
  for (let t = 0; t < count; t++) {
    for (let ch = 0; ch < CHANNELS; ch++) data[t * CHANNELS + ch] = Math.sin(0.05 * t * (ch + 1)) + 0.1 * Math.sin(7.3 * t + ch);
  }
  writeFileSync(path, data);
  console.log(`wrote ${count} frames of ${CHANNELS} channels to ${path}`);
}
