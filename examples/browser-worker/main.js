// The page: it posts a long sequence to the worker and awaits the result, while a timer and
// requestAnimationFrame keep counting, which shows the main thread stayed free. For contrast, the same
// forward on the main thread: no tick and no frame until it returns.
import { randn, ready, registerBackend } from '@recur/core-tensor';
import { wasmBackend } from '@recur/kernels-wasm';
import { createModel, INPUT_SIZE } from './model.js';

const $ = (selector) => document.querySelector(selector);
const STEPS = 1500; // a sequence of 1500 steps, batch 1: long enough to see the counters move

// The main thread's heartbeat.
let ticks = 0;
let frames = 0;
setInterval(() => {
  ticks++;
  $('#ticks').textContent = ticks;
}, 10);
(function frame() {
  frames++;
  $('#frames').textContent = frames;
  $('#spinner').style.transform = `rotate(${frames * 6}deg)`;
  requestAnimationFrame(frame);
})();

// A promise per request: post the input, await the worker's answer.
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
const pending = new Map();
let nextId = 0;
worker.onmessage = ({ data }) => {
  const { resolve, reject } = pending.get(data.id);
  pending.delete(data.id);
  if (data.error) reject(new Error(data.error));
  else resolve(data);
};
function forwardInWorker(x) {
  const id = nextId++;
  const data = x.dataSync().slice();
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, data, shape: x.shape }, [data.buffer]);
  });
}

/** Runs `work` and reports how far the main thread's counters moved meanwhile. */
async function watch(work) {
  const [t, f, start] = [ticks, frames, performance.now()];
  const result = await work();
  const during = { ticks: ticks - t, frames: frames - f, ms: performance.now() - start };
  return { result, during };
}

let model; // the main thread's copy, built on first use
const x = randn([STEPS, 1, INPUT_SIZE], { seed: 1 });

async function runInWorker() {
  const { result, during } = await watch(() => forwardInWorker(x));
  log(`worker (${result.backend}): output [${result.shape.join(', ')}] in ${during.ms.toFixed(0)} ms; ` +
    `meanwhile the main thread ticked ${during.ticks} times and drew ${during.frames} frames`);
  return { backend: result.backend, ticks: during.ticks, frames: during.frames, ms: during.ms, data: result.data };
}

async function runOnMain() {
  model ??= createModel();
  const { result, during } = await watch(async () => model.forward(x)[0].dataSync().slice());
  log(`main thread: the same forward in ${during.ms.toFixed(0)} ms; ` +
    `meanwhile the main thread ticked ${during.ticks} times and drew ${during.frames} frames`);
  return { ticks: during.ticks, frames: during.frames, ms: during.ms, data: result };
}

const lines = [];
function log(line) {
  lines.push(line);
  $('#log').textContent = lines.join('\n');
}

async function main() {
  registerBackend(wasmBackend);
  await ready();
  // On load: the worker run, then the main-thread run, then whether both gave the same numbers.
  const inWorker = await runInWorker();
  const onMain = await runOnMain();
  let maxDiff = 0;
  for (let i = 0; i < onMain.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(onMain.data[i] - inWorker.data[i]));
  log(`largest difference between the two: ${maxDiff}`);
  // For scripts/test-examples.mjs: the same facts, machine-readable.
  document.body.dataset.result = JSON.stringify({
    backend: inWorker.backend,
    worker: { ticks: inWorker.ticks, frames: inWorker.frames, ms: inWorker.ms },
    main: { ticks: onMain.ticks, frames: onMain.frames, ms: onMain.ms },
    maxDiff,
  });
  for (const [id, run] of [['#run-worker', runInWorker], ['#run-main', runOnMain]]) {
    $(id).disabled = false;
    $(id).onclick = () => run().catch((error) => log(`failed: ${error.message}`));
  }
}

main().catch((error) => {
  log(`failed: ${error.message}`);
  document.body.dataset.result = JSON.stringify({ error: String(error) });
  throw error;
});
