#!/usr/bin/env node
// npm test: builds what is missing (the native addon, the TypeScript bundles), then runs every jest
// suite and ends with one line "N passed, N failed". Arguments go to jest.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
if (!fs.existsSync(path.join(root, 'build', 'bin', 'hearth.node'))) {
  const status = require('./build-native.js').build();
  if (status !== 0) {
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}
require('./build-ts.js').build();
fs.mkdirSync(path.join(root, 'test-output'), { recursive: true });
const report = path.join(root, 'test-output', 'jest.json');
fs.rmSync(report, { force: true });
const jest = require.resolve('jest/bin/jest');
const r = spawnSync(process.execPath, [jest, '--json', `--outputFile=${report}`, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
let passed = 0;
let failed = 0;
try {
  const j = JSON.parse(fs.readFileSync(report, 'utf8'));
  passed = j.numPassedTests;
  failed = j.numFailedTests + (j.numRuntimeErrorTestSuites || 0);
} catch {
  failed = 1;
}
if (r.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
