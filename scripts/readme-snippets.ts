// Runs the code blocks of the READMEs as a user would copy them, so a snippet that stops working fails
// `pnpm test`. Every ```ts/```js block of README.md and packages/*/README.md is type-checked (strict, as
// the packages are) and then run as an ES module in its own Node process, in a fresh temporary directory
// that holds the files the README's prose tells the user to make (see `setUpFiles`). Any other block, or
// a deliberately partial one, needs `<!-- not-run: reason -->` on the line before it.
// Run with `pnpm test:readme` (the workspace sources, through the @recur/source condition; no build).

import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LSTM, Linear, saveSafetensors } from '@recur/nn-recurrent';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
// READMEs whose blocks are not checked yet, with the reason (empty when every README is checked).
const PENDING: Record<string, string> = {
};
const RUNNABLE: Record<string, 'ts' | 'mjs'> = { ts: 'ts', typescript: 'ts', js: 'mjs', javascript: 'mjs', mjs: 'mjs' };
const TSX = import.meta.resolve('tsx'); // from the root: the snippets run in temporary directories
const MARKER = /^<!--\s*not-run:\s*(\S.*?)\s*-->$/;

interface Block {
  readme: string; // relative to the root
  line: number; // 1-based line of the opening fence
  lang: string;
  code: string;
  notRun: string | null; // the marker's reason
}

/** The fenced blocks of one Markdown file, with the `not-run` marker on the line before each, if any. */
function extractBlocks(readme: string, text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const end = lines.findIndex((l, j) => j > i && l.trim().startsWith(fence) && l.trim().replace(/[`~]/g, '') === '');
    if (end < 0) throw new Error(`${readme}:${i + 1}: unclosed code block`);
    let before = i - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = before >= 0 ? MARKER.exec(lines[before]!.trim()) : null;
    blocks.push({ readme, line: i + 1, lang: open[3]!.toLowerCase(), code: lines.slice(i + 1, end).join('\n'), notRun: marker?.[1] ?? null });
    i = end;
  }
  return blocks;
}

/** The files the READMEs' prose has the reader make first (with PyTorch, or from the repository's fixtures). */
function setUpFiles(dir: string): void {
  // safetensors.torch.save_file(model.encoder.rnn.state_dict(), 'lstm.safetensors') and the whole model's state dict.
  const lstm = new LSTM({ inputSize: 50, hiddenSize: 100, numLayers: 2, seed: 1 });
  const head = new Linear(100, 1);
  writeFileSync(join(dir, 'lstm.safetensors'), saveSafetensors(lstm.stateDict()));
  const model = Object.fromEntries([
    ...Object.entries(lstm.stateDict()).map(([k, v]) => [`encoder.rnn.${k}`, v] as const),
    ...Object.entries(head.stateDict()).map(([k, v]) => [`head.${k}`, v] as const),
  ]);
  writeFileSync(join(dir, 'model.safetensors'), saveSafetensors(model));
  const fixtures = join(root, 'packages/convert/fixtures');
  copyFileSync(join(fixtures, 'checkpoint_views.pt'), join(dir, 'checkpoint.pt')); // {'model': sd, 'epoch': 7, ...}, a GRU(3, 4) at model.rnn.
  copyFileSync(join(fixtures, 'lstm_bi.onnx'), join(dir, 'model.onnx')); // torch.onnx.export of LSTM(3, 4, bidirectional=True)
  copyFileSync(join(fixtures, 'keras_stack.json'), join(dir, 'model.json')); // LSTM(3 -> 4), Bidirectional, SimpleRNN x2 on [B, 5, 3]
  copyFileSync(join(fixtures, 'keras_stack.bin'), join(dir, 'weights.bin')); // tfjs model.save('file://model') writes model.json and weights.bin
}

/** Rewrites paths and line numbers of the generated snippet files to the README lines they came from. */
function toReadmeLines(text: string, files: Map<string, Block>): string {
  let out = text;
  for (const [file, block] of files) {
    const name = file.split(/[\\/]/).pop()!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const at = new RegExp(`(?:file://)?[^\\s('"]*${name}(?::(\\d+)(?::(\\d+))?|\\((\\d+),(\\d+)\\))?`, 'g');
    out = out.replace(at, (_m, l1?: string, c1?: string, l2?: string, c2?: string) => {
      const line = l1 ?? l2;
      const col = c1 ?? c2;
      return line ? `${block.readme}:${block.line + Number(line)}${col ? `:${col}` : ''}` : `${block.readme}:${block.line}`;
    });
  }
  return out;
}

async function main(): Promise<number> {
  const readmes = ['README.md', ...readdirSync(join(root, 'packages')).map((p) => `packages/${p}/README.md`)].filter((f) => {
    try {
      readFileSync(join(root, f));
      return true;
    } catch {
      return false;
    }
  });
  const blocks = readmes.filter((f) => !(f in PENDING)).flatMap((f) => extractBlocks(f, readFileSync(join(root, f), 'utf8')));
  const problems: string[] = [];
  for (const b of blocks) {
    if (b.notRun === null && !(b.lang in RUNNABLE))
      problems.push(`${b.readme}:${b.line}: a \`\`\`${b.lang || '(no language)'} block without <!-- not-run: reason --> on the line before it`);
  }
  const runnable = blocks.filter((b) => b.notRun === null && b.lang in RUNNABLE);

  // Snippets live under node_modules so that they resolve @recur/* as a user's file does, and nothing lints them.
  const dir = join(root, 'node_modules/.cache/readme-snippets');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n'); // what the README asks of the user's project
  const files = new Map<string, Block>();
  for (const b of runnable) {
    const slug = b.readme.replace(/\/?README\.md$/, '').replace(/\W+/g, '-') || 'root';
    const file = join(dir, `${slug}-L${b.line}.${RUNNABLE[b.lang]}`);
    // `export {}` keeps each file a module (its own scope, top-level await) without moving its lines.
    writeFileSync(file, `${b.code}\nexport {};\n`);
    files.set(file, b);
  }

  const started = performance.now();
  const tsFiles = [...files.keys()].filter((f) => f.endsWith('.ts'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(root, 'tsconfig.base.json'), files: tsFiles }));
  try {
    await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false']);
  } catch (error) {
    const e = error as { stdout?: string; message: string };
    problems.push(`type errors:\n${toReadmeLines(e.stdout || e.message, files).replace(/^/gm, '  ')}`);
  }
  console.log(`type-checked ${tsFiles.length} blocks (${((performance.now() - started) / 1000).toFixed(1)} s)`);

  const base = mkdtempSync(join(tmpdir(), 'recur-readme-'));
  try {
    const prepared = join(base, 'files');
    mkdirSync(prepared);
    setUpFiles(prepared);
    const queue = [...files];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [file, block] = next;
        const cwd = join(base, relative(dir, file).replace(/\W+/g, '-'));
        cpSync(prepared, cwd, { recursive: true });
        const t = performance.now();
        try {
          await run(process.execPath, ['--conditions=@recur/source', '--import', TSX, file], { cwd, timeout: 120_000 });
          console.log(`ok   ${block.readme}:${block.line} (${((performance.now() - t) / 1000).toFixed(1)} s)`);
        } catch (error) {
          const e = error as { stdout?: string; stderr?: string; message: string };
          const output = toReadmeLines(`${e.stderr || e.message}${e.stdout ?? ''}`, files).trim();
          problems.push(`${block.readme}:${block.line}: the block fails when run:\n${output.replace(/^/gm, '  | ')}`);
          console.log(`FAIL ${block.readme}:${block.line}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(2, availableParallelism()) }, worker));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }

  const skipped = blocks.filter((b) => b.notRun !== null).length;
  for (const [f, why] of Object.entries(PENDING)) console.log(`not checked yet: ${f} (${why})`);
  console.log(`${files.size} blocks run, ${skipped} marked not-run, in ${readmes.length - Object.keys(PENDING).length} READMEs`);
  for (const p of problems) console.error(`\n${p}`);
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main();
