#!/usr/bin/env node
// Runs a TypeScript entry (bench, scripts) by bundling it with esbuild into .cache/run/ first.
// Usage: node scripts/run-ts.js FILE.ts [args...]
'use strict';
const path = require('path');
const esbuild = require('esbuild');
const root = path.resolve(__dirname, '..');
const entry = path.resolve(process.argv[2] || '');
if (!process.argv[2]) { console.error('usage: run-ts FILE.ts [args...]'); process.exit(1); }
const out = path.join(root, '.cache', 'run', path.relative(root, entry).replace(/[\\/]/g, '_').replace(/\.tsx?$/, '.js'));
esbuild.buildSync({ entryPoints: [entry], outfile: out, bundle: true, platform: 'node', target: 'node20',
  format: 'cjs', packages: 'external', sourcemap: 'inline', logLevel: 'error' });
// buildSync leaves esbuild's service (a worker thread and its Go child process) running for the life of
// this process, waking beside a benchmark's decoding threads (perf sched, 2026-12-03: docs/benchmarks.md)
esbuild.stop();
process.argv.splice(1, 2, out);
require(out);
