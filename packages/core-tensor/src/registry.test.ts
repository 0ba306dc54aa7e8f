import { afterEach, describe, expect, it, vi } from 'vitest';
import { BACKEND_INTERFACE_VERSION, type Backend } from './backend.js';
import { BackendError, RecurError, ShapeError } from './errors.js';
import {
  activeBackend,
  backendStatus,
  getBackend,
  listBackends,
  ready,
  registerBackend,
  setBackend,
  unregisterBackend,
} from './registry.js';

function fake(name: string, priority: number, init: () => Promise<void> = async () => {}, sync = false): Backend {
  const fail = () => {
    throw new Error('not a kernel backend');
  };
  return {
    name,
    priority,
    interfaceVersion: BACKEND_INTERFACE_VERSION,
    init,
    ...(sync ? { initSync: () => {} } : {}),
    matmul: fail,
    unary: fail,
    binary: fail,
    transpose: fail,
    prepareWeights: fail,
    rnnLayer: fail,
    lstmLayer: fail,
    gruLayer: fail,
  };
}

afterEach(() => {
  for (const name of listBackends()) unregisterBackend(name);
});

describe('registry', () => {
  it('lists backends fastest first and ready() picks the fastest that works', async () => {
    registerBackend(fake('slow', 1));
    registerBackend(fake('fast', 10));
    registerBackend(fake('middle', 5));
    expect(listBackends()).toEqual(['fast', 'middle', 'slow']);
    expect(await ready()).toBe('fast');
    expect(getBackend()).toBe('fast');
  });

  it('skips a backend that fails to initialise and keeps its reason', async () => {
    registerBackend(fake('broken', 10, async () => Promise.reject(new Error('no SIMD here'))));
    registerBackend(fake('ok', 1));
    expect(await ready()).toBe('ok');
    const broken = backendStatus().find((s) => s.name === 'broken');
    expect(broken).toMatchObject({ state: 'failed', error: new Error('no SIMD here') });
  });

  it('reports every failure together when none works', async () => {
    registerBackend(fake('a', 2, async () => Promise.reject(new Error('a is down'))));
    registerBackend(fake('b', 1, async () => Promise.reject(new Error('b is down'))));
    const err = await ready().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).message).toMatch(/a: a is down; b: b is down/);
    expect((err as BackendError).failures.map((f) => f.backend)).toEqual(['a', 'b']);
  });

  it('concurrent ready() calls share one pending promise and one init', async () => {
    const init = vi.fn(async () => {
      await new Promise((r) => setTimeout(r, 10));
    });
    registerBackend(fake('once', 3, init));
    const [a, b, c] = [ready(), ready(), ready()];
    expect(a).toBe(b);
    expect(await Promise.all([a, b, c])).toEqual(['once', 'once', 'once']);
    expect(init).toHaveBeenCalledTimes(1);
  });

  it('setBackend rejects an unknown name, listing the registered ones', async () => {
    registerBackend(fake('js', 1));
    registerBackend(fake('wasm', 2));
    await expect(setBackend('nope')).rejects.toThrow("setBackend: unknown backend 'nope'; registered: wasm, js");
    await expect(setBackend('nope')).rejects.toBeInstanceOf(BackendError);
  });

  it('setBackend to a failing backend rejects and leaves the current one', async () => {
    registerBackend(fake('good', 1));
    registerBackend(fake('bad', 2, async () => Promise.reject(new Error('boom'))));
    await setBackend('good');
    await expect(setBackend('bad')).rejects.toThrow(/backend 'bad' failed to initialise: boom/);
    expect(getBackend()).toBe('good');
    expect(await ready()).toBe('good');
  });

  it('activates a synchronous backend lazily, and ready() may still upgrade', async () => {
    registerBackend(fake('async-fast', 10));
    registerBackend(fake('sync-slow', 1, async () => {}, true));
    expect(activeBackend().name).toBe('sync-slow');
    expect(await ready()).toBe('async-fast');
  });

  it('explains what to do when nothing is registered', async () => {
    expect(() => getBackend()).toThrow(/registerBackend\(jsBackend\)/);
    await expect(ready()).rejects.toThrow(/no backend registered/);
  });

  it('validates what is registered and keeps the first of two with one name', () => {
    expect(() => registerBackend({ ...fake('v', 1), interfaceVersion: 99 })).toThrow(/interface version 99, expected 1/);
    expect(() => registerBackend({ ...fake('', 1) })).toThrow(/non-empty string name/);
    const first = fake('dup', 1);
    expect(registerBackend(first)).toBe(true);
    expect(registerBackend(fake('dup', 9))).toBe(false);
    expect(registerBackend(fake('dup', 9), { override: true })).toBe(true);
  });
});

describe('errors', () => {
  it('are branded, so instanceof works across copies of the package', () => {
    const e = new ShapeError('x');
    expect(e).toBeInstanceOf(Error);
    expect(e).toBeInstanceOf(RecurError);
    expect(e.name).toBe('ShapeError');
    expect(ShapeError.isInstance(e)).toBe(true);
    expect(BackendError.isInstance(e)).toBe(false);
    // An error made by another copy carries the same global symbols.
    const foreign = Object.assign(new Error('y'), {
      [Symbol.for('@recur/core-tensor/error')]: true,
      [Symbol.for('@recur/core-tensor/error/ShapeError')]: true,
    });
    expect(foreign instanceof ShapeError).toBe(true);
    expect(foreign instanceof BackendError).toBe(false);
  });
});
