#!/usr/bin/env node
// npm start: the Electron app when its binary is present (and a display is), otherwise browser
// mode (the same services, the UI on a local URL printed as "Hearth UI: ...").
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const args = process.argv.slice(2);

function electronPath() {
  try {
    const p = require('electron'); // the electron package exports the binary's path, or throws if it never downloaded
    return typeof p === 'string' && fs.existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

if (!fs.existsSync(path.join(root, 'dist', 'cli.js')) || !fs.existsSync(path.join(root, 'dist', 'app', 'main.js'))) {
  require('./build-ts.js').build();
}
const electron = electronPath();
const headless = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
let child;
if (electron && !headless && process.env.HEARTH_BROWSER_MODE !== '1') {
  child = spawn(electron, [path.join(root, 'dist', 'app', 'main.js'), ...args], { stdio: 'inherit' });
} else {
  const why = !electron ? 'the Electron binary is not installed' : headless ? 'no display' : 'HEARTH_BROWSER_MODE=1';
  console.log(`Starting browser mode (${why}).`);
  child = spawn(process.execPath, [path.join(root, 'dist', 'cli.js'), 'serve', ...args], { stdio: 'inherit' });
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
