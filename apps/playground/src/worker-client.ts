// The page's side of the compute worker: one request, one promise for its answer, with progress
// reports (the benchmark's) passed to a callback on the way.

import type { Request, Response } from './protocol.js';

type Unsent<R> = R extends { id: number } ? Omit<R, 'id'> : never;

/** Sends a request to the worker; resolves with its final answer (never rejects: failures answer `error`). */
export type Ask = (req: Unsent<Request>, onProgress?: (r: Response) => void) => Promise<Response>;

/** Starts the worker that builds and runs the modules. */
export function startWorker(): Ask {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: Response) => void; onProgress?: (r: Response) => void }>();
  worker.onmessage = (e: MessageEvent<Response>) => {
    const p = pending.get(e.data.id);
    if (!p) return;
    if (e.data.type === 'progress' || e.data.type === 'trainStep') {
      p.onProgress?.(e.data);
      return;
    }
    pending.delete(e.data.id);
    p.resolve(e.data);
  };
  return (req, onProgress) => {
    const id = nextId++;
    return new Promise((resolve) => {
      pending.set(id, { resolve, onProgress });
      worker.postMessage({ ...req, id });
    });
  };
}
