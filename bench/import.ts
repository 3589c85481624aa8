/**
 * Import benchmark: writes a ChatGPT-shaped data export (conversations.json: a JSON array of conversations,
 * each a `mapping` of nodes with parent/children, an edit and a regeneration every few conversations) of N
 * conversations, then times `hearth chats import FILE` on a fresh data folder, and its re-import (a no-op),
 * in child processes whose peak RSS /usr/bin/time reports. The same run at N/5 shows whether memory grows with
 * the file (it must not: the file is streamed and each thread written in its own transaction); peak RSS
 * at default settings is V8 collecting lazily, so each size is imported once more with the heap held to
 * HEAP_CAP_MIB, far below the file: it finishes only in bounded memory.
 *
 *   npm run bench:import -- [--json] [--conversations 10000] [--keep]
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import { projectRoot } from '../main/paths';
import { flag, intArg, useOptions } from './options';

useOptions('bench:import', { json: 'flag', keep: 'flag', conversations: 'value' });
const JSON_OUT = flag('json');
const KEEP = flag('keep');
const N = intArg('conversations', 10_000, 5); // the second run imports N/5
/** the heap the capped run gets (far below the file's size) */
const HEAP_CAP_MIB = 48;
const log = (...a: unknown[]) => (JSON_OUT ? console.error(...a) : console.log(...a));

let seed = 0x2545f491;
function rand(): number {
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const WORDS = 'the model answers every question about memory context tokens and the cache of a local server while users ask why python code fails'.split(' ');
function text(words: number): string {
  let s = '';
  for (let i = 0; i < words; i++) s += (i ? ' ' : '') + WORDS[Math.floor(rand() * WORDS.length)];
  return s;
}

interface Node { id: string; message: unknown; parent: string | null; children: string[] }

/** One conversation: system root, then turns; every 5th has an edited question, every 7th a regenerated answer. */
function conversation(i: number): { json: string; messages: number } {
  const mapping: Record<string, Node> = {};
  const t0 = 1_600_000_000 + i * 3600;
  const node = (id: string, parent: string | null, role: string | null, content: string, t: number): Node => {
    const n: Node = {
      id,
      parent,
      children: [],
      message: role === null ? null : { id, author: { role, name: null, metadata: {} }, create_time: t, update_time: null, content: { content_type: 'text', parts: [content] }, status: 'finished_successfully', end_turn: role === 'assistant' ? true : null, weight: 1, metadata: {}, recipient: 'all' },
    };
    mapping[id] = n;
    if (parent) mapping[parent].children.push(id);
    return n;
  };
  const root = `c${i}-root`;
  node(root, null, null, '', t0);
  node(`c${i}-sys`, root, 'system', '', t0);
  let parent = `c${i}-sys`;
  let messages = 0;
  const turns = 3 + Math.floor(rand() * 6);
  for (let k = 0; k < turns; k++) {
    const u = `c${i}-u${k}`;
    node(u, parent, 'user', text(8 + Math.floor(rand() * 30)), t0 + k * 60);
    messages++;
    if (k === 1 && i % 5 === 0) { node(`c${i}-u${k}e`, parent, 'user', text(10), t0 + k * 60 + 5); messages++; }
    const a = `c${i}-a${k}`;
    node(a, u, 'assistant', text(40 + Math.floor(rand() * 160)), t0 + k * 60 + 30);
    messages++;
    if (k === 0 && i % 7 === 0) { node(`c${i}-a${k}r`, u, 'assistant', text(50), t0 + k * 60 + 40); messages++; }
    parent = a;
  }
  const conv = { title: `Conversation ${i}: ${text(4)}`, create_time: t0, update_time: t0 + turns * 60, mapping, current_node: parent, conversation_id: `conv-${i}`, id: `conv-${i}`, moderation_results: [], default_model_slug: 'gpt-4o' };
  return { json: JSON.stringify(conv), messages };
}

function writeExport(file: string, n: number): { bytes: number; messages: number } {
  const fd = fs.openSync(file, 'w');
  let messages = 0;
  fs.writeSync(fd, '[');
  for (let i = 0; i < n; i++) {
    const c = conversation(i);
    messages += c.messages;
    fs.writeSync(fd, (i ? ',' : '') + c.json);
  }
  fs.writeSync(fd, ']');
  fs.closeSync(fd);
  return { bytes: fs.statSync(file).size, messages };
}

const HEARTH = path.join(projectRoot(), 'bin', 'hearth.js');

/** Runs `hearth chats import` under /usr/bin/time: its JSON answer, wall seconds and peak RSS. */
function timedImport(file: string, dataDir: string, heapMiB?: number): { result: Record<string, unknown>; seconds: number; peakRssMiB: number } {
  const timeFile = path.join(os.tmpdir(), `hearth-import-time-${process.pid}`);
  const heap = heapMiB ? [`--max-old-space-size=${heapMiB}`] : [];
  const out = execFileSync('/usr/bin/time', ['-o', timeFile, '-f', '%M %e', process.execPath, ...heap, HEARTH, 'chats', 'import', file, '--data-dir', dataDir, '--json'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  const [kb, secs] = fs.readFileSync(timeFile, 'utf8').trim().split(/\s+/).map(Number);
  fs.rmSync(timeFile, { force: true });
  return { result: JSON.parse(out) as Record<string, unknown>, seconds: secs, peakRssMiB: Math.round((kb / 1024) * 10) / 10 };
}

function runAt(n: number, dir: string) {
  const file = path.join(dir, `conversations-${n}.json`);
  const gen = writeExport(file, n);
  log(`wrote ${n} conversations, ${gen.messages} messages, ${(gen.bytes / 2 ** 20).toFixed(1)} MiB`);
  const dataDir = path.join(dir, `data-${n}`);
  const first = timedImport(file, dataDir);
  log(`import: ${first.seconds} s, peak RSS ${first.peakRssMiB} MiB`);
  const again = timedImport(file, dataDir);
  log(`re-import: ${again.seconds} s, peak RSS ${again.peakRssMiB} MiB`);
  // the same import with V8's heap held to HEAP_CAP_MIB: it finishes only if memory does not grow with the file
  const capped = timedImport(file, path.join(dir, `data-${n}-capped`), HEAP_CAP_MIB);
  log(`import with a ${HEAP_CAP_MIB} MiB heap: ${capped.seconds} s, peak RSS ${capped.peakRssMiB} MiB`);
  return {
    conversations: n,
    messages: gen.messages,
    fileMiB: Math.round((gen.bytes / 2 ** 20) * 10) / 10,
    import: { seconds: first.seconds, peakRssMiB: first.peakRssMiB, conversationsPerSecond: Math.round(n / first.seconds), result: first.result },
    reimport: { seconds: again.seconds, peakRssMiB: again.peakRssMiB, result: again.result },
    cappedHeap: { heapMiB: HEAP_CAP_MIB, seconds: capped.seconds, peakRssMiB: capped.peakRssMiB, imported: (capped.result.result as { imported: number }).imported },
  };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-import-'));
try {
  const small = runAt(Math.max(1, Math.round(N / 5)), dir);
  const large = runAt(N, dir);
  const out = { bench: 'import-chatgpt', small, large, rssGrowthMiB: Math.round((large.import.peakRssMiB - small.import.peakRssMiB) * 10) / 10 };
  console.log(JSON.stringify(out, null, JSON_OUT ? 0 : 2));
} finally {
  if (KEEP) log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
