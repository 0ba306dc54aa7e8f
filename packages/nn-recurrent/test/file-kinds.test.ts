// loadSafetensors names the kind of a file that is plainly not safetensors and the loader to use.

import { SafetensorsError } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import { loadSafetensors, saveSafetensors } from '../src/index.js';
import { tensor } from '@recur/core-tensor';

const pad = (head: number[], n = 64) => Uint8Array.from({ length: n }, (_, i) => head[i] ?? 0);

describe('loadSafetensors given another kind of file', () => {
  it.each([
    ['a torch.save zip (.pt)', pad([0x50, 0x4b, 0x03, 0x04]), /a zip archive, which is what torch\.save writes \(\.pt\/\.pth\): load it with loadTorch from '@recur\/convert'/],
    ['a legacy pickle .pt', pad([0x80, 0x02, 0x8a, 0x0a]), /a Python pickle/],
    ['an ONNX model', pad([0x08, 0x07, 0x12, 0x07, 0x70, 0x79]), /an ONNX model .*fromOnnx/],
    ['a model.json', new TextEncoder().encode('{"format": "layers-model", "modelTopology": {}}'), /a JSON document .*fromKeras/],
  ])('%s', (_label, bytes, message) => {
    expect(() => loadSafetensors(bytes)).toThrow(SafetensorsError);
    expect(() => loadSafetensors(bytes)).toThrow(message);
  });

  it('still reads a real file whose header length begins with those bytes', () => {
    // Header lengths are padded to 8; one whose low byte is 0x7b ('{') or 0x08 must still load.
    const file = saveSafetensors({ w: tensor([1, 2, 3]) });
    expect(Array.from(loadSafetensors(file).w!.values)).toEqual([1, 2, 3]);
  });
});
