#!/usr/bin/env node
// Renders the app icon from resources/icon.svg (the one source image) and writes what each platform
// takes: resources/icon.png at 1024 px (Linux, and the page icon of browser mode), resources/icon.ico
// (Windows, NSIS: a PNG entry per ICO_SIZES) and resources/icon.icns (macOS: a PNG per ICNS_TYPES
// size, under every type that size fills). Both containers take PNG payloads as they are (ICO since
// Windows Vista, ICNS since macOS 10.7). The SVG is drawn at each size by Debian's Chromium (the one
// the browser tests launch) through playwright-core, on a transparent background. Run by hand after
// changing icon.svg (`node scripts/make-icons.js`); the outputs are committed.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A PNG's width and height (its IHDR chunk); throws for anything that is not a PNG. */
function pngSize(png) {
  if (png.length < 24 || !png.subarray(0, 8).equals(PNG_SIGNATURE) || png.toString('latin1', 12, 16) !== 'IHDR') throw new Error('not a PNG file');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** An ICO file holding these PNGs (each at most 256 px square). */
function icoFromPngs(pngs) {
  const header = Buffer.alloc(6);
  header.writeUInt16LE(0, 0); // reserved
  header.writeUInt16LE(1, 2); // 1 = icon
  header.writeUInt16LE(pngs.length, 4);
  const entries = [];
  let offset = 6 + 16 * pngs.length;
  for (const png of pngs) {
    const { width, height } = pngSize(png);
    if (width > 256 || height > 256) throw new Error(`an ICO image is at most 256 px, not ${width}×${height}`);
    const e = Buffer.alloc(16);
    e.writeUInt8(width === 256 ? 0 : width, 0); // 0 means 256
    e.writeUInt8(height === 256 ? 0 : height, 1);
    e.writeUInt8(0, 2); // no palette
    e.writeUInt8(0, 3);
    e.writeUInt16LE(1, 4); // colour planes
    e.writeUInt16LE(32, 6); // bits per pixel
    e.writeUInt32LE(png.length, 8);
    e.writeUInt32LE(offset, 12);
    offset += png.length;
    entries.push(e);
  }
  return Buffer.concat([header, ...entries, ...pngs]);
}

/** The ICNS element types that hold a PNG of a given pixel size (Apple's icns types). */
const ICNS_TYPES = { 16: ['icp4'], 32: ['icp5', 'ic11'], 64: ['icp6', 'ic12'], 128: ['ic07'], 256: ['ic08', 'ic13'], 512: ['ic09', 'ic14'], 1024: ['ic10'] };

/** An ICNS file holding these square PNGs, each under every type its size fills. */
function icnsFromPngs(pngs) {
  const elements = [];
  for (const png of pngs) {
    const { width, height } = pngSize(png);
    const types = ICNS_TYPES[width];
    if (width !== height || !types) throw new Error(`no ICNS type holds a ${width}×${height} image`);
    for (const type of types) {
      const head = Buffer.alloc(8);
      head.write(type, 0, 'latin1');
      head.writeUInt32BE(8 + png.length, 4);
      elements.push(head, png);
    }
  }
  const body = Buffer.concat(elements);
  const head = Buffer.alloc(8);
  head.write('icns', 0, 'latin1');
  head.writeUInt32BE(8 + body.length, 4);
  return Buffer.concat([head, body]);
}

/** The sizes the ICO holds (256 px is its largest). */
const ICO_SIZES = [16, 24, 32, 48, 64, 128, 256];
/** The size of resources/icon.png: electron-builder's Linux icon (it derives the smaller ones from it). */
const PNG_SIZE = 1024;
/** The Chromium the browser tests launch (test/helpers/browser-mode.ts). */
const CHROMIUM = '/usr/bin/chromium';

/** A PNG of this SVG at each size (square, transparent outside the artwork), by size. */
async function renderSvg(svg, sizes) {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage({ deviceScaleFactor: 1 });
    const src = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
    const pngs = new Map();
    for (const size of sizes) {
      await page.setViewportSize({ width: size, height: size });
      await page.setContent(`<html><body style="margin:0;background:transparent"><img src="${src}" width="${size}" height="${size}" style="display:block"></body></html>`);
      await page.locator('img').evaluate((img) => img.decode());
      const png = await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } });
      const got = pngSize(png);
      if (got.width !== size || got.height !== size) throw new Error(`rendered ${got.width}×${got.height}, not ${size} px`);
      pngs.set(size, png);
    }
    return pngs;
  } finally {
    await browser.close();
  }
}

async function makeIcons(dir = path.join(root, 'resources')) {
  const icnsSizes = Object.keys(ICNS_TYPES).map(Number);
  const sizes = [...new Set([...ICO_SIZES, ...icnsSizes, PNG_SIZE])].sort((a, b) => a - b);
  const pngs = await renderSvg(fs.readFileSync(path.join(dir, 'icon.svg'), 'utf8'), sizes);
  fs.writeFileSync(path.join(dir, 'icon.png'), pngs.get(PNG_SIZE));
  fs.writeFileSync(path.join(dir, 'icon.ico'), icoFromPngs(ICO_SIZES.map((s) => pngs.get(s))));
  fs.writeFileSync(path.join(dir, 'icon.icns'), icnsFromPngs(icnsSizes.map((s) => pngs.get(s))));
  return ['icon.png', 'icon.ico', 'icon.icns'].map((f) => path.join(dir, f));
}

module.exports = { pngSize, icoFromPngs, icnsFromPngs, ICO_SIZES, ICNS_TYPES, PNG_SIZE, renderSvg, makeIcons };
if (require.main === module) {
  makeIcons().then(
    (files) => console.log(`wrote ${files.map((f) => path.relative(root, f)).join(', ')}`),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
