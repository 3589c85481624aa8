#!/usr/bin/env node
'use strict';
// The hearth command: runs the bundled CLI, building the TypeScript first when dist/ is missing, or (in a
// checkout, where main/ is) older than a source file, so a pull or an edit is never run stale.
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const cli = path.join(root, 'dist', 'cli.js');

/** The newest modification time of the .ts files under `dir` (0 when there is none). */
function newest(dir) {
  let latest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) latest = Math.max(latest, newest(p));
    else if (e.name.endsWith('.ts')) latest = Math.max(latest, fs.statSync(p).mtimeMs);
  }
  return latest;
}

const sources = path.join(root, 'main');
const stale = !fs.existsSync(cli) || (fs.existsSync(sources) && newest(sources) > fs.statSync(cli).mtimeMs);
if (stale) require('../scripts/build-ts.js').build();
require(cli);
