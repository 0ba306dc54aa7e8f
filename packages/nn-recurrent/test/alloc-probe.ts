// Measures the bytes a streaming step allocates, in a plain Node process (vitest's module transform
// adds accessors of its own to every imported binding, which would be counted too). Prints JSON.
// Usage: node --conditions=@recur/source --import tsx test/alloc-probe.ts <RNN|LSTM|GRU> <backend> [steps per window]

import { getHeapSpaceStatistics } from 'node:v8';
import { registerBackend, setBackend } from '@recur/core-tensor';
import { GRU, LSTM, RNN } from '../src/index.js';
import { BACKENDS } from './backends.js';

const newSpaceUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;

async function main(kind: string, backend: string): Promise<void> {
  for (const b of BACKENDS) registerBackend(b);
  await setBackend(backend);
  const Ctor = { RNN, LSTM, GRU }[kind as 'RNN'];
  const module = new Ctor(8, 16, 2, { seed: 7 }).eval();
  const stream = module.stream();
  const frame = new Float32Array(8).fill(0.1);
  for (let i = 0; i < 5000; i++) stream.step(frame);
  const steps = Number(process.argv[4] ?? 20_000);
  // The loop is synchronous, so young-generation growth is what it allocates, unless a scavenge
  // emptied it meanwhile (used space drops: that window is discarded). V8's own background work can
  // add a few bytes to a window, so the least of the windows is reported. On a loaded machine the
  // optimizing compiler (a background thread) can finish many windows late, and code not yet
  // optimized boxes doubles (16 bytes a step), so up to 40 windows are measured until three are and
  // one shows the steady state. Code that allocates on every step allocates in every window, so the
  // least window still shows it.
  const windows: number[] = [];
  for (let attempt = 0; attempt < 40 && (windows.length < 3 || Math.min(...windows) >= 1); attempt++) {
    const before = newSpaceUsed();
    for (let i = 0; i < steps; i++) stream.step(frame);
    const after = newSpaceUsed();
    if (after >= before) windows.push((after - before) / steps);
  }
  if (windows.length === 0) throw new Error('a scavenge interrupted every measurement');
  const b = BACKENDS.find((x) => x.name === backend) as { threadInfo?: () => unknown } | undefined;
  const threads = b?.threadInfo?.();
  console.log(JSON.stringify({ kind, backend, bytesPerStep: Math.min(...windows), windows, ...(threads ? { threads } : {}) }));
}

await main(process.argv[2] ?? 'LSTM', process.argv[3] ?? 'js');
