// Browser tests: a static file server on 127.0.0.1 and headless Debian Chromium driven by
// playwright-core (no browser download). Pages fail their test on any console error.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
  '.webmanifest': 'application/manifest+json',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** The response headers that make a page cross-origin isolated (SharedArrayBuffer, so wasm threads). */
export const CROSS_ORIGIN_ISOLATION: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * Serves `routes` (URL prefix to directory) and `pages` (path to HTML text) on a free local port,
 * with `headers` added to every response (e.g. `CROSS_ORIGIN_ISOLATION`).
 */
export async function serveStatic(
  routes: Record<string, string>,
  pages: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const page = pages[path];
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(page);
      return;
    }
    const prefix = Object.keys(routes)
      .sort((a, b) => b.length - a.length)
      .find((p) => path.startsWith(p));
    if (prefix !== undefined) {
      const root = routes[prefix]!;
      let file = normalize(join(root, path.slice(prefix.length)));
      if (file.startsWith(root) && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (file.startsWith(root) && existsSync(file)) {
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(readFileSync(file));
        return;
      }
    }
    res.writeHead(404);
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Debian's Chromium (or CHROMIUM_PATH), headless, with the flags this machine needs. */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(
      `browser tests need Chromium at ${executablePath}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Collects console errors and page errors; `check()` throws if there were any. */
export function watchConsole(page: Page): { errors: string[]; check(): void } {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  return {
    errors,
    check() {
      if (errors.length) throw new Error(`console errors in the page:\n${errors.join('\n')}`);
    },
  };
}
