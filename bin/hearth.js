#!/usr/bin/env node
'use strict';
// The hearth command: runs the bundled CLI, building the TypeScript first if dist/ is missing.
const fs = require('fs');
const path = require('path');
const cli = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(cli)) require('../scripts/build-ts.js').build();
require(cli);
