// The built playground in headless Chromium, given the files of other tools: a torch.save .pt file,
// an ONNX graph with recurrent nodes inside If/Loop, and a TF.js model.json dropped together with its
// weight shard each load and put their configuration in the form; a refused file says why.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { launchChromium, serveStatic, watchConsole } from '@recur/conformance/browser';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../../../packages/convert/fixtures/${name}`, import.meta.url)));

let server: Awaited<ReturnType<typeof serveStatic>>;
let browser: Browser;
let page: Page;
let consoleErrors: ReturnType<typeof watchConsole>;

/** Drops files on the drop zone together, as a user would drag a selection there. */
async function drop(...files: Array<[string, Buffer]>): Promise<void> {
  const dataTransfer = await page.evaluateHandle((list) => {
    const transfer = new DataTransfer();
    for (const [name, bytes] of list) transfer.items.add(new File([new Uint8Array(bytes)], name));
    return transfer;
  }, files.map(([n, b]) => [n, [...b]] as [string, number[]]));
  await page.locator('#drop').dispatchEvent('drop', { dataTransfer });
}

const status = () => page.locator('#weights-status').textContent();

beforeAll(async () => {
  server = await serveStatic({ '/': dist });
  browser = await launchChromium();
  page = await browser.newPage();
  consoleErrors = watchConsole(page);
  await page.goto(`${server.url}/`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('playground: files from other tools', () => {
  it('offers .pt, .onnx and model.json in the file picker', async () => {
    expect(await page.locator('#file').getAttribute('accept')).toBe('.safetensors,.pt,.pth,.onnx,.json,.bin');
  });

  it('loads a torch.save .pt file and infers the configuration', async () => {
    await drop(['lstm_bi_2layer.pt', fixture('lstm_bi_2layer.pt')]);
    await expect.poll(status).toContain('lstm_bi_2layer.pt: 16 tensors, a LSTM(3, 4, numLayers=2, bidirectional)');
  });

  it('lists the recurrent nodes of an ONNX graph, subgraphs included, and loads the first', async () => {
    await drop(['control_flow.onnx', fixture('control_flow.onnx')]);
    await expect.poll(status).toContain('control_flow.onnx: 4 tensors, a GRU(3, 4)');
    const found = await page.locator('#weights-detail ul.found li').allTextContents();
    expect(found).toEqual(['pick/else_branch/Loop_3/body/music_gru GRU (loaded)', 'pick/then_branch/speech_lstm LSTM']);
  });

  it('loads a model.json dropped with its weight shard', async () => {
    await drop(['keras_stack.json', fixture('keras_stack.json')], ['keras_stack.bin', fixture('keras_stack.bin')]);
    await expect.poll(status).toContain('keras_stack.json: 4 tensors, a LSTM(3, 4)');
    expect(await page.locator('#weights-detail ul.found li').count()).toBe(4);
  });

  it('says why a file is refused', async () => {
    await drop(['gru.json', fixture('refuse_keras_gru_reset_before.json')], ['refuse_keras_gru_reset_before.bin', fixture('refuse_keras_gru_reset_before.bin')]);
    await expect.poll(status).toContain('could not be read as a Keras model: fromKeras: layer');
    expect(await status()).toContain('reset_after=false is not supported');
    await drop(['evil.pt', fixture('refuse_global.pt')]);
    await expect.poll(status).toContain("evil.pt could not be read as a torch.save file: loadTorch: data.pkl byte");
    await drop(['model.json', fixture('keras_stack.json')]);
    await expect.poll(status).toContain('drop it together with model.json');
  });

  it('logged no console error', () => {
    consoleErrors.check();
  });
});
