// The Train panel: a small model learns the next value of a sine wave in the worker while the page
// draws its loss curve as it falls, then offers the trained weights as a .safetensors download.

import { byId, showError, svg } from './dom.js';
import type { Ask } from './worker-client.js';

const W = 640;
const H = 220;
const PAD = { l: 56, r: 16, t: 12, b: 32 };

/** The loss curve on a log scale (losses span decades while a model learns). */
function drawLoss(losses: number[], steps: number): void {
  const chart = byId('train-chart') as unknown as SVGSVGElement;
  chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const finite = losses.filter((v) => v > 0 && Number.isFinite(v));
  if (finite.length === 0) return;
  const hi = Math.log10(Math.max(...finite));
  const lo = Math.min(Math.log10(Math.min(...finite)), hi - 1);
  const x = (i: number) => PAD.l + (i / Math.max(steps - 1, 1)) * (W - PAD.l - PAD.r);
  const y = (v: number) => PAD.t + ((hi - Math.log10(v)) / (hi - lo)) * (H - PAD.t - PAD.b);
  const points = losses.map((v, i) => `${x(i)},${y(Math.max(v, 10 ** lo))}`).join(' ');
  chart.replaceChildren(
    svg('line', { class: 'axis', x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b }),
    svg('line', { class: 'axis', x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b }),
    svg('text', { x: PAD.l - 6, y: PAD.t + 8, 'text-anchor': 'end' }, (10 ** hi).toExponential(0)),
    svg('text', { x: PAD.l - 6, y: H - PAD.b, 'text-anchor': 'end' }, (10 ** lo).toExponential(0)),
    svg('text', { x: (W + PAD.l) / 2, y: H - 8, 'text-anchor': 'middle' }, `training step (of ${steps})`),
    svg('polyline', { fill: 'none', stroke: '#d9480f', 'stroke-width': 2, points }),
  );
  const last = losses[losses.length - 1]!;
  chart.setAttribute('aria-label', `Loss curve: ${losses.length} steps, from ${losses[0]!.toExponential(2)} to ${last.toExponential(2)}`);
}

async function run(ask: Ask): Promise<void> {
  const button = byId<HTMLButtonElement>('train-button');
  const status = byId('train-status');
  const link = byId<HTMLAnchorElement>('train-download');
  const kind = byId<HTMLSelectElement>('train-kind').value as 'LSTM' | 'GRU';
  const steps = Number(byId<HTMLInputElement>('train-steps').value);
  const backend = byId<HTMLSelectElement>('backend').value;
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) return showError(status, 'Steps must be a whole number from 1 to 1000.');
  button.disabled = true;
  link.hidden = true;
  const losses: number[] = [];
  const r = await ask({ type: 'train', task: { kind, hiddenSize: 24, steps, lr: 0.01, backend } }, (p) => {
    if (p.type !== 'trainStep') return;
    losses.push(p.loss);
    status.textContent = `step ${p.step} / ${steps}: loss ${p.loss.toExponential(3)}`;
    if (p.step % 5 === 0 || p.step === steps) drawLoss(losses, steps);
  });
  button.disabled = false;
  if (r.type === 'error') return showError(status, `Training failed: ${r.message}`);
  if (r.type !== 'trained') return;
  drawLoss(r.losses, steps);
  const first = r.losses[0]!;
  const last = r.losses[r.losses.length - 1]!;
  status.textContent = `${kind} on ${backend}: loss ${first.toExponential(2)} → ${last.toExponential(2)} in ${steps} steps (${(r.ms / steps).toFixed(1)} ms per step)`;
  if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([r.safetensors as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  link.download = `sine-${kind.toLowerCase()}.safetensors`;
  link.hidden = false;
  document.body.dataset.trained = String(last < first);
}

export function setUpTrainPanel(ask: Ask): void {
  byId('train-button').addEventListener('click', () => void run(ask));
}
