#!/usr/bin/env node
// `npm run bench`: builds, then runs every benchmark script below in turn (each prints its own
// table of measured values and targets). Exits 1 when the build fails or any benchmark misses a
// target. `--no-build` reuses the existing `dist/` folders.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Benchmark scripts in this folder, run in this order. */
const BENCHMARKS = ['bench-simulator.mjs', 'bench-portal.mjs'];

function run(cmd, args) {
  const res = spawnSync(cmd, args, { stdio: 'inherit' });
  if (res.error) throw res.error;
  return res.status ?? 1;
}

if (!process.argv.includes('--no-build') && run('npm', ['run', 'build']) !== 0) process.exit(1);

const failed = [];
for (const script of BENCHMARKS) {
  console.log(`\n=== ${script}\n`);
  if (run(process.execPath, [fileURLToPath(new URL(script, import.meta.url))]) !== 0) failed.push(script);
}
if (failed.length > 0) {
  console.error(`\nBenchmarks that missed a target or failed: ${failed.join(', ')}`);
  process.exit(1);
}
console.log('\nEvery benchmark met its targets.');
