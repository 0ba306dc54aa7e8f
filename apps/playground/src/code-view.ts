// The "same in code" panel: the recur and PyTorch code for the current configuration, and the
// buttons that copy it.

import { recurCode, torchCode } from './codegen.js';
import type { Config } from './config.js';
import { byId } from './dom.js';

export function renderCode(c: Config): void {
  byId('recur-code').textContent = recurCode(c);
  byId('torch-code').textContent = torchCode(c);
}

/** Wires each `button[data-copy]` to copy the text of the element it names. */
export function setUpCopyButtons(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('button[data-copy]')) {
    b.addEventListener('click', () => {
      void navigator.clipboard?.writeText(byId(b.dataset.copy!).textContent ?? '').then(
        () => (b.textContent = 'Copied'),
        () => (b.textContent = 'Select and copy'),
      );
    });
  }
}
