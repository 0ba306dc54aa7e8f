// Input values pasted as JSON: checked against the input shape the configuration implies, with the
// problem explained under the text box.

import { type Config, fmt, shapesOf } from './config.js';
import { byId } from './dom.js';

/** The values of `text`, a nested array that must have shape `expected`, flattened. */
export function parsePasted(text: string, expected: readonly number[]): Float32Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`the pasted input is not valid JSON; expected a nested array of shape ${fmt(expected)}`);
  }
  const flat: number[] = [];
  const shape: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v)) {
      if (shape[depth] === undefined) shape[depth] = v.length;
      else if (shape[depth] !== v.length) throw new Error(`the pasted input is ragged at depth ${depth}`);
      for (const w of v) walk(w, depth + 1);
    } else if (typeof v === 'number' && Number.isFinite(v)) flat.push(v);
    else throw new Error(`the pasted input holds ${JSON.stringify(v)}, expected numbers only`);
  };
  walk(parsed, 0);
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new Error(`the pasted input has shape ${fmt(shape)}, expected ${fmt(expected)} for this configuration`);
  }
  return Float32Array.from(flat);
}

/** The pasted input for `c`, null for a seeded one, or undefined after explaining why it is unusable. */
export function readPasted(c: Config): Float32Array | null | undefined {
  const err = byId('input-error');
  err.hidden = true;
  const text = byId<HTMLTextAreaElement>('input-values').value.trim();
  if (!text) return null;
  try {
    return parsePasted(text, shapesOf(c).input);
  } catch (error) {
    err.hidden = false;
    err.textContent = (error as Error).message;
    return undefined;
  }
}
