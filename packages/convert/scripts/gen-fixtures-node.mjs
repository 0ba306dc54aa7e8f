// Adds the peers' own outputs to the fixtures: onnxruntime-node runs every ONNX fixture that
// gen-fixtures.py wrote, and @tensorflow/tfjs builds, saves (model.json + weights) and runs Keras
// layers models. Both peers live in the private bench workspace; run from packages/convert after
// the Python generator: node scripts/gen-fixtures-node.mjs

import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(new URL('../../../bench/package.json', import.meta.url));
const ort = require('onnxruntime-node');
const tf = require('@tensorflow/tfjs');

const DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));
const T = 5;
const B = 2;
const I = 3;
const H = 4;

const toJson = (t) => ({ shape: [...t.dims], data: Array.from(t.data, Number) });
const tfJson = (t) => ({ shape: t.shape, data: Array.from(t.dataSync(), Number) });
const f32 = (j) => new ort.Tensor('float32', Float32Array.from(j.data), j.shape);

async function onnxOutputs() {
  const cases = JSON.parse(readFileSync(`${DIR}onnx-expected.json`, 'utf8'));
  for (const [file, c] of Object.entries(cases)) {
    const session = await ort.InferenceSession.create(`${DIR}${file}`);
    const runs = file === 'control_flow.onnx' ? { then_branch: true, else_branch: false } : { graph: null };
    c.ort = {};
    for (const [label, flag] of Object.entries(runs)) {
      const feeds = { x: f32(c.x) };
      if (flag !== null) feeds.use_lstm = new ort.Tensor('bool', [flag], []);
      const result = await session.run(feeds);
      c.ort[label] = Object.fromEntries(Object.entries(result).map(([k, v]) => [k, toJson(v)]));
    }
  }
  writeFileSync(`${DIR}onnx-expected.json`, JSON.stringify(cases));
}

async function saveKeras(name, model, x) {
  // Random biases too (Keras initialises them to zero), so the bias mapping is checked.
  let seed = 11;
  for (const layer of model.layers) layer.setWeights(layer.getWeights().map((w) => tf.randomNormal(w.shape, 0, 0.5, 'float32', seed++)));
  let artifacts;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  const json = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: [`${name}.bin`], weights: artifacts.weightSpecs }],
  };
  writeFileSync(`${DIR}${name}.json`, JSON.stringify(json));
  const data = Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData];
  writeFileSync(`${DIR}${name}.bin`, Buffer.concat(data.map((b) => Buffer.from(b))));
  if (!x) return;
  // Each layer's own output, run eagerly on the previous layer's, so every module is checked alone.
  const layers = [];
  let h = x;
  for (const layer of model.layers) {
    h = layer.apply(h);
    layers.push({ out: tfJson(h) });
  }
  writeFileSync(`${DIR}${name}.expected.json`, JSON.stringify({ x: tfJson(x), layers }));
}

async function kerasModels() {
  await tf.setBackend('cpu');
  tf.util.seedrandom?.('recur');
  const x = tf.randomNormal([B, T, I], 0, 1, 'float32', 7);
  const lstm = (extra) => tf.layers.lstm({ units: H, returnSequences: true, recurrentActivation: 'sigmoid', ...extra });
  const stack = tf.sequential({
    layers: [
      lstm({ inputShape: [T, I], name: 'lstm' }),
      tf.layers.bidirectional({ layer: lstm({}), mergeMode: 'concat', name: 'bi_lstm' }),
      tf.layers.simpleRNN({ units: H, activation: 'relu', returnSequences: true, name: 'rnn_relu' }),
      tf.layers.simpleRNN({ units: 2, useBias: false, returnSequences: true, name: 'rnn_no_bias' }),
    ],
  });
  await saveKeras('keras_stack', stack, x);
  const gruV1 = tf.sequential({ layers: [tf.layers.gru({ units: H, inputShape: [T, I], recurrentActivation: 'sigmoid' })] });
  await saveKeras('refuse_keras_gru_reset_before', gruV1, null);
  const hard = tf.sequential({ layers: [tf.layers.lstm({ units: H, inputShape: [T, I] })] });
  await saveKeras('refuse_keras_hard_sigmoid', hard, null);
}

await onnxOutputs();
await kerasModels();
console.log('onnxruntime', ort.env.versions?.common ?? '', 'tfjs', tf.version.tfjs);
