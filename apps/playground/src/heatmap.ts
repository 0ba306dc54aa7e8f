// Heatmaps of activations over time on a canvas: one column per time step, one row per unit,
// blue for negative, white for zero, red for positive (scaled to the largest magnitude shown).

export interface HeatmapData {
  /** Row-major `[steps, units]`. */
  values: Float32Array;
  steps: number;
  units: number;
}

function color(v: number, scale: number): [number, number, number] {
  if (!Number.isFinite(v)) return [0, 0, 0];
  const t = Math.max(-1, Math.min(1, v / scale));
  return t >= 0 ? [255, Math.round(255 * (1 - t)), Math.round(255 * (1 - t))] : [Math.round(255 * (1 + t)), Math.round(255 * (1 + t)), 255];
}

export function drawHeatmap(canvas: HTMLCanvasElement, data: HeatmapData, caption: string): void {
  const { values, steps, units } = data;
  const cellW = Math.max(2, Math.min(24, Math.floor(560 / Math.max(1, steps))));
  const cellH = Math.max(2, Math.min(14, Math.floor(220 / Math.max(1, units))));
  canvas.width = steps * cellW;
  canvas.height = units * cellH;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  let scale = 0;
  for (const v of values) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  scale ||= 1;
  for (let t = 0; t < steps; t++) {
    for (let u = 0; u < units; u++) {
      const [r, g, b] = color(values[t * units + u]!, scale);
      ctx.fillStyle = `rgb(${r},${g},${b})`;
      ctx.fillRect(t * cellW, u * cellH, cellW, cellH);
    }
  }
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${caption}: ${steps} steps by ${units} units, values within ±${scale.toFixed(3)}`);
  canvas.title = `${caption} (±${scale.toFixed(3)})`;
}
