// Threads in headless Chromium, on the built packages: on a cross-origin isolated page (COOP
// same-origin, COEP require-corp) a Web Worker runs a threads: 2 backend on 2 threads, with LSTM and
// GRU outputs bit-identical to one thread, while the page's main thread (which may not block) runs on
// one and says so; on a page served without the headers, both say which headers to send.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CROSS_ORIGIN_ISOLATION, launchChromium, serveStatic, watchConsole } from '@recur/conformance/browser';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageResult } from './threads-page.js';

const dist = (name: string) => fileURLToPath(new URL(`../../${name}/dist/index.js`, import.meta.url));

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>recur wasm threads</title><link rel="icon" href="data:,"></head>
<body><script type="module" src="/threads-page.js"></script></body></html>`;

/** threads-page.ts with @recur/core-tensor and @recur/kernels-wasm from their dist/ (what users get). */
async function bundle(): Promise<string> {
  const built = await build({
    entryPoints: [fileURLToPath(new URL('./threads-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'recur-dist',
        setup(b) {
          b.onResolve({ filter: /^@recur\/(core-tensor|kernels-wasm)$/ }, (args) => ({ path: dist(args.path.slice('@recur/'.length)) }));
        },
      },
    ],
  });
  return built.outputFiles[0]!.text;
}

async function open(url: string): Promise<PageResult> {
  const page = await browser.newPage();
  const consoleErrors = watchConsole(page);
  await page.goto(url);
  await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, { timeout: 30_000 });
  const result = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as PageResult | { error: string };
  await page.close();
  if ('error' in result) throw new Error(`the page failed: ${result.error}`);
  consoleErrors.check();
  return result;
}

let isolated: Awaited<ReturnType<typeof serveStatic>>;
let plain: Awaited<ReturnType<typeof serveStatic>>;
let browser: Awaited<ReturnType<typeof launchChromium>>;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'recur-threads-page-'));
  writeFileSync(join(dir, 'threads-page.js'), await bundle());
  isolated = await serveStatic({ '/': dir }, { '/': PAGE }, { ...CROSS_ORIGIN_ISOLATION });
  plain = await serveStatic({ '/': dir }, { '/': PAGE });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await isolated?.close();
  await plain?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('wasm threads in headless Chromium', () => {
  it('run on 2 threads in a Web Worker of a cross-origin isolated page, bit-identical to 1 thread', async () => {
    const { main, worker } = await open(`${isolated.url}/`);

    expect(worker.crossOriginIsolated).toBe(true);
    expect(worker.unavailable).toBeNull();
    expect(worker.two).toMatchObject({ requested: 2, active: 2, reason: null, lastCall: 2 });
    expect(worker.two.threadedCalls).toBeGreaterThan(0);
    expect(worker.one).toMatchObject({ requested: 1, active: 1, reason: null, lastCall: 1 });
    for (const mode of ['lstm', 'gru']) {
      const { two, one } = worker.outputs[mode]!;
      expect(two.length, mode).toBe(9 * 5 * 40 + 5 * 40 * (mode === 'lstm' ? 2 : 1));
      expect(two.some((v) => v !== 0), mode).toBe(true);
      expect(two, `${mode}: 2 threads vs 1`).toEqual(one);
      // The main thread ran on one thread: the same numbers again.
      expect(main.outputs[mode]!.two, `${mode}: main thread`).toEqual(one);
    }

    // The page's main thread has SharedArrayBuffer but may not block: one thread, and why.
    expect(main.crossOriginIsolated).toBe(true);
    expect(main.sharedArrayBuffer).toBe(true);
    expect(main.two).toMatchObject({ requested: 2, active: 1, lastCall: 1 });
    expect(main.two.reason).toMatch(/main thread/);
    expect(main.unavailable).toBe(main.two.reason);
    // forwardAsync's path on the page's main thread: the worker recur manages, on 2 threads there.
    expect(main.two.worker).toMatchObject({ active: 2, reason: null, lastCall: 2, weightsSent: 1 });
    expect(main.proxied, 'proxied LSTM vs 1 thread').toEqual(main.outputs.lstm!.one);
    expect(worker.proxied).toBeNull();
  });

  it('stay off on a page served without the headers, and say which headers to send', async () => {
    const { main, worker } = await open(`${plain.url}/`);
    for (const [where, probe] of [['main thread', main], ['worker', worker]] as const) {
      expect(probe.crossOriginIsolated, where).toBe(false);
      expect(probe.sharedArrayBuffer, where).toBe(false);
      expect(probe.two, where).toMatchObject({ requested: 2, active: 1, lastCall: 1 });
      expect(probe.two.reason, where).toMatch(/cross-origin isolated/);
      expect(probe.two.reason, where).toContain('Cross-Origin-Opener-Policy: same-origin');
      expect(probe.two.reason, where).toContain('Cross-Origin-Embedder-Policy: require-corp');
      for (const mode of ['lstm', 'gru']) expect(probe.outputs[mode]!.two, `${where} ${mode}`).toEqual(probe.outputs[mode]!.one);
      if (where === 'main thread') {
        // Not isolated: the proxy's worker runs on one thread and says why, with the same numbers.
        expect(probe.two.worker).toMatchObject({ active: 1 });
        expect(probe.two.worker?.reason).toMatch(/cross-origin isolated/);
        expect(probe.proxied).toEqual(probe.outputs.lstm!.one);
      }
    }
  });
});
