#!/usr/bin/env node
// SPDX-License-Identifier: ISC
// Runs the console's static checks and unit tests: ESLint, tsc --noEmit, Vitest.
// Prints each step and ends with a plain "N passed, N failed" line (the CI reads it);
// exits non-zero when anything failed. Every step has a time limit.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (n) => join(root, 'node_modules', '.bin', n);
let passed = 0;
let failed = 0;

function step(name, cmd, args, timeoutMs) {
  process.stdout.write(`--- ${name}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', timeout: timeoutMs, env: { ...process.env, CI: '1' } });
  const ok = r.status === 0;
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'}: ${name}${r.error ? ' (' + r.error.message + ')' : ''}\n`);
  return ok;
}

if (step('eslint', bin('eslint'), ['--max-warnings', '0', '.'], 300_000)) passed++;
else failed++;
if (step('tsc --noEmit', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json'], 300_000)) passed++;
else failed++;

const tmp = mkdtempSync(join(tmpdir(), 'gt-vitest-'));
const out = join(tmp, 'vitest.json');
const ok = step('vitest', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`], 600_000);
try {
  const j = JSON.parse(readFileSync(out, 'utf8'));
  passed += j.numPassedTests ?? 0;
  failed += j.numFailedTests ?? 0;
  if (!ok && !(j.numFailedTests > 0)) failed++; // a suite that failed to load, or a crash
} catch {
  failed++; // vitest did not even write its report
}
rmSync(tmp, { recursive: true, force: true });

process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
