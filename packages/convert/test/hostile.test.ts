// Hostile size claims, one per place a format lets a file claim one: each is refused at once with a
// RecurError naming what was claimed, before anything of that size is allocated. Also the pickle
// tricks a malicious .pt file uses (other globals, object-creating opcodes), refused by name.

import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { RecurError } from '@recur/core-tensor';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { ModelFileError, fromKeras, fromOnnx, loadTorch } from '../src/index.js';
import { fixtureBytes, fixtureJson } from './fixtures.js';

function refused(run: () => unknown): string {
  const buffersBefore = process.memoryUsage().arrayBuffers;
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFileError);
    expect(RecurError.isInstance(e)).toBe(true);
    expect(process.memoryUsage().arrayBuffers - buffersBefore).toBeLessThan(2 ** 24);
    return (e as Error).message;
  }
  throw new Error('expected a refusal');
}

/** A tiny pickle writer: enough opcodes to state a state dict's tensors by hand. */
const enc = new TextEncoder();
const op = {
  proto: [0x80, 2],
  dict: [0x7d],
  mark: [0x28],
  tuple: [0x74],
  reduce: [0x52],
  setitem: [0x73],
  persid: [0x51],
  false: [0x89],
  stop: [0x2e],
  emptyTuple: [0x29],
  str: (s: string) => [0x58, ...new Uint8Array(new Uint32Array([enc.encode(s).length]).buffer), ...enc.encode(s)],
  int: (n: number) => [0x4a, ...new Uint8Array(new Int32Array([n]).buffer)],
  global: (m: string, n: string) => [0x63, ...enc.encode(`${m}\n${n}\n`)],
};
const tuple = (...items: number[][]) => [...op.mark, ...items.flat(), ...op.tuple];

function tensorPickle(size: number[], stride: number[], offset = 0, storage = '0'): number[] {
  const pid = tuple(op.str('storage'), op.global('torch', 'FloatStorage'), op.str(storage), op.str('cpu'), op.int(1));
  const hooks = [...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce];
  return [
    ...op.global('torch._utils', '_rebuild_tensor_v2'),
    ...tuple([...pid, ...op.persid], op.int(offset), tuple(...size.map(op.int)), tuple(...stride.map(op.int)), op.false, hooks),
    ...op.reduce,
  ];
}

function ptFile(pickle: number[], storages: Record<string, Uint8Array> = { '0': new Uint8Array(4) }): Uint8Array {
  const files: Record<string, Uint8Array> = { 'archive/data.pkl': new Uint8Array(pickle) };
  for (const [k, v] of Object.entries(storages)) files[`archive/data/${k}`] = v;
  return zipSync(files, { level: 0 });
}

const stateDict = (...entries: Array<[string, number[]]>) => [...op.proto, ...op.dict, ...entries.flatMap(([k, v]) => [...op.str(k), ...v, ...op.setitem]), ...op.stop];

describe('loadTorch: hostile claims', () => {
  it('loads a hand-written state dict (the writer is right)', () => {
    const sd = loadTorch(ptFile(stateDict(['w', tensorPickle([1], [1])])));
    expect(Array.from(sd.w!.values)).toEqual([0]);
  });

  it('a view of 10^9 elements over a 1-element storage (stride 0)', () => {
    expect(refused(() => loadTorch(ptFile(stateDict(['w', tensorPickle([1e9], [0])]))))).toMatch(
      /tensor 'w': the tensors would take 4000000000 bytes as float32, more than 8 times the file's \d+ bytes/,
    );
  });

  it('a view past the end of its storage', () => {
    expect(refused(() => loadTorch(ptFile(stateDict(['w', tensorPickle([10], [1], 3)]))))).toMatch(
      /tensor 'w': shape \[10\] with strides \[1\] at offset 3 needs 13 elements of storage '0', which holds 1/,
    );
  });

  it('a storage missing from the archive', () => {
    expect(refused(() => loadTorch(ptFile(stateDict(['w', tensorPickle([1], [1], 0, '7')]))))).toMatch(/its storage '7' has no zip entry 'archive\/data\/7'/);
  });

  it.each([
    ['builtins', 'eval'],
    ['os', 'system'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
    ['torch.nn.modules.rnn', 'LSTM'],
  ])('a pickle naming %s.%s', (m, n) => {
    const message = refused(() => loadTorch(ptFile([...op.proto, ...op.global(m, n), ...op.stop])));
    expect(message).toContain(`the pickle names the global '${m}.${n}', which a state dict never needs`);
  });

  it.each([
    [0x81, 'NEWOBJ'],
    [0x69, 'INST'],
    [0x6f, 'OBJ'],
    [0x92, 'NEWOBJ_EX'],
  ])('an object-creating opcode 0x%s (%s)', (code, name) => {
    expect(refused(() => loadTorch(ptFile([...op.proto, code, ...op.stop])))).toContain(`got ${name}`);
  });

  it('calling a storage type, not an allowed callable', () => {
    expect(refused(() => loadTorch(ptFile([...op.proto, ...op.global('torch', 'FloatStorage'), ...op.emptyTuple, ...op.reduce, ...op.stop])))).toMatch(
      /expected a callable the allowed set names, got the global 'torch\.FloatStorage'/,
    );
  });

  it('a zip entry declaring 4 GB once inflated', () => {
    const file = zipSync({ 'archive/data.pkl': new Uint8Array(stateDict(['w', tensorPickle([1], [1])])), 'archive/data/0': new Uint8Array(4) }, { level: 6 });
    const view = new DataView(file.buffer);
    // Central directory records (PK\x01\x02) hold the uncompressed size at +24.
    for (let i = 0; i + 46 <= file.length; i++) if (view.getUint32(i, true) === 0x02014b50) view.setUint32(i + 24, 0xfffffff0, true);
    expect(refused(() => loadTorch(file))).toMatch(/zip entry 'archive\/data\.pkl' declares 4294967280 bytes; the entries read would need 4294967280, more than \d+/);
  });

  it('a zip directory claiming more entries than the file can hold', () => {
    const file = ptFile(stateDict(['w', tensorPickle([1], [1])]));
    const view = new DataView(file.buffer, file.byteOffset);
    const eocd = file.length - 22;
    expect(view.getUint32(eocd, true)).toBe(0x06054b50);
    view.setUint16(eocd + 8, 0xffff, true);
    // Records past the real ones read as garbage: refused as an impossible count or a repeated name.
    expect(refused(() => loadTorch(file))).toMatch(/the zip directory claims more entries than \d+ bytes can hold|the zip holds the entry .* twice/);
  });
});

describe('fromOnnx: hostile claims', () => {
  /** A ModelProto with one LSTM node whose W claims `dims` and holds `raw` bytes. */
  function model(dims: number[], raw: number): Uint8Array {
    const tensor = (name: string, d: number[], bytes: number) => {
      const w = new BinaryWriter();
      for (const x of d) w.tag(1, 0).int64(x);
      w.tag(2, 0).int32(1).tag(8, 2).string(name).tag(9, 2).bytes(new Uint8Array(bytes));
      return w.finish();
    };
    const node = new BinaryWriter().tag(1, 2).string('x').tag(1, 2).string('W').tag(1, 2).string('R').tag(4, 2).string('LSTM').finish();
    const graph = new BinaryWriter().tag(1, 2).bytes(node).tag(5, 2).bytes(tensor('W', dims, raw)).tag(5, 2).bytes(tensor('R', [1, 8, 2], 64)).finish();
    return new BinaryWriter().tag(1, 0).int64(8).tag(7, 2).bytes(graph).finish();
  }

  it('loads the hand-written model (the writer is right)', () => {
    expect(fromOnnx(model([1, 8, 3], 96)).map((n) => n.op)).toEqual(['LSTM']);
  });

  it('a weight claiming 4 * 10^9 values with 96 bytes of data', () => {
    expect(refused(() => fromOnnx(model([1, 8, 5e8], 96)))).toMatch(/W 'W' of dims \[1,8,500000000\] needs 4000000000 FLOAT values, the tensor holds 96 raw bytes/);
  });

  it('dims past 2^53', () => {
    expect(refused(() => fromOnnx(model([1, 8, 2 ** 60], 96)))).toMatch(/needs .* FLOAT values|expected non-negative dims/);
  });

  it('subgraphs nested 10,000 deep', () => {
    let g = new BinaryWriter().finish();
    for (let i = 0; i < 10_000; i++) {
      const attr = new BinaryWriter().tag(1, 2).string('body').tag(6, 2).bytes(g).finish();
      const node = new BinaryWriter().tag(4, 2).string('Loop').tag(5, 2).bytes(attr).finish();
      g = new BinaryWriter().tag(1, 2).bytes(node).finish();
    }
    const file = new BinaryWriter().tag(1, 0).int64(8).tag(7, 2).bytes(g).finish();
    expect(refused(() => fromOnnx(file))).toMatch(/expected subgraphs nested at most 32 deep/);
  });
});

describe('fromKeras: hostile claims', () => {
  it('a weight shape of 10^9 x 16 with a few hundred bytes of data', () => {
    const json = fixtureJson<{ weightsManifest: Array<{ weights: Array<{ shape: number[] }> }> }>('keras_stack.json');
    json.weightsManifest[0]!.weights[0]!.shape = [1e9, 16];
    expect(refused(() => fromKeras(json, fixtureBytes('keras_stack.bin')))).toMatch(/weight 'lstm\/kernel' ends at byte 64000000000, past the \d+ bytes of weightData/);
  });

  it('models nested 10,000 deep', () => {
    let model: unknown = { class_name: 'Sequential', config: { layers: [] } };
    for (let i = 0; i < 10_000; i++) model = { class_name: 'Sequential', config: { name: `m${i}`, layers: [model] } };
    expect(refused(() => fromKeras({ modelTopology: model, weightsManifest: [] }, new Uint8Array(0)))).toMatch(/expected models nested at most 16 deep/);
  });
});
