#!/usr/bin/env node
// Writes the platform icon containers from resources/icon.png (the one source image):
// resources/icon.ico (Windows, NSIS) and resources/icon.icns (macOS). Both formats take PNG payloads
// as they are (ICO since Windows Vista, ICNS since macOS 10.7), so nothing is resized or re-encoded:
// each container carries the source PNG at its own size (256 px: ICO entry 0×0 = 256, ICNS ic08 and
// ic13 = 128@2x). Run after changing icon.png; the outputs are committed.
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

function makeIcons(dir = path.join(root, 'resources')) {
  const png = fs.readFileSync(path.join(dir, 'icon.png'));
  fs.writeFileSync(path.join(dir, 'icon.ico'), icoFromPngs([png]));
  fs.writeFileSync(path.join(dir, 'icon.icns'), icnsFromPngs([png]));
  return ['icon.ico', 'icon.icns'].map((f) => path.join(dir, f));
}

module.exports = { pngSize, icoFromPngs, icnsFromPngs, makeIcons };
if (require.main === module) console.log(`wrote ${makeIcons().map((f) => path.relative(root, f)).join(', ')}`);
