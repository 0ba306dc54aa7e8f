// The safetensors reader and writer: round trips, every dtype recur converts, files written by the
// fixture generator, and malformed files rejected with a clear message before any allocation.

import { randn, tensor } from '@recur/core-tensor';
import { describe, expect, it } from 'vitest';
import { LSTM, SafetensorsError, loadSafetensors, readSafetensors, saveSafetensors } from '../src/index.js';
import { fixtureBytes } from './fixtures.js';

/** Builds a file from a header object and raw data bytes, as the format specifies. */
function file(header: object, data: Uint8Array = new Uint8Array(0), headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function bytesOf(values: number[], type: 'f32' | 'f64' | 'u16'): Uint8Array {
  const size = type === 'f64' ? 8 : type === 'f32' ? 4 : 2;
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (type === 'f32') v.setFloat32(i * 4, x, true);
    else if (type === 'f64') v.setFloat64(i * 8, x, true);
    else v.setUint16(i * 2, x, true);
  });
  return out;
}

describe('safetensors', () => {
  it('round-trips a state dict with metadata, header padded to 8 bytes', () => {
    const lstm = new LSTM(3, 4, 2, { bidirectional: true, seed: 1 });
    const bytes = saveSafetensors(lstm.stateDict(), { format: 'pt' });
    const headerLength = new DataView(bytes.buffer).getUint32(0, true);
    expect(headerLength % 8).toBe(0);
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors).toEqual(lstm.stateDict());
    const other = new LSTM(3, 4, 2, { bidirectional: true, seed: 2 });
    other.loadStateDict(loadSafetensors(bytes.buffer as ArrayBuffer));
    const x = randn([2, 1, 3], { seed: 0 });
    expect(other.forward(x)[0].values).toEqual(lstm.forward(x)[0].values);
  });

  it('reads a file written by the PyTorch fixture generator', () => {
    const { tensors, metadata } = readSafetensors(fixtureBytes('lstm_50_100_2'));
    expect(metadata.module).toBe('LSTM');
    expect(tensors['param.weight_ih_l0']!.shape).toEqual([400, 50]);
    expect(tensors.output!.shape).toEqual([10, 3, 100]);
  });

  it('converts F64, F16 and BF16 to float32', () => {
    const f16 = [0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00, 0x0000]; // 1, -2, ~0.3333, 2^-24, inf, 0
    const bf16 = [0x3f80, 0xc040, 0x3eaa]; // 1, -3, ~0.332
    const f64 = [0.1, -1e10];
    const data = new Uint8Array([...bytesOf(f64, 'f64'), ...bytesOf(f16, 'u16'), ...bytesOf(bf16, 'u16')]);
    const t = loadSafetensors(
      file(
        {
          a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
          b: { dtype: 'F16', shape: [2, 3], data_offsets: [16, 28] },
          c: { dtype: 'BF16', shape: [3], data_offsets: [28, 34] },
        },
        data,
      ),
    );
    expect(Array.from(t.a!.values)).toEqual([Math.fround(0.1), -1e10]);
    expect(t.b!.shape).toEqual([2, 3]);
    expect(Array.from(t.b!.values)).toEqual([1, -2, Math.fround(0.333251953125), 2 ** -24, Number.POSITIVE_INFINITY, 0]);
    expect(Array.from(t.c!.values)).toEqual([1, -3, 0.33203125]);
  });

  it('handles scalars and empty tensors', () => {
    const t = loadSafetensors(
      file(
        { s: { dtype: 'F32', shape: [], data_offsets: [0, 4] }, e: { dtype: 'F32', shape: [0, 3], data_offsets: [4, 4] } },
        bytesOf([2.5], 'f32'),
      ),
    );
    expect(t.s!.toArray()).toBe(2.5);
    expect(t.e!.shape).toEqual([0, 3]);
  });

  const f32 = (n: number) => bytesOf(new Array(n).fill(1), 'f32');
  it.each([
    ['too short', new Uint8Array(4), /too short for the 8-byte header length/],
    ['header length past the end', file({}, new Uint8Array(0), 1000), /header length 1000 runs past the end of the file/],
    ['a huge header length', (() => { const b = file({}); new DataView(b.buffer).setUint32(4, 0xffff, true); return b; })(), /runs past the end/],
    ['not JSON', (() => { const b = file({ a: 1 }); b[8] = 0x7e; return b; })(), /header is not valid UTF-8 JSON/],
    ['a JSON array header', file([] as unknown as object), /expected the header as a JSON object, got an array of 0/],
    ['offsets outside the buffer', file({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, f32(2)), /data_offsets \[0, 16\] lie outside the 8 data bytes/],
    ['overlapping tensors', file({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32(3)), /overlaps the previous tensor/],
    ['a hole between tensors', file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, f32(3)), /belong to no tensor/],
    ['trailing bytes', file({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32(2)), /4 bytes after the last tensor/],
    ['shape and byte count disagree', file({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32(2)), /needs 12 bytes, its offsets give 8/],
    ['a huge shape', file({ a: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 8] } }, f32(2)), /needs 4000000000000000000 bytes/],
    ['unknown dtype', file({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, f32(2)), /tensor 'a': expected dtype F32, F16, BF16 or F64, got the string 'I64'/],
    ['negative dimension', file({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }), /expected a shape of non-negative safe integers, got dimension 0 = number -1/],
    ['bad offsets', file({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32(1)), /expected data_offsets \[begin, end\] of safe integers with 0 <= begin <= end, got \[4,0\]/],
  ])('rejects %s', (_label, bytes, message) => {
    expect(() => loadSafetensors(bytes)).toThrow(SafetensorsError);
    expect(() => loadSafetensors(bytes)).toThrow(message);
  });

  it('rejects input that is not bytes', () => {
    expect(() => loadSafetensors('abc' as never)).toThrow(/expected a Uint8Array or ArrayBuffer/);
  });

  it('a failed load of a safetensors file for another model leaves the weights intact', () => {
    const m = new LSTM(3, 4, { seed: 1 });
    const before = m.stateDict();
    const wrong = saveSafetensors({ ...new LSTM(3, 5).stateDict(), extra: tensor([1]) });
    expect(() => m.loadStateDict(loadSafetensors(wrong))).toThrow(/LSTM.loadStateDict: 5 problems/);
    expect(m.stateDict()).toEqual(before);
  });
});
