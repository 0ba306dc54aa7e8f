// Runs examples/ as a user would: packs the built packages with `pnpm pack`, installs each example
// with npm in a temporary directory, runs it, and fails on a non-zero exit or a wrong result.
// - The @recur/* packages come only from those tarballs: the @recur scope's registry is an address
//   that refuses every request, and each example's package-lock.json is checked to resolve every
//   @recur/* package to a tarball. Examples without third-party dependencies install offline.
// - Node examples run with `npm start` and must print their expected lines.
// - Browser examples (vite from the npm registry, or npm's cache) are built with `npm run build`,
//   served from dist/ on 127.0.0.1 and opened in headless Debian Chromium (playwright-core, as the
//   browser tests): the page's result (body[data-result]) is checked, and any console error fails it.
// - bun-deno runs the same script under Node, Bun and Deno (their npm packages, installed once into
//   node_modules/.cache/recur-runtimes) and compares the numbers.
// `node scripts/test-examples.mjs --pack` only packs, into examples/packs/, to run an example in place;
// `node scripts/test-examples.mjs browser-vite ...` runs only the named examples.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = ['core-tensor', 'kernels-js', 'kernels-wasm', 'nn-recurrent', 'optim'];
// Bun and Deno as npm publishes them (platform binaries in optional dependencies, no download).
const RUNTIMES = { bun: '1.4.5', deno: '2.9.6' };
// Content types for the static server of the browser examples.
const TYPES = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
};

// Each example and how to tell it worked.
const examples = {
  'node-streaming': { expected: [/^streamed 300 frames from frames\.bin/m, /^largest difference from a whole-sequence forward/m] },
  'node-training': { expected: [/^loss .* weights saved to sine-lstm\.safetensors, reloaded with identical predictions$/m] },
  'browser-vite': { browser: checkBrowserVite },
  'browser-worker': { browser: checkBrowserWorker },
  'bun-deno': { runtimes: true },
};

const packOnly = process.argv.includes('--pack');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
for (const name of only) if (!(name in examples)) throw new Error(`no example ${name}: ${Object.keys(examples).join(', ')}`);
const work = packOnly ? join(root, 'examples') : mkdtempSync(join(tmpdir(), 'recur-examples-'));
let failed = 0;
try {
  pack(join(work, 'packs'));
  if (!packOnly) {
    for (const [name, example] of Object.entries(examples)) {
      if (only.length > 0 && !only.includes(name)) continue;
      failed += (await runExample(name, example)) ? 0 : 1;
    }
  }
} finally {
  if (!packOnly) rmSync(work, { recursive: true, force: true });
}
if (failed > 0) {
  console.error(`${failed} example(s) failed`);
  process.exit(1);
}

function pack(dir) {
  for (const name of packages) {
    if (!existsSync(join(root, 'packages', name, 'dist'))) throw new Error(`packages/${name} is not built: run pnpm build first`);
    execFileSync('pnpm', ['pack', '--out', join(dir, '%s.tgz')], { cwd: join(root, 'packages', name), stdio: 'ignore' });
  }
  console.log(`packed ${packages.length} packages into ${dir}`);
}

async function runExample(name, example) {
  const dir = join(work, name);
  cpSync(join(root, 'examples', name), dir, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|dist|package-lock\.json)$/.test(src),
  });
  const started = performance.now();
  const outputs = [];
  const fail = (why) => {
    const output = outputs.join('\n').trim();
    console.error(`FAIL ${name}: ${why}${output ? `\n${output.replace(/^/gm, '  | ')}` : ''}`);
    return false;
  };
  const step = (command, args, options) => {
    const result = run(command, args, dir, options);
    outputs.push(`$ ${command} ${args.join(' ')}`, (result.stdout ?? '') + (result.stderr ?? ''));
    return result;
  };

  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const thirdParty = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }).some((d) => !d.startsWith('@recur/'));
  const install = step('npm', [
    'install',
    thirdParty ? '--prefer-offline' : '--offline',
    '--@recur:registry=http://127.0.0.1:9/',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    '--loglevel=error',
  ]);
  if (install.status !== 0) return fail('npm install failed');
  const notPacked = fromRegistry(dir);
  if (notPacked.length > 0) return fail(`not installed from the packed tarballs: ${notPacked.join(', ')}`);

  let summary = '';
  if (example.expected) {
    const start = step('npm', ['start', '--silent']);
    if (start.status !== 0) return fail(`exit code ${start.status}`);
    const missing = example.expected.filter((re) => !re.test(start.stdout));
    if (missing.length > 0) return fail(`missing output ${missing.join(', ')}`);
  } else if (example.browser) {
    const build = step('npm', ['run', 'build', '--silent']);
    if (build.status !== 0) return fail(`npm run build: exit code ${build.status}`);
    let result;
    let problems;
    try {
      result = await openInChromium(join(dir, 'dist'));
      outputs.push(`page result: ${JSON.stringify(result)}`);
      problems = result.error ? [`the page failed: ${result.error}`] : example.browser(result, dir);
    } catch (error) {
      return fail(error.message);
    }
    if (problems.length > 0) return fail(problems.join('; '));
    summary = ` ${result.summary ?? ''}`;
  } else if (example.runtimes) {
    let problems;
    try {
      problems = checkRuntimes(step);
    } catch (error) {
      return fail(error.message);
    }
    if (problems.length > 0) return fail(problems.join('; '));
  }
  console.log(`ok   ${name} (${((performance.now() - started) / 1000).toFixed(1)} s)${summary}`);
  return true;
}

/** @recur/* packages that package-lock.json resolves to anything but a local tarball. */
function fromRegistry(dir) {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  return Object.entries(lock.packages ?? {})
    .filter(([path]) => /(^|\/)node_modules\/@recur\//.test(path))
    .filter(([, entry]) => !String(entry.resolved ?? '').startsWith('file:'))
    .map(([path, entry]) => `${path} (${entry.resolved ?? entry.version})`);
}

function run(command, args, cwd, { env: extraEnv = {}, timeout = 300_000 } = {}) {
  // npm_* variables from a surrounding `pnpm run` would leak the workspace's configuration into npm.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return spawnSync(command, args, { cwd, env: { ...env, ...extraEnv }, encoding: 'utf8', timeout });
}

// ---- browser examples ----

/** Serves `dist` on 127.0.0.1, opens it in headless Chromium and returns the page's body[data-result]. */
async function openInChromium(dist) {
  // playwright-core drives Debian's Chromium (no browser download); it is a dependency of the
  // repository's browser tests (packages/conformance).
  const { chromium } = createRequire(join(root, 'packages', 'conformance', 'package.json'))('playwright-core');
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`browser examples need Chromium at ${executablePath}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  }
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    let file = normalize(join(dist, path));
    if (path.endsWith('/')) file = join(file, 'index.html');
    if (!file.startsWith(dist + sep) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForSelector('body[data-result]', { timeout: 60_000 });
    const result = JSON.parse(await page.getAttribute('body', 'data-result'));
    if (errors.length > 0) throw new Error(`console errors in the page:\n${errors.join('\n')}`);
    result.text = await page.textContent('#log');
    return result;
  } finally {
    await browser.close();
    server.close();
  }
}

/** The tensors of a little-endian F32 .safetensors file, as Float32Arrays. */
function readSafetensors(path) {
  const bytes = readFileSync(path);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const tensors = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__' || entry.dtype !== 'F32') continue;
    const [begin, end] = entry.data_offsets;
    const data = bytes.subarray(8 + headerLength + begin, 8 + headerLength + end);
    tensors[name] = new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  }
  return tensors;
}

function checkBrowserVite(result, dir) {
  const problems = [];
  if (result.backend !== 'wasm') problems.push(`backend ${result.backend}, expected wasm`);
  if (JSON.stringify(result.shape) !== '[5,3,16]') problems.push(`output shape ${JSON.stringify(result.shape)}, expected [5,3,16]`);
  // PyTorch's output, read here independently of the page.
  const torch = readSafetensors(join(dir, 'public', 'lstm.safetensors')).output;
  const diff = Math.max(...torch.subarray(0, 4).map((v, i) => Math.abs(v - result.first[i])));
  if (!(diff <= 1e-5)) problems.push(`output[0, 0, 0:4] ${result.first} differs from PyTorch's ${[...torch.subarray(0, 4)]} by ${diff}`);
  if (!(result.maxDiff <= 1e-5)) problems.push(`largest difference from PyTorch ${result.maxDiff}`);
  if (!/^backend: wasm$/m.test(result.text)) problems.push('the page does not show its backend');
  result.summary = `backend ${result.backend}, largest difference from PyTorch ${result.maxDiff.toExponential(1)}`;
  return problems;
}

function checkBrowserWorker(result) {
  const problems = [];
  if (result.backend !== 'wasm') problems.push(`the worker's backend is ${result.backend}, expected wasm`);
  // A forward on the main thread blocks its timer: no tick can run during it. One in the worker leaves
  // the timer running; the forward is long (1500 steps of a 2-layer GRU, 256 wide) so some ticks fall in it.
  if (result.main.ticks !== 0) problems.push(`${result.main.ticks} ticks during the main-thread forward (expected none)`);
  if (!(result.worker.ticks > 0)) problems.push(`the main thread did not tick during the worker's forward (${result.worker.ms} ms)`);
  if (!(result.maxDiff <= 1e-6)) problems.push(`the worker and the main thread differ by ${result.maxDiff}`);
  result.summary = `${result.worker.ticks} ticks during the worker's ${Math.round(result.worker.ms)} ms forward, ${result.main.ticks} during the main thread's`;
  return problems;
}

// ---- Bun and Deno ----

/** Runs the example with Node, Bun and Deno; each must pick wasm and print Node's numbers. */
function checkRuntimes(step) {
  const binaries = installRuntimes();
  const runs = {
    node: step(process.execPath, ['index.js']),
    bun: step(binaries.bun, ['index.js']),
    deno: step(binaries.deno, ['run', 'index.js'], { env: { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' } }),
  };
  const problems = [];
  const checksums = {};
  for (const [runtime, result] of Object.entries(runs)) {
    if (result.status !== 0) {
      problems.push(`${runtime}: exit code ${result.status ?? result.signal}`);
      continue;
    }
    if (!/: backend wasm, output \[10, 2, 8\], h_n \[2, 2, 8\]$/m.test(result.stdout)) problems.push(`${runtime}: unexpected output`);
    checksums[runtime] = Number(/^checksum (\S+)$/m.exec(result.stdout)?.[1]);
  }
  for (const runtime of ['bun', 'deno']) {
    if (runtime in checksums && !(Math.abs(checksums[runtime] - checksums.node) <= 1e-3)) {
      problems.push(`${runtime}: checksum ${checksums[runtime]}, Node's ${checksums.node}`);
    }
  }
  return problems;
}

/** Bun's and Deno's executables from their npm packages, installed once into node_modules/.cache. */
function installRuntimes() {
  const dir = join(root, 'node_modules', '.cache', 'recur-runtimes');
  const wanted = Object.entries(RUNTIMES).map(([name, version]) => `${name}@${version}`);
  const stamp = join(dir, 'installed.txt');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== wanted.join(' ')) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "private": true }\n');
    // --ignore-scripts: their install scripts only move the binary that the platform package holds.
    const args = ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error', ...wanted];
    const result = run('npm', args, dir);
    if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed:\n${result.stdout}${result.stderr}`);
    writeFileSync(stamp, wanted.join(' '));
  }
  // The platform packages npm picked: @oven/bun-<os>-<arch>[-baseline|-musl]/bin/bun, @deno/<os>-<arch>[-glibc]/deno.
  const find = (scope, relative) => {
    const candidates = readdirSync(join(dir, 'node_modules', scope)).map((d) => join(dir, 'node_modules', scope, d, relative));
    const works = candidates.find((file) => existsSync(file) && run(file, ['--version'], dir).status === 0);
    if (!works) throw new Error(`no working ${relative} in ${join(dir, 'node_modules', scope)}`);
    return works;
  };
  return { bun: find('@oven', join('bin', 'bun')), deno: find('@deno', 'deno') };
}
