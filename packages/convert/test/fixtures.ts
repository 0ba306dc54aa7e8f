// The committed fixtures (scripts/gen-fixtures.py, scripts/gen-fixtures-node.mjs) and the one
// comparison every parity test uses: recur against the tool's own numbers, ATOL + RTOL * |expected|.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ATOL, RTOL, compareClose } from '@recur/conformance';
import { Tensor } from '@recur/core-tensor';
import { expect } from 'vitest';

const DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface Expected {
  shape: number[];
  data: number[];
}

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${DIR}${name}`));
}

export function fixtureJson<T>(name: string): T {
  return JSON.parse(readFileSync(`${DIR}${name}`, 'utf8')) as T;
}

export function toTensor(e: Expected): Tensor {
  return new Tensor(Float32Array.from(e.data), e.shape);
}

/** `actual` has the expected shape and agrees within the suite's tolerance. */
export function expectClose(what: string, actual: Tensor, expected: Expected | Tensor): void {
  const e = expected instanceof Tensor ? expected : toTensor(expected);
  expect(actual.shape, `${what} shape`).toEqual(e.shape);
  const r = compareClose(actual.values, e.values, ATOL, RTOL);
  expect(r.pass, `${what}: max abs error ${r.worst} at ${r.index} (got ${r.actual}, expected ${r.expected})`).toBe(true);
}
