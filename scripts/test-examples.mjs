// Runs examples/ as a user would: packs the built packages with `pnpm pack`, installs each example
// with npm from those tarballs alone (offline: nothing comes from a registry) in a temporary
// directory, runs it, and fails on a non-zero exit or a missing line of expected output.
// `node scripts/test-examples.mjs --pack` only packs, into examples/packs/, to run an example in place.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const packages = ['core-tensor', 'kernels-js', 'kernels-wasm', 'nn-recurrent', 'optim'];
// Each example and the output lines that show it worked.
const examples = {
  'node-streaming': [/^streamed 300 frames from frames\.bin/m, /^largest difference from a whole-sequence forward/m],
  'node-training': [/^loss .* weights saved to sine-lstm\.safetensors, reloaded with identical predictions$/m],
};

const packOnly = process.argv.includes('--pack');
const work = packOnly ? join(root, 'examples') : mkdtempSync(join(tmpdir(), 'recur-examples-'));
let failed = 0;
try {
  pack(join(work, 'packs'));
  if (!packOnly) for (const [name, expected] of Object.entries(examples)) failed += runExample(name, expected) ? 0 : 1;
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

function runExample(name, expected) {
  const dir = join(work, name);
  cpSync(join(root, 'examples', name), dir, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|package-lock\.json)$/.test(src),
  });
  const started = performance.now();
  const install = run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], dir);
  const start = install.status === 0 ? run('npm', ['start', '--silent'], dir) : null;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const output = start ? start.stdout + start.stderr : install.stdout + install.stderr;
  const missing = start?.status === 0 ? expected.filter((re) => !re.test(start.stdout)) : [];
  if (start?.status === 0 && missing.length === 0) {
    console.log(`ok   ${name} (${seconds} s)`);
    return true;
  }
  const why = !start ? 'npm install failed' : start.status !== 0 ? `exit code ${start.status}` : `missing output ${missing.join(', ')}`;
  console.error(`FAIL ${name}: ${why}\n${output.replace(/^/gm, '  | ')}`);
  return false;
}

function run(command, args, cwd) {
  // npm_* variables from a surrounding `pnpm run` would leak the workspace's configuration into npm.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return spawnSync(command, args, { cwd, env, encoding: 'utf8' });
}
