// Decodes the part of an ONNX model (onnx.proto, IR version 3 and later) that the recurrent nodes
// need: graphs, nodes, attributes, initializers and tensors, with @bufbuild/protobuf's wire reader.
// Field numbers are onnx.proto's; every other field is skipped. Nested graphs are bounded in depth.

import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { ModelFileError } from './errors.js';

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  floatData: number[];
  int32Data: number[];
  doubleData: number[];
  rawData: Uint8Array | null;
  external: boolean;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f: number | null;
  i: number | null;
  s: Uint8Array | null;
  t: OnnxTensor | null;
  g: OnnxGraph | null;
  floats: number[];
  ints: number[];
  strings: Uint8Array[];
  graphs: OnnxGraph[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: string[];
}

export interface OnnxModel {
  irVersion: number;
  graph: OnnxGraph | null;
}

/** Deepest nesting of subgraphs (If inside Loop inside If ...) recur reads. */
const MAX_GRAPH_DEPTH = 32;

export function decodeModel(where: string, bytes: Uint8Array): OnnxModel {
  const r = new BinaryReader(bytes);
  const model: OnnxModel = { irVersion: 0, graph: null };
  try {
    while (r.pos < r.len) {
      const [field, wt] = r.tag();
      if (field === 1 && wt === WireType.Varint) model.irVersion = int64(r);
      else if (field === 7 && wt === WireType.LengthDelimited) model.graph = graph(where, sub(r), 0);
      else r.skip(wt, field);
    }
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(`${where}: expected an ONNX model (a ModelProto protobuf), got bytes that do not decode (${(e as Error)?.message ?? String(e)})`, {
      cause: e,
    });
  }
  return model;
}

/** A reader over the next length-delimited field. */
function sub(r: BinaryReader): BinaryReader {
  return new BinaryReader(r.bytes());
}

function int64(r: BinaryReader): number {
  return Number(r.int64());
}

function graph(where: string, r: BinaryReader, depth: number): OnnxGraph {
  if (depth > MAX_GRAPH_DEPTH) throw new ModelFileError(`${where}: expected subgraphs nested at most ${MAX_GRAPH_DEPTH} deep, got deeper`);
  const g: OnnxGraph = { name: '', nodes: [], initializers: [], inputs: [] };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (wt !== WireType.LengthDelimited) r.skip(wt, field);
    else if (field === 1) g.nodes.push(node(where, sub(r), depth));
    else if (field === 2) g.name = r.string();
    else if (field === 5) g.initializers.push(tensor(sub(r)));
    else if (field === 11) g.inputs.push(valueInfoName(sub(r)));
    else r.skip(wt, field);
  }
  return g;
}

function valueInfoName(r: BinaryReader): string {
  let name = '';
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WireType.LengthDelimited) name = r.string();
    else r.skip(wt, field);
  }
  return name;
}

function node(where: string, r: BinaryReader, depth: number): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (wt !== WireType.LengthDelimited) r.skip(wt, field);
    else if (field === 1) n.inputs.push(r.string());
    else if (field === 2) n.outputs.push(r.string());
    else if (field === 3) n.name = r.string();
    else if (field === 4) n.opType = r.string();
    else if (field === 7) n.domain = r.string();
    else if (field === 5) n.attributes.push(attribute(where, sub(r), depth));
    else r.skip(wt, field);
  }
  return n;
}

function attribute(where: string, r: BinaryReader, depth: number): OnnxAttribute {
  const a: OnnxAttribute = { name: '', type: 0, f: null, i: null, s: null, t: null, g: null, floats: [], ints: [], strings: [], graphs: [] };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WireType.LengthDelimited) a.name = r.string();
    else if (field === 20 && wt === WireType.Varint) a.type = r.int32();
    else if (field === 2 && wt === WireType.Bit32) a.f = r.float();
    else if (field === 3 && wt === WireType.Varint) a.i = int64(r);
    else if (field === 4 && wt === WireType.LengthDelimited) a.s = r.bytes();
    else if (field === 5 && wt === WireType.LengthDelimited) a.t = tensor(sub(r));
    else if (field === 6 && wt === WireType.LengthDelimited) a.g = graph(where, sub(r), depth + 1);
    else if (field === 7) repeated(r, wt, a.floats, () => r.float(), WireType.Bit32);
    else if (field === 8) repeated(r, wt, a.ints, () => int64(r), WireType.Varint);
    else if (field === 9 && wt === WireType.LengthDelimited) a.strings.push(r.bytes());
    else if (field === 11 && wt === WireType.LengthDelimited) a.graphs.push(graph(where, sub(r), depth + 1));
    else r.skip(wt, field);
  }
  return a;
}

function tensor(r: BinaryReader): OnnxTensor {
  const t: OnnxTensor = { name: '', dims: [], dataType: 0, floatData: [], int32Data: [], doubleData: [], rawData: null, external: false };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1) repeated(r, wt, t.dims, () => int64(r), WireType.Varint);
    else if (field === 2 && wt === WireType.Varint) t.dataType = r.int32();
    else if (field === 4) repeated(r, wt, t.floatData, () => r.float(), WireType.Bit32);
    else if (field === 5) repeated(r, wt, t.int32Data, () => r.int32(), WireType.Varint);
    else if (field === 10) repeated(r, wt, t.doubleData, () => r.double(), WireType.Bit64);
    else if (field === 8 && wt === WireType.LengthDelimited) t.name = r.string();
    else if (field === 9 && wt === WireType.LengthDelimited) t.rawData = r.bytes();
    else if (field === 14 && wt === WireType.Varint) t.external = r.int32() === 1;
    else r.skip(wt, field);
  }
  return t;
}

/** A repeated scalar field, packed (one length-delimited run) or not (one value per tag). */
function repeated(r: BinaryReader, wt: WireType, out: number[], read: () => number, scalar: WireType): void {
  if (wt === WireType.LengthDelimited) {
    const end = r.uint32() + r.pos;
    if (end > r.len) throw new Error('premature EOF in a packed field');
    while (r.pos < end) out.push(read());
  } else if (wt === scalar) out.push(read());
  else r.skip(wt);
}
