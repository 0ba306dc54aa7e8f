// The error every loader of @recur/convert throws for a file it cannot read: a RecurError, branded
// so `isInstance` works across copies of the package, with what was expected and what was given.

import { RecurError } from '@recur/core-tensor';

/**
 * A model file (`.pt`, `.onnx`, Keras `model.json` + weights) is malformed, of another kind, or holds
 * something recur's modules cannot express. Nothing is loaded when it is thrown.
 * @example
 * try { loadTorch(bytes); } catch (e) { if (ModelFileError.isInstance(e)) console.log(e.message); }
 */
export class ModelFileError extends RecurError {
  static override readonly brand: symbol = Symbol.for('@recur/convert/error/ModelFileError');
}

/** A name from a file, quoted for a message and shortened when long. */
export function quote(name: string): string {
  return name.length > 64 ? `'${name.slice(0, 48)}…' (${name.length} characters)` : `'${name}'`;
}

/** The bytes of a Uint8Array or ArrayBuffer argument, or a ModelFileError naming what was given. */
export function asBytes(where: string, input: unknown, what = 'the file'): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new ModelFileError(`${where}: expected ${what} as a Uint8Array or ArrayBuffer, got ${describe(input)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : `the string '${v}'`;
  if (typeof v !== 'object') return `${typeof v}${typeof v === 'number' || typeof v === 'boolean' ? ` ${String(v)}` : ''}`;
  return Array.isArray(v) ? `an array of ${v.length}` : `a ${Object.prototype.toString.call(v).slice(8, -1)}`;
}

/** What a file of another kind looks like, so a refusal can say which loader to use instead. */
export function sniffKind(bytes: Uint8Array): string | null {
  const b = (i: number) => bytes[i] ?? -1;
  if (b(0) === 0x50 && b(1) === 0x4b) return 'a zip archive';
  if (b(0) === 0x80 && b(1) >= 2 && b(1) <= 5) return 'a bare pickle: a legacy torch.save file (PyTorch < 1.6 or _use_new_zipfile_serialization=False)';
  if (bytes.length >= 9 && b(8) === 0x7b && b(4) === 0 && b(5) === 0 && b(6) === 0 && b(7) === 0) {
    return 'a safetensors file: use loadSafetensors from @recur/nn-recurrent';
  }
  let i = 0;
  while (i < bytes.length && i < 64 && (b(i) === 0x20 || b(i) === 0x0a || b(i) === 0x0d || b(i) === 0x09 || b(i) === 0xef || b(i) === 0xbb || b(i) === 0xbf)) i++;
  if (b(i) === 0x7b) return 'a JSON file (a TensorFlow.js model.json?): use fromKeras';
  if (b(0) === 0x08 && b(1) >= 1 && b(1) <= 12) return 'an ONNX model: use fromOnnx';
  return null;
}
