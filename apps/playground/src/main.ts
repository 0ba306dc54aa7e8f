// The playground page, wired together: the form drives the diagram, shapes and code; the Run,
// weights, benchmark and train panels share the form and the compute worker; the service worker adds offline use.

import { fillBackendPicker } from './backend-picker.js';
import { setUpBenchPanel } from './bench-panel.js';
import { renderCode, setUpCopyButtons } from './code-view.js';
import { drawDiagram } from './diagram.js';
import { byId } from './dom.js';
import { createForm } from './form.js';
import { setUpRunPanel } from './run-panel.js';
import { renderShapes } from './shapes-list.js';
import { setUpTrainPanel } from './train-panel.js';
import { setUpWeightsPanel } from './weights-panel.js';
import { startWorker } from './worker-client.js';

async function start(): Promise<void> {
  const ask = startWorker();
  const form = createForm((c) => {
    drawDiagram(byId('diagram') as unknown as SVGSVGElement, c);
    renderShapes(c);
    renderCode(c);
  });
  const weights = setUpWeightsPanel(form);
  setUpRunPanel({ ask, form, weights });
  setUpBenchPanel(ask, form);
  setUpTrainPanel(ask);
  setUpCopyButtons();
  const r = await ask({ type: 'init' });
  if (r.type !== 'ready') return;
  fillBackendPicker(r);
  document.body.dataset.ready = 'true';
  if ('serviceWorker' in navigator && location.protocol !== 'file:') {
    navigator.serviceWorker.register('./sw.js').catch(() => {
      // Offline support is optional; the page works without it.
    });
  }
}

void start();
