import { describe, expect, it } from 'vitest';
import { targetMet, targetRow } from '../src/targets.js';

describe('targets', () => {
  it('meets "at least" and "at most" targets, equality included', () => {
    expect(targetMet({ label: 'x', value: 4, need: 4 })).toBe(true);
    expect(targetMet({ label: 'x', value: 3.9, need: 4 })).toBe(false);
    expect(targetMet({ label: 'x', value: 3, need: 3, atMost: true })).toBe(true);
    expect(targetMet({ label: 'x', value: 3.1, need: 3, atMost: true })).toBe(false);
    expect(targetMet({ label: 'x', value: undefined, need: 3 })).toBeUndefined();
  });

  it('writes a row per measured target, the reason for a skipped one, and nothing for one not run', () => {
    expect(targetRow({ label: 'a ≥ 4× b on w', value: 5.123, need: 4 })).toBe('| a ≥ 4× b on w | 5.12× | ✓ |');
    expect(targetRow({ label: 'step ≤ 3× forward', value: 3.5, need: 3, atMost: true })).toBe('| step ≤ 3× forward | 3.50× | ✗ missed |');
    expect(targetRow({ label: 't', value: undefined, need: 10, missing: 'tfjs-cpu on train-medium: ~96 s' })).toBe('| t | — (tfjs-cpu on train-medium: ~96 s) | — |');
    expect(targetRow({ label: 't', value: undefined, need: 10 })).toBeNull();
  });
});
