// `pnpm bench` and `pnpm typecheck:bench`: the bench is its own pnpm workspace (bench/pnpm-workspace.yaml,
// bench/pnpm-lock.yaml), kept out of the default install because the peers it measures
// (onnxruntime-node/-web, TensorFlow.js, brain.js) weigh about 550 MB. This installs them on first use,
// keeps them in step with bench/pnpm-lock.yaml afterwards, then runs the bench (or type-checks it).
//   node scripts/bench.mjs [bench arguments]      e.g. --quick
//   node scripts/bench.mjs --typecheck

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bench = join(root, 'bench');
const peers = ['onnxruntime-node', 'onnxruntime-web', '@tensorflow/tfjs', 'brain.js'];

const missing = peers.filter((name) => !existsSync(join(bench, 'node_modules', name, 'package.json')));
if (missing.length > 0) {
  console.log(
    `The bench measures recur against ${peers.join(', ')}. They are not part of the default\n` +
      'install (about 550 MB): installing them into bench/node_modules now, once (pnpm --dir bench install --frozen-lockfile).\n',
  );
}
// Quiet when everything is in place; a changed bench/pnpm-lock.yaml is still applied.
const install = ['--dir', bench, 'install', '--frozen-lockfile', ...(missing.length > 0 ? [] : ['--reporter=silent'])];
check(spawnSync('pnpm', install, { stdio: 'inherit' }), 'pnpm --dir bench install --frozen-lockfile');

const args = process.argv.slice(2);
if (args[0] === '--typecheck') {
  // The repository's TypeScript, vitest and @types (bench/ resolves them from the root's node_modules).
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  check(spawnSync(process.execPath, [tsc, '--noEmit', '-p', join(bench, 'tsconfig.json')], { stdio: 'inherit' }), 'tsc');
} else {
  const run = ['--conditions=@recur/source', '--import', 'tsx', 'src/run.ts', ...args];
  check(spawnSync(process.execPath, run, { cwd: bench, stdio: 'inherit' }), 'the bench');
}

function check(result, what) {
  if (result.error) throw result.error;
  if (result.status !== 0) {
    console.error(`${what} failed (exit code ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
}
