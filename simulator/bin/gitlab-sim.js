#!/usr/bin/env node
import { runSimulatorCli } from '../dist/cli.js';

runSimulatorCli(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`gitlab-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
