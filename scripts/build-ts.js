#!/usr/bin/env node
// Bundles the TypeScript with esbuild: the CLI and browser mode (dist/cli.js), the engine host
// (dist/engine-host.js), the worker threads (WORKERS: dist/docs-*-worker.js), the Electron main
// and preload (dist/app/), and the renderer (dist/renderer/, with the app icon from resources/).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

/**
 * The packages the app's bundles (main, the engine host) leave to run-time require: electron (the
 * runtime itself) and package.json's `dependencies`, which are exactly what electron-builder copies
 * into app.asar's node_modules (native code such as better-sqlite3, and electron-updater). Everything
 * else the app imports is bundled, so it is a devDependency and ships once.
 */
const APP_EXTERNAL = ['electron', ...Object.keys(require(path.join(root, 'package.json')).dependencies)];

const NODE_BUNDLE = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', packages: 'external', sourcemap: true, logLevel: 'error' };
// what the packaged app runs carries its pure-JS packages inside the bundle; only APP_EXTERNAL is
// required from the asar's node_modules at run time
const APP_BUNDLE = { ...NODE_BUNDLE, packages: undefined, external: APP_EXTERNAL };
/**
 * The worker threads' bundles, each run by `new Worker(dist/<file>)`: the documents' reader (main/docs/extract-run.ts),
 * a space's vector index builder (main/store/docs-index-build.ts) and the keyword search's thread
 * (main/store/docs-text-remote.ts).
 */
const WORKERS = {
  extract: { entry: path.join(root, 'main/docs/extract-worker.ts'), outfile: path.join(root, 'dist/docs-extract-worker.js') },
  index: { entry: path.join(root, 'main/store/docs-index-worker.ts'), outfile: path.join(root, 'dist/docs-index-worker.js') },
  text: { entry: path.join(root, 'main/store/docs-text-worker.ts'), outfile: path.join(root, 'dist/docs-text-worker.js') },
};

/** Bundles one worker of WORKERS. */
function buildWorker(name) {
  const w = WORKERS[name];
  require('esbuild').buildSync({ ...APP_BUNDLE, entryPoints: [w.entry], outfile: w.outfile });
}

function build() {
  const esbuild = require('esbuild');
  const node = NODE_BUNDLE;
  // the CLI runs from a checkout (node_modules complete): every package stays external
  esbuild.buildSync({ ...node, entryPoints: [path.join(root, 'main/cli/entry.ts')], outfile: path.join(root, 'dist/cli.js') });
  const app = APP_BUNDLE;
  esbuild.buildSync({ ...app, entryPoints: [path.join(root, 'main/engine/host-entry.ts')], outfile: path.join(root, 'dist/engine-host.js') });
  for (const name of Object.keys(WORKERS)) buildWorker(name);
  esbuild.buildSync({ ...app, entryPoints: [path.join(root, 'main/app/main.ts')], outfile: path.join(root, 'dist/app/main.js') });
  esbuild.buildSync({ ...node, entryPoints: [path.join(root, 'main/app/preload.ts')], outfile: path.join(root, 'dist/app/preload.js'), external: ['electron'], packages: undefined });
  const out = path.join(root, 'dist/renderer');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  esbuild.buildSync({
    entryPoints: [path.join(root, 'renderer/src/main.tsx')],
    outfile: path.join(out, 'app.js'),
    bundle: true, platform: 'browser', target: 'es2022', format: 'iife', minify: true, sourcemap: true,
    jsx: 'automatic', define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'error',
  });
  // styles (with KaTeX's CSS); its fonts are copied to dist/renderer/fonts/. Only the woff2 files:
  // every browser Hearth runs in reads woff2, which KaTeX lists first.
  esbuild.buildSync({
    entryPoints: [path.join(root, 'renderer/src/styles.css')],
    outfile: path.join(out, 'app.css'),
    bundle: true, minify: true, logLevel: 'error',
    loader: { '.woff2': 'file' }, external: ['*.woff', '*.ttf'], assetNames: 'fonts/[name]',
  });
  fs.copyFileSync(path.join(root, 'renderer/index.html'), path.join(out, 'index.html'));
  // the app icon, which index.html declares as the page's icon (the tab, and no /favicon.ico request)
  fs.copyFileSync(path.join(root, 'resources/icon.png'), path.join(out, 'icon.png'));
}

module.exports = { build, buildWorker, WORKERS, APP_EXTERNAL };
if (require.main === module) {
  const t0 = Date.now();
  build();
  console.log(`built dist/ in ${Date.now() - t0} ms`);
}
