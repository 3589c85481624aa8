#!/usr/bin/env node
// npm install's last step. The Electron binary download may fail (no GitHub access): that must not
// fail the install, npm start then uses browser mode. The native addon is built here
// (HEARTH_SKIP_NATIVE=1 skips it), then the TypeScript bundles.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

function electronBinary() {
  const installer = path.join(root, 'node_modules', 'electron', 'install.js');
  if (!fs.existsSync(installer)) return;
  if (process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) {
    console.log('hearth: ELECTRON_SKIP_BINARY_DOWNLOAD is set; npm start will use browser mode');
    return;
  }
  const r = spawnSync(process.execPath, [installer], { cwd: path.dirname(installer), stdio: ['ignore', 'ignore', 'pipe'], timeout: 180000 });
  if (r.status === 0) console.log('hearth: Electron binary installed');
  else {
    const why = (r.stderr ? r.stderr.toString() : '').trim().split('\n').pop() || (r.error ? r.error.message : `exit ${r.status}`);
    console.log(`hearth: the Electron binary could not be downloaded (${why.slice(0, 160)}); npm start will use browser mode`);
  }
}

electronBinary();
if (process.env.HEARTH_SKIP_NATIVE === '1') {
  console.log('hearth: HEARTH_SKIP_NATIVE=1, not building the native addon (npm run build:native builds it)');
} else {
  const status = require('./build-native.js').build();
  if (status !== 0) {
    console.error('hearth: the native addon failed to build (see above); fix it and run npm run build:native');
    process.exit(status);
  }
}
require('./build-ts.js').build();
