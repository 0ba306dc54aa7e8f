// The built wasm backend loads and runs in headless Chromium: it picks itself through ready(), and its
// fused LSTM layer agrees with the js backend on the same weights (the numbers are compared in Node).

import { launchChromium, serveStatic, watchConsole } from '@recur/conformance/browser';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import '@recur/conformance';

const pkg = (name: string) => fileURLToPath(new URL(`../../${name}/dist/`, import.meta.url));

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>recur wasm</title><link rel="icon" href="data:,">
<script type="importmap">{ "imports": {
  "@recur/core-tensor": "/core-tensor/index.js",
  "@recur/kernels-js": "/kernels-js/index.js",
  "@recur/kernels-wasm": "/kernels-wasm/index.js"
} }</script></head>
<body><script type="module">
  import { Generator, registerBackend, ready, getBackend } from '@recur/core-tensor';
  import { jsBackend } from '@recur/kernels-js';
  import { wasmBackend } from '@recur/kernels-wasm';
  registerBackend(jsBackend);
  registerBackend(wasmBackend);
  const chosen = await ready();
  const g = new Generator(1);
  const rand = (n) => Float32Array.from({ length: n }, () => g.uniform() - 0.5);
  const I = 12, H = 20, T = 7, B = 3;
  const weights = { mode: 'lstm', inputSize: I, hiddenSize: H, projSize: 0,
    weightIh: rand(4 * H * I), weightHh: rand(4 * H * H), biasIh: rand(4 * H), biasHh: rand(4 * H), weightHr: null };
  const x = rand(T * B * I);
  const run = (be) => {
    const out = new Float32Array(T * B * H), hN = new Float32Array(B * H), cN = new Float32Array(B * H);
    be.layer({ weights: be.prepareWeights(weights), x, seqLen: T, batch: B, h0: null, c0: null,
      out, outOffset: 0, outStride: H, hN, cN }, be.createWorkspace());
    return Array.from(out);
  };
  window.result = { chosen, current: getBackend(), variant: wasmBackend.kernelVariant(), stats: wasmBackend.memoryStats(), wasm: run(wasmBackend), js: run(jsBackend) };
</script></body></html>`;

describe('wasm backend in headless Chromium', () => {
  let server: Awaited<ReturnType<typeof serveStatic>>;
  beforeAll(async () => {
    server = await serveStatic(
      { '/core-tensor/': pkg('core-tensor'), '/kernels-js/': pkg('kernels-js'), '/kernels-wasm/': pkg('kernels-wasm') },
      { '/': PAGE },
    );
  });
  afterAll(async () => {
    await server.close();
  });

  it('is chosen by ready() and agrees with the js backend', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const consoleErrors = watchConsole(page);
      await page.goto(`${server.url}/`);
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 20_000 });
      const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as {
        chosen: string;
        current: string;
        variant: string;
        stats: { bytes: number };
        wasm: number[];
        js: number[];
      };
      consoleErrors.check();
      expect(result.chosen).toBe('wasm');
      expect(result.current).toBe('wasm');
      // Current Chromium has relaxed SIMD, so the fused multiply-add build runs there.
      expect(result.variant).toBe('relaxed-simd');
      expect(result.stats.bytes).toBeGreaterThan(0);
      expect(result.wasm).toHaveLength(7 * 3 * 20);
      expect(result.wasm).toBeAllclose(result.js);
    } finally {
      await browser.close();
    }
  });
});
