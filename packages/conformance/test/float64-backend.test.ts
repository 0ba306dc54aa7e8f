import { registerBackend, unregisterBackend } from '@recur/core-tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { describeKernelConformance } from '../src/index.js';
import { float64Backend } from './float64-backend.js';

describe('a backend written from the README alone', () => {
  it('registers with the registry', () => {
    expect(registerBackend(float64Backend)).toBe(true);
  });
  afterAll(() => {
    unregisterBackend('float64');
  });
});

describeKernelConformance('float64 (third-party example)', () => float64Backend);
