import { afterEach, describe, expect, it, vi } from 'vitest';
import { BACKEND_INTERFACE_VERSION, type Backend } from '../src/backend.js';
import { BackendError, RecurError, ShapeError } from '../src/errors.js';
import {
  activeBackend,
  backendStatus,
  getBackend,
  listBackends,
  ready,
  registerBackend,
  setBackend,
  unregisterBackend,
} from '../src/registry.js';

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
    prepareWeights: fail,
    createWorkspace: fail,
    layer: fail,
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
    expect(() => registerBackend({ ...fake('v', 1), interfaceVersion: 99 })).toThrow(/interface version 99, expected 2/);
    expect(() => registerBackend({ ...fake('', 1) })).toThrow(/non-empty string name/);
    const first = fake('dup', 1);
    expect(registerBackend(first)).toBe(true);
    expect(registerBackend(fake('dup', 9))).toBe(false);
    expect(registerBackend(fake('dup', 9), { override: true })).toBe(true);
  });

  it('requires the members a backend declares by capability, and only those', () => {
    const { createWorkspace: _, ...noWorkspace } = fake('partial', 1);
    expect(() => registerBackend(noWorkspace as Backend)).toThrow(/'partial' lacks createWorkspace\(\)/);
    expect(() => registerBackend({ ...fake('trainer', 1), capabilities: { backward: true } })).toThrow(/lacks layerBackward\(\)/);
    expect(() => registerBackend({ ...fake('gpu', 1), capabilities: { async: true } })).toThrow(
      /lacks upload\(\), allocate\(\), layerAsync\(\)/,
    );
    expect(() => registerBackend({ ...fake('threads', 1), capabilities: { threads: 0 } })).toThrow(/positive integer, got number 0/);
    // A backend without optional members registers as long as it declares none of them.
    expect(registerBackend({ ...fake('plain', 1), capabilities: {} })).toBe(true);
    expect(registerBackend({ ...fake('future', 1), capabilities: { someday: true } as never })).toBe(true);
  });

  it('backendStatus() reports threads, capabilities and the reason a backend gives', async () => {
    registerBackend({ ...fake('mt', 2), capabilities: { threads: 2 }, unavailableReason: () => null });
    registerBackend({ ...fake('st', 1), unavailableReason: () => 'threads need cross-origin isolation' });
    await setBackend('mt');
    expect(backendStatus()).toMatchObject([
      { name: 'mt', state: 'ready', current: true, threads: 2, reason: null },
      { name: 'st', state: 'uninitialised', current: false, threads: 1, reason: 'threads need cross-origin isolation' },
    ]);
  });

  it('a setBackend() made while ready() is pending wins', async () => {
    registerBackend(fake('slow-fast', 10, () => new Promise((r) => setTimeout(r, 20))));
    registerBackend(fake('quick', 1));
    const [fromReady, fromSet] = await Promise.all([ready(), setBackend('quick')]);
    expect(fromSet).toBe('quick');
    expect(fromReady).toBe('quick');
    expect(getBackend()).toBe('quick');
    expect(await ready()).toBe('quick');
  });

  it('setBackend() names a non-string argument plainly', async () => {
    registerBackend(fake('js', 1));
    await expect(setBackend(42 as unknown as string)).rejects.toThrow('setBackend: unknown backend number 42; registered: js');
    await expect(setBackend('__proto__')).rejects.toThrow(/unknown backend '__proto__'/);
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
