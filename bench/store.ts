/**
 * Store benchmark: builds a database with 10,000 threads and 1,000,000 messages (realistic lengths, Zipf-distributed
 * vocabulary) in a temp folder, then measures what a user feels:
 *   open + first page of threads, opening a 1,000-message thread, FTS queries (p50/p95 over 20 varied queries),
 *   streaming append cost per flush, and the database size.
 *
 *   npm run bench:store -- [--json] [--threads 10000] [--messages 1000000] [--triggers] [--keep] [--dir DIR [--reuse]]
 */
import { randomUUID } from 'crypto';
import fs from 'fs';
import os from 'os';
import path from 'path';
import Database from 'better-sqlite3';
import { Store } from '../main/store';
import { arg, flag, intArg, refuse, useOptions } from './options';

const TARGETS = { thread_list_ms: 50, thread_open_ms: 50, fts_p95_ms: 20, append_flush_ms: 1 };

useOptions('bench:store', { json: 'flag', keep: 'flag', threads: 'value', messages: 'value', triggers: 'flag', dir: 'value', reuse: 'flag' });
const JSON_OUT = flag('json');
const KEEP = flag('keep');
const N_THREADS = intArg('threads', 10_000, 1);
const N_MESSAGES = intArg('messages', 1_000_000, 1);
const BIG_THREAD = 1000;
/** threads of BIG_THREAD messages (a quarter of the messages at most), and at least one other */
const N_BIG = Math.min(20, Math.floor(N_MESSAGES / BIG_THREAD / 4), N_THREADS - 1);
// every other thread has at least 2 messages
const MIN_MESSAGES = N_BIG * BIG_THREAD + 2 * (N_THREADS - N_BIG);
if (N_MESSAGES < MIN_MESSAGES) refuse(`--messages must be at least ${MIN_MESSAGES} for ${N_THREADS} threads (2 a thread; got ${N_MESSAGES})`);

const log = (...a: unknown[]) => { if (!JSON_OUT) console.log(...a); else console.error(...a); };

/* ---------------------------------------------------------------- deterministic random text */

let seed = 0x9e3779b9;
function rand(): number { // mulberry32
  seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));

const COMMON = (`the of and to a in is it you that for this with on be are as can or not your if have by at from but an
  use will more what which about when there so all one also some they their would like we how time into should other any
  then than these do each only make first just may need function code data file value model example return set get
  error string number list user new way using used first because see run different case add result change work type
  question answer python javascript memory context token server request test build install version library output
  input system process simple next well here most both many same such between after before while where why help`)
  .split(/\s+/).filter(Boolean);
const SYL = ['ka', 'lo', 'mi', 'ren', 'tor', 'va', 'sel', 'dun', 'pha', 'qui', 'bre', 'stal', 'om', 'ix', 'ne', 'gra', 'zu', 'pel',
  'cor', 'and', 'tin', 'vex', 'rho', 'sam', 'lu', 'dra', 'fen', 'gor', 'hil', 'jas'];
const VOCAB: string[] = [...new Set(COMMON)];
const seen = new Set(VOCAB);
while (VOCAB.length < 40_000) {
  let w = '';
  const n = randInt(2, 4);
  for (let i = 0; i < n; i++) w += SYL[randInt(0, SYL.length - 1)];
  if (!seen.has(w)) { seen.add(w); VOCAB.push(w); }
}
// Zipf(s = 1.05) cumulative weights for sampling by binary search.
const CUM = new Float64Array(VOCAB.length);
{
  let acc = 0;
  for (let r = 0; r < VOCAB.length; r++) { acc += 1 / Math.pow(r + 1, 1.05); CUM[r] = acc; }
  for (let r = 0; r < VOCAB.length; r++) CUM[r] /= acc;
}
function word(): string {
  const x = rand();
  let lo = 0, hi = CUM.length - 1;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (CUM[mid] < x) lo = mid + 1; else hi = mid; }
  return VOCAB[lo];
}
function sentence(): string {
  const n = randInt(5, 18);
  const w: string[] = [];
  for (let i = 0; i < n; i++) w.push(word());
  const s = w.join(' ');
  return s[0].toUpperCase() + s.slice(1) + (rand() < 0.15 ? '?' : '.');
}
function text(minChars: number, maxChars: number): string {
  // log-uniform length: many short messages, some long ones
  const target = Math.round(Math.exp(Math.log(minChars) + rand() * (Math.log(maxChars) - Math.log(minChars))));
  const parts: string[] = [];
  let len = 0;
  while (len < target) {
    const s = rand() < 0.04 ? '```js\nconst ' + word() + ' = ' + word() + '(' + word() + ');\n```' : sentence();
    parts.push(s);
    len += s.length + 1;
    if (rand() < 0.2) { parts.push('\n\n'); len += 2; }
  }
  return parts.join(' ');
}

/* ---------------------------------------------------------------- build */

function threadSizes(): number[] {
  const sizes: number[] = [];
  for (let i = 0; i < N_BIG; i++) sizes.push(BIG_THREAD);
  const rest = N_THREADS - N_BIG;
  const restMsgs = N_MESSAGES - N_BIG * BIG_THREAD;
  const weights: number[] = [];
  for (let i = 0; i < rest; i++) weights.push(Math.exp(rand() * 3)); // 1..20 ratio
  const sum = weights.reduce((a, b) => a + b, 0);
  let assigned = 0;
  for (let i = 0; i < rest; i++) {
    const n = Math.max(2, Math.round((weights[i] / sum) * restMsgs));
    sizes.push(n);
    assigned += n;
  }
  // fix rounding so the total is exact
  let diff = restMsgs - assigned;
  for (let i = N_BIG; diff !== 0; i = i + 1 < sizes.length ? i + 1 : N_BIG) {
    if (diff > 0) { sizes[i]++; diff--; } else if (sizes[i] > 2) { sizes[i]--; diff++; }
  }
  // shuffle so big threads are spread through time
  for (let i = sizes.length - 1; i > 0; i--) { const j = randInt(0, i); [sizes[i], sizes[j]] = [sizes[j], sizes[i]]; }
  return sizes;
}

interface Built {
  dbPath: string;
  bigThreads: string[];
  anyThread: string;
  build_s: number;
  fts_index_s: number;
  trigger_mode: boolean;
}

/**
 * Builds the database. By default the message rows are loaded with the FTS insert trigger set aside and the index is
 * built in one pass at the end (same index content; FTS5 flushes its pending data at every statement savepoint, so
 * indexing row by row through the trigger would take many minutes here: docs/benchmarks.md).
 * --triggers builds with the trigger on, row by row, like the app does. Either way the per-message cost of inserting
 * through the store API with the trigger on is measured separately (insert_msg_ms).
 */
function build(dir: string, viaTriggers: boolean): Built {
  const dbPath = path.join(dir, 'hearth.db');
  const t0 = performance.now();
  Store.open(dbPath).close(); // schema at the latest version
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('cache_size = -262144');
  const trigger = db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'messages_fts_insert'`).pluck().get() as string;
  if (!viaTriggers) db.exec('DROP TRIGGER messages_fts_insert');
  const insThread = db.prepare(`INSERT INTO threads (id, title, assistant_id, model, pinned, archived, instructions, sampling, load, created_at, updated_at)
    VALUES (?, ?, 'default', 'qwen2.5-7b-instruct-q4_k_m.gguf', ?, 0, NULL, '{}', '{}', ?, ?)`);
  const insMsg = db.prepare(`INSERT INTO messages (id, thread_id, parent_id, active, role, content, reasoning, tool_calls, tool_call_id,
      attachments, status, error, model, metrics, created_at, updated_at)
    VALUES (?, ?, ?, 1, ?, ?, '', NULL, NULL, NULL, 'done', NULL, ?, ?, ?, ?)`);
  const sizes = threadSizes();
  const start = Date.UTC(2023, 0, 1);
  const span = 3 * 365 * 86400_000;
  const bigThreads: string[] = [];
  const touch = db.prepare('UPDATE threads SET updated_at = ? WHERE id = ?');
  let done = 0;
  let batch = 0;
  let anyThread = '';
  const BATCH = 20_000;
  // Threads are written in groups of 20 that are active at the same time, their messages interleaved the way a user
  // moves between a few conversations, so a thread's rows are spread through the file (not one contiguous run).
  const GROUP = 20;
  db.exec('BEGIN');
  for (let g = 0; g < sizes.length; g += GROUP) {
    let at = start + Math.floor((g / sizes.length) * span);
    const active: { id: string; left: number; n: number; parent: string | null }[] = [];
    for (let t = g; t < Math.min(sizes.length, g + GROUP); t++) {
      const id = randomUUID();
      if (sizes[t] === BIG_THREAD && bigThreads.length < N_BIG) bigThreads.push(id);
      if (!anyThread && sizes[t] > 20 && sizes[t] < 200) anyThread = id;
      const title = Array.from({ length: randInt(2, 6) }, word).join(' ');
      at += randInt(1_000, 60_000);
      insThread.run(id, title[0].toUpperCase() + title.slice(1), t % 97 === 0 ? 1 : 0, at, at);
      active.push({ id, left: sizes[t], n: 0, parent: null });
    }
    while (active.length > 0) {
      const k = randInt(0, active.length - 1);
      const th = active[k];
      const user = th.n % 2 === 0;
      const mid = randomUUID();
      at += randInt(1_000, 20_000);
      const content = user ? text(20, 600) : text(150, 4000);
      const metrics = user ? null : `{"promptTokens":${randInt(20, 4000)},"generatedTokens":${randInt(20, 1000)},"ttftMs":${randInt(50, 900)},"genTps":${(20 + rand() * 60).toFixed(1)}}`;
      insMsg.run(mid, th.id, th.parent, user ? 'user' : 'assistant', content, user ? null : 'qwen2.5-7b-instruct-q4_k_m.gguf', metrics, at, at);
      th.parent = mid;
      th.n++;
      if (--th.left === 0) {
        touch.run(at, th.id);
        active[k] = active[active.length - 1];
        active.pop();
      }
      done++;
      if (++batch >= BATCH) {
        db.exec('COMMIT');
        db.exec('BEGIN');
        batch = 0;
        if (done % 100_000 === 0) log(`  ${done.toLocaleString()} messages, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      }
    }
  }
  db.exec('COMMIT');
  let ftsS = 0;
  if (!viaTriggers) {
    const f0 = performance.now();
    db.exec(`INSERT INTO messages_fts(rowid, content, thread_key)
      SELECT seq, content, thread_key FROM messages WHERE status <> 'streaming'`);
    db.exec(trigger);
    ftsS = (performance.now() - f0) / 1000;
    log(`  indexed in ${ftsS.toFixed(1)} s`);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { dbPath, bigThreads, anyThread, build_s: (performance.now() - t0) / 1000, fts_index_s: ftsS, trigger_mode: viaTriggers };
}

/* ---------------------------------------------------------------- measure */

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
const r2 = (x: number) => Math.round(x * 1000) / 1000;

function main(): void {
  const dir = arg('dir') ?? fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-bench-store-'));
  log(`building ${N_THREADS.toLocaleString()} threads / ${N_MESSAGES.toLocaleString()} messages in ${dir}`);
  const meta = path.join(dir, 'bench-meta.json');
  const reuse = flag('reuse') && fs.existsSync(meta);
  const b: Built = reuse ? JSON.parse(fs.readFileSync(meta, 'utf8')) : build(dir, flag('triggers'));
  if (!reuse) fs.writeFileSync(meta, JSON.stringify(b));
  log(`  built in ${b.build_s.toFixed(1)} s${reuse ? ' (reused)' : ''}`);
  const size = (p: string) => (fs.existsSync(p) ? fs.statSync(p).size : 0);
  const dbSizeMb = (size(b.dbPath) + size(b.dbPath + '-wal')) / 1048576;

  // open + first page of threads (fresh connection each time; the first run is the one that counts most)
  const listTimes: number[] = [];
  let store!: Store;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    store = Store.open(b.dbPath);
    const page = store.threads.list({ limit: 50 });
    listTimes.push(performance.now() - t0);
    if (page.items.length !== Math.min(50, N_THREADS)) throw new Error('thread list returned too few threads');
    if (i < 4) store.close();
  }

  // open a 1,000-message thread (each thread opened once, so each read is a first read in this connection)
  const openTimes: number[] = [];
  for (const id of b.bigThreads) {
    const t0 = performance.now();
    const msgs = store.messages.list(id);
    openTimes.push(performance.now() - t0);
    if (msgs.length !== BIG_THREAD) throw new Error(`thread open returned ${msgs.length} messages`);
  }

  // FTS: 20 varied queries (common, mid-frequency, rare, two and three words, phrases, thread filter, titles, no hits,
  // FTS syntax in user input). Each query is run 3 times; percentiles over all 60 runs.
  const rank = (r: number) => VOCAB[Math.min(VOCAB.length - 1, r)];
  const big = b.bigThreads[0];
  const queries: { query: string; threadId?: string }[] = [
    { query: 'the' }, { query: 'function' }, { query: 'python error' }, { query: rank(400) }, { query: rank(2000) },
    { query: rank(10_000) }, { query: rank(30_000) }, { query: `${rank(150)} ${rank(900)}` }, { query: `"the code"` },
    { query: `${rank(60)} ${rank(61)} ${rank(62)}` }, { query: `"${rank(1)} ${rank(2)} ${rank(3)}"` },
    { query: 'memory', threadId: big }, { query: 'the', threadId: big }, { query: rank(3000), threadId: b.anyThread },
    { query: 'zzzznotaword' }, { query: 'AND OR NOT (* "unbalanced' }, { query: 'model: context^2 -token' },
    { query: `${rank(120)} ${rank(7000)}` }, { query: 'install library version' }, { query: `${rank(20_000)} ${rank(25_000)}` },
  ];
  const ftsTimes: number[] = [];
  const perQuery: { query: string; thread: boolean; hits: number; ms: number }[] = [];
  for (let round = 0; round < 3; round++) {
    for (const q of queries) {
      const t0 = performance.now();
      const r = store.search({ ...q, limit: 20 });
      const ms = performance.now() - t0;
      ftsTimes.push(ms);
      if (round === 0) perQuery.push({ query: q.query, thread: !!q.threadId, hits: r.hits.length, ms: r2(ms) });
    }
  }

  // streaming append: one flush = one small UPDATE (content = content || ?), here ~40 characters each
  const thread = store.threads.create({ title: 'bench streaming' });
  store.messages.add({ threadId: thread.id, role: 'user', content: text(50, 300) });
  const w = store.messages.beginReply({ threadId: thread.id, model: 'bench' });
  const flushTimes: number[] = [];
  for (let i = 0; i < 500; i++) {
    w.append(text(30, 50));
    const t0 = performance.now();
    w.flush();
    flushTimes.push(performance.now() - t0);
  }
  w.finish({ status: 'done', metrics: { generatedTokens: 5000 } });

  // finishing a reply (status + metrics, and the reply enters the search index): 50 replies of realistic length
  const finishTimes: number[] = [];
  for (let i = 0; i < 50; i++) {
    store.messages.add({ threadId: thread.id, role: 'user', content: text(20, 600) });
    const r = store.messages.beginReply({ threadId: thread.id, model: 'bench' });
    const body = text(150, 4000);
    for (let k = 0; k < body.length; k += 40) r.append(body.slice(k, k + 40));
    r.flush();
    const f0 = performance.now();
    r.finish({ status: 'done', metrics: { generatedTokens: Math.round(body.length / 4) } });
    finishTimes.push(performance.now() - f0);
  }

  // adding a message through the API (FTS trigger on): what a user's send or an import costs per message
  const insertTimes: number[] = [];
  for (let t = 0; t < 10; t++) {
    const th = store.threads.create({ title: `bench insert ${t}` });
    for (let i = 0; i < 100; i++) {
      const content = i % 2 ? text(150, 4000) : text(20, 600);
      const t0 = performance.now();
      store.messages.add({ threadId: th.id, role: i % 2 ? 'assistant' : 'user', content });
      insertTimes.push(performance.now() - t0);
    }
  }
  store.close();

  const result = {
    threads: N_THREADS,
    messages: N_MESSAGES,
    build_s: Math.round(b.build_s * 10) / 10,
    db_size_mb: Math.round(dbSizeMb * 10) / 10,
    thread_list_ms: r2(listTimes[0]),
    thread_list_ms_median: r2(pct(listTimes, 50)),
    thread_open_ms: r2(pct(openTimes, 50)),
    thread_open_ms_max: r2(Math.max(...openTimes)),
    fts_p50_ms: r2(pct(ftsTimes, 50)),
    fts_p95_ms: r2(pct(ftsTimes, 95)),
    fts_max_ms: r2(Math.max(...ftsTimes)),
    append_flush_ms: r2(pct(flushTimes, 50)),
    append_flush_p95_ms: r2(pct(flushTimes, 95)),
    append_flush_max_ms: r2(Math.max(...flushTimes)),
    finish_reply_ms: r2(pct(finishTimes, 50)),
    finish_reply_p95_ms: r2(pct(finishTimes, 95)),
    finish_reply_max_ms: r2(Math.max(...finishTimes)),
    insert_msg_ms: r2(pct(insertTimes, 50)),
    insert_msg_p95_ms: r2(pct(insertTimes, 95)),
    fts_index_s: Math.round(b.fts_index_s * 10) / 10,
    build_mode: b.trigger_mode ? 'fts-trigger-per-row' : 'bulk-load-then-index',
    targets: TARGETS,
    pass: {
      thread_list: listTimes[0] < TARGETS.thread_list_ms,
      thread_open: pct(openTimes, 50) < TARGETS.thread_open_ms,
      fts_p95: pct(ftsTimes, 95) < TARGETS.fts_p95_ms,
      append_flush: pct(flushTimes, 95) < TARGETS.append_flush_ms,
    },
    queries: perQuery,
    node: process.version,
    cpus: os.cpus().length,
  };
  if (!KEEP && !arg('dir')) fs.rmSync(dir, { recursive: true, force: true });

  if (JSON_OUT) {
    console.log(JSON.stringify(result));
    return;
  }
  const row = (k: string, v: string, t = '', ok?: boolean) => console.log(`${k.padEnd(34)} ${v.padStart(12)}  ${t.padEnd(10)} ${ok === undefined ? '' : ok ? 'PASS' : 'FAIL'}`);
  console.log('');
  row('database', `${result.threads} thr / ${result.messages} msg`);
  row('build', `${result.build_s} s`);
  row('size', `${result.db_size_mb} MB`);
  row('open + first page of threads', `${result.thread_list_ms} ms`, `< ${TARGETS.thread_list_ms} ms`, result.pass.thread_list);
  row('open a 1,000-message thread (p50)', `${result.thread_open_ms} ms`, `< ${TARGETS.thread_open_ms} ms`, result.pass.thread_open);
  row('FTS p50', `${result.fts_p50_ms} ms`);
  row('FTS p95', `${result.fts_p95_ms} ms`, `< ${TARGETS.fts_p95_ms} ms`, result.pass.fts_p95);
  row('append per flush (p50)', `${result.append_flush_ms} ms`);
  row('append per flush (p95)', `${result.append_flush_p95_ms} ms`, `< ${TARGETS.append_flush_ms} ms`, result.pass.append_flush);
  row('finish reply (p50 / p95 / max)', `${result.finish_reply_ms} / ${result.finish_reply_p95_ms} / ${result.finish_reply_max_ms} ms`);
  row('add a message (p50 / p95)', `${result.insert_msg_ms} / ${result.insert_msg_p95_ms} ms`);
  console.log('\nqueries (first run):');
  for (const q of perQuery) console.log(`  ${(q.query + (q.thread ? ' [thread]' : '')).padEnd(40)} ${String(q.hits).padStart(3)} hits ${q.ms.toFixed(2).padStart(8)} ms`);
}

main();
