/**
 * R6: every IPC channel of the contract, fed random, boundary and valid payloads over the browser-mode
 * WebSocket. The server is the real `hearth serve` in a child process (so a crash shows as an exit):
 * the real store in a temporary data folder, the real engine host, a generated tiny model in the
 * temporary models folder. Every call must answer within CALL_BOUND_MS (else it counts as hung), an
 * ok reply must pass the channel's response schema, an error must carry a code from the contract's
 * IPC_ERROR_CODES (never `internal`: bad input gets a typed error; never `engine_crashed`: input must
 * not bring the engine host down) and a message, and every reply started ends without an error its
 * input does not explain. After the fuzz the process is alive and a normal chat works.
 *
 * Payloads come from a seeded PRNG (FUZZ_SEED, default 1: a failure reproduces with the same seed).
 * Generation stays cheap: chat defaults cap replies at a few tokens, and the one real model's saved
 * load settings are reset after each channel (the valid settings generated for it keep the context
 * small, so no call allocates gigabytes). Only those slow valid cases are tamed; invalid ones never.
 * Paths in payloads stay inside the temporary data folder (the model-path channels still read any path
 * they are given: issue 12 item 18). The hub and download channels reach only a local hub on loopback
 * (HF_ENDPOINT: test/helpers/hf-server.ts), and discovery looks under a fake home (HOME). Channels run one after another, IN_FLIGHT calls at a time;
 * FUZZ_CHANNELS=a,b runs only those.
 */
import { ChildProcess, spawn } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import WebSocket from 'ws';
import { z } from 'zod';
import { Channel, contract, EventOf, IPC_ERROR_CODES } from '../../main/ipc/contract';
import { splitmix32 } from '../../scripts/make-test-model';
import { stopProcessGroup } from '../helpers/browser-mode';
import { tempDir } from '../helpers/engine';
import { startHfServer, type HfServer } from '../helpers/hf-server';
import { copyModel, REPO_ROOT, TINY_SPM } from '../helpers/models';

const SEED = Number(process.env.FUZZ_SEED ?? 1);
/** payloads per channel */
const PER_CHANNEL = 220;
/** a call with no reply after this long is hung (not a speed bound: the machine is shared, and a 1M-character
 *  text to count or a file header to parse waits behind the calls in flight before it) */
const CALL_BOUND_MS = 30_000;
/** calls in flight at once on the socket (races between calls are part of the fuzz) */
const IN_FLIGHT = 4;
/** a short reply (FUZZ_MAX_TOKENS) slower than this is a hung generation */
const REPLY_BOUND_MS = 30_000;
/** the reply budget of every chat the fuzz starts */
const FUZZ_MAX_TOKENS = 4;

jest.setTimeout(300_000);

// ---- seeded randomness ---------------------------------------------------------------------------

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = splitmix32(seed);
  }
  float(): number {
    return this.next() / 2 ** 32;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.float() * a.length)];
  }
  string(maxLen = 24): string {
    const alphabets = ['abcdefghijklmnopqrstuvwxyz', 'ABCxyz0123456789-_.', ' \t\n"\\/{}[]<>%&*?', 'éß漢字😀\u202e\u0000\u0007\ufeff'];
    const n = this.int(0, maxLen);
    let s = '';
    for (let i = 0; i < n; i++) s += this.pick(Array.from(this.pick(alphabets)));
    return s;
  }
}

/** A JSON text spliced verbatim into a frame: numbers JSON.stringify cannot write (1e400 parses to Infinity), __proto__ keys, deep nesting. */
class Raw {
  constructor(readonly text: string) {}
}

function serialize(v: unknown): string {
  // a Raw itself: not a payload whose __proto__ a mutation set to one (it would pass instanceof, and its own `text` field be sent raw)
  if (v instanceof Raw && Object.getPrototypeOf(v) === Raw.prototype) return v.text;
  if (Array.isArray(v)) return `[${v.map(serialize).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${serialize((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** FNV-1a of a channel name. */
function channelHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// ---- the zod schemas, read -------------------------------------------------------------------------

type AnyZod = z.ZodTypeAny;
const defOf = (s: AnyZod) => s._def as { typeName: string } & Record<string, any>;

/** Strips optional/default/nullable/effects wrappers. */
function core(s: AnyZod): AnyZod {
  for (;;) {
    const d = defOf(s);
    if (d.typeName === 'ZodOptional' || d.typeName === 'ZodNullable' || d.typeName === 'ZodDefault') s = d.innerType;
    else if (d.typeName === 'ZodEffects') s = d.schema;
    else return s;
  }
}

function isOptional(s: AnyZod): boolean {
  return s.safeParse(undefined).success;
}

function bounds(s: AnyZod): { min?: number; max?: number; int?: boolean } {
  const out: { min?: number; max?: number; int?: boolean } = {};
  for (const c of (defOf(s).checks ?? []) as { kind: string; value?: number }[]) {
    if (c.kind === 'min') out.min = c.value;
    if (c.kind === 'max') out.max = c.value;
    if (c.kind === 'int') out.int = true;
  }
  return out;
}

// ---- what a payload may refer to (real ids, paths inside the data folder) ----------------------------

interface Pools {
  downloads: string[];
  threads: string[];
  messages: string[];
  assistants: string[];
  paths: string[];
  model: string;
}

/** Settings for the real model that keep every valid load cheap (a huge context would allocate gigabytes). */
const TAME: Record<string, number> = { contextSize: 4096, batchSize: 4096, ubatchSize: 4096, threads: 4 };

function idFor(key: string, channel: string, pools: Pools, rng: Rng): string {
  const byKey: Record<string, string[]> = {
    threadId: pools.threads,
    messageId: pools.messages,
    assistantId: pools.assistants,
    id: channel.startsWith('assistants.') ? pools.assistants : channel.startsWith('downloads.') ? pools.downloads : pools.threads,
  };
  const pool = byKey[key] ?? [];
  if (pool.length && rng.chance(0.75)) return rng.pick(pool);
  const any = [...pools.threads, ...pools.messages, ...pools.assistants];
  if (any.length && rng.chance(0.5)) return rng.pick(any); // a real id of the wrong kind
  return rng.string(20) || 'x';
}

/** A valid value for schema `s` (at key `key` of `channel`). */
function valid(s: AnyZod, key: string, channel: string, pools: Pools, rng: Rng, tame: boolean): unknown {
  const c = core(s);
  const d = defOf(c);
  switch (d.typeName) {
    case 'ZodObject': {
      const out: Record<string, unknown> = {};
      const shape = (c as z.AnyZodObject).shape as Record<string, AnyZod>;
      const path = out as { path?: string };
      for (const [k, v] of Object.entries(shape)) {
        if (isOptional(v) && rng.chance(0.5)) continue;
        out[k] = valid(v, k, channel, pools, rng, tame || path.path === pools.model);
      }
      // settings for the real model stay cheap to load
      if (path.path === pools.model && out.settings && typeof out.settings === 'object') {
        const st = out.settings as Record<string, unknown>;
        for (const [k, cap] of Object.entries(TAME)) if (typeof st[k] === 'number') st[k] = Math.min(st[k] as number, cap);
        if (typeof st.ubatchSize === 'number' && typeof st.batchSize === 'number') st.ubatchSize = Math.min(st.ubatchSize, st.batchSize);
      }
      return out;
    }
    case 'ZodString': {
      if (['id', 'threadId', 'messageId', 'assistantId'].includes(key)) return idFor(key, channel, pools, rng);
      if (key === 'path' || key === 'modelPath') return rng.pick(pools.paths);
      // the API server binds loopback only here (a valid name beyond it would listen on the network or ask DNS)
      if (channel === 'api.update' && key === 'host') return rng.pick(['127.0.0.1', 'localhost', '::1']);
      // the local hub's repository and file, most of the time (a download or listing that gets somewhere)
      if (HUB_VALUES[key] && rng.chance(0.75)) return rng.pick(HUB_VALUES[key]);
      const b = bounds(c);
      const len = rng.int(Math.max(1, b.min ?? 0), Math.min(b.max ?? 40, 40));
      let str = '';
      while (str.trim().length < len) str += rng.pick(['hello ', 'lighthouse ', 'zanzibar ', 'x', '漢字 ', '"quoted" ', '* ']);
      return str.slice(0, Math.max(len, 1));
    }
    case 'ZodNumber': {
      const b = bounds(c);
      const lo = b.min ?? -1000;
      let hi = b.max ?? 1000;
      if (tame && TAME[key] !== undefined) hi = Math.min(hi, TAME[key]);
      const n = rng.pick([lo, hi, lo + (hi - lo) * rng.float() ** 4]);
      return b.int ? Math.min(hi, Math.max(lo, Math.round(n))) : n;
    }
    case 'ZodBoolean':
      return rng.chance(0.5);
    case 'ZodEnum':
      return rng.pick(d.values as string[]);
    case 'ZodLiteral':
      return d.value;
    case 'ZodUnion':
    case 'ZodDiscriminatedUnion':
      return valid(rng.pick(d.options as AnyZod[]), key, channel, pools, rng, tame);
    case 'ZodRecord':
      return rng.chance(0.5) ? {} : { [`K${rng.int(0, 9)}`]: valid(d.valueType, key, channel, pools, rng, tame) };
    case 'ZodArray': {
      const n = rng.int(0, Math.min(d.maxLength?.value ?? 4, 4));
      return Array.from({ length: n }, () => valid(d.type, key, channel, pools, rng, tame));
    }
    default:
      return null;
  }
}

/** Boundary values for schema `s`: each a value the schema refuses, or one at the edge of what it accepts. */
function edges(s: AnyZod): unknown[] {
  const c = core(s);
  const d = defOf(c);
  const common: unknown[] = [null, [], {}, true];
  switch (d.typeName) {
    case 'ZodString': {
      const b = bounds(c);
      const out: unknown[] = ['', ' ', '\u0000', '\ud800', '..', '%00', 42, ...common];
      if (b.min !== undefined && b.min > 0) out.push('x'.repeat(b.min - 1), 'x'.repeat(b.min));
      if (b.max !== undefined) out.push('x'.repeat(b.max), 'x'.repeat(b.max + 1), ' '.repeat(b.max + 1));
      return out;
    }
    case 'ZodNumber': {
      const b = bounds(c);
      const out: unknown[] = [-0, -1, 1.5, 2 ** 53 + 2, -1e308, 1e308, 5e-324, new Raw('1e400'), new Raw('-1e400'), new Raw('1e-400'), '1', ...common];
      if (b.min !== undefined) out.push(b.min, b.min - 1, b.min - 0.5);
      if (b.max !== undefined) out.push(b.max, b.max + 1, b.max + 0.5);
      return out;
    }
    case 'ZodEnum':
      return [(d.values as string[])[0].toUpperCase(), `${(d.values as string[])[0]} `, '', 0, ...common];
    case 'ZodBoolean':
      return [0, 1, 'true', null, []];
    case 'ZodArray':
      return [Array.from({ length: (d.maxLength?.value ?? 64) + 1 }, () => 0), [null], [new Raw('1e400')], 'x', ...common];
    case 'ZodObject':
      return ['x', 0, [], null, new Raw('{"__proto__":{"polluted":true}}')];
    default:
      return common;
  }
}

const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' ', 'id ', 'x'.repeat(300)];

function randomJson(rng: Rng, depth: number): unknown {
  switch (rng.int(0, depth > 0 ? 7 : 4)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1, 0.5, 1e21, -(2 ** 31), 2 ** 32, rng.int(-1e6, 1e6)]);
    case 3:
      return rng.string(40);
    case 4:
      return new Raw(rng.pick(['1e400', '-1e400', '1e-400', '-0', '1E+2']));
    case 5:
    case 6: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(0, 4); i > 0; i--) o[rng.chance(0.3) ? rng.pick(NASTY_KEYS) : rng.string(8)] = randomJson(rng, depth - 1);
      return o;
    }
    default:
      return Array.from({ length: rng.int(0, 4) }, () => randomJson(rng, depth - 1));
  }
}

const deep = (n: number) => new Raw('['.repeat(n) + ']'.repeat(n));
const deepObject = (n: number) => new Raw('{"a":'.repeat(n) + '1' + '}'.repeat(n));
const huge = (n: number) => 'x'.repeat(n);

/** Every field of the request schema, each at its edges: the systematic part of a channel's payloads. */
function systematic(channel: Channel, pools: Pools, rng: Rng): unknown[] {
  const schema = core(contract[channel].request) as z.AnyZodObject;
  const base = () => valid(schema, '', channel, pools, rng, true) as Record<string, unknown>;
  const out: unknown[] = [];
  const fields = Object.entries(schema.shape as Record<string, AnyZod>);
  for (const [k, v] of fields) {
    for (const e of edges(v)) out.push({ ...base(), [k]: e });
    out.push(Object.fromEntries(Object.entries(base()).filter(([kk]) => kk !== k))); // missing
    // one level down (settings objects, patches)
    const inner = core(v);
    if (defOf(inner).typeName === 'ZodObject') {
      for (const [ik, iv] of Object.entries((inner as z.AnyZodObject).shape as Record<string, AnyZod>)) {
        const e = rng.pick(edges(iv));
        const b = base();
        out.push({ ...b, [k]: { ...(typeof b[k] === 'object' && b[k] ? (b[k] as object) : {}), [ik]: e } });
      }
    }
  }
  for (const nk of NASTY_KEYS) out.push({ ...base(), [nk]: { polluted: true } });
  out.push(new Raw(`{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}`));
  out.push(null, undefined, 0, '', 'x', [], [base()], true, deep(5000), deepObject(5000), huge(2_000_000), { ...base(), extra: huge(1_000_000) });
  return out;
}

/** The payloads of one channel: systematic edges, then random JSON, mutated valid payloads and valid ones. */
function payloadsFor(channel: Channel, pools: Pools, rng: Rng): unknown[] {
  const schema = contract[channel].request;
  const out = systematic(channel, pools, rng).slice(0, PER_CHANNEL - 80);
  while (out.length < PER_CHANNEL) {
    const r = rng.float();
    if (r < 0.25) out.push(randomJson(rng, 4));
    else if (r < 0.6) {
      const p = valid(schema, '', channel, pools, rng, true) as Record<string, unknown>;
      const keys = Object.keys(p);
      const k = keys.length && rng.chance(0.8) ? rng.pick(keys) : rng.pick(NASTY_KEYS);
      p[k] = rng.chance(0.5) ? randomJson(rng, 2) : rng.pick([huge(100_001), '', -1, new Raw('1e400'), null, { [rng.pick(NASTY_KEYS)]: 1 }]);
      out.push(p);
    } else out.push(valid(schema, '', channel, pools, rng, true));
  }
  return out;
}

// ---- the server and the socket ---------------------------------------------------------------------

let dataDir: string;
let home: string;
let hub: HfServer;
/** valid values for the hub channels' keys: the local hub's repository, files and their hashes */
const HUB_VALUES: Record<string, string[]> = {};
let server: ChildProcess;
let serverLog = '';
let exited: { code: number | null; signal: string | null } | null = null;
let ws: WebSocket;
/** set while the harness connects again after a restart; calls wait for it */
let reconnecting: Promise<void> | null = null;
/** how many times the server's App restarted under the fuzz (a restore, a move, erasing everything) */
let restarts = 0;
let nextId = 1;
const pending = new Map<number, (frame: { ok: boolean; result?: unknown; error?: { code: unknown; message: unknown }; restarted?: boolean }) => void>();
const eventListeners = new Set<(event: string, payload: unknown) => void>();

function start(): Promise<string> {
  server = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'cli.js'), 'serve', '--port', '0', '--data-dir', dataDir, '--verbose'], {
    cwd: REPO_ROOT,
    env: { ...process.env, DISPLAY: '', WAYLAND_DISPLAY: '', HF_ENDPOINT: hub.url, HF_TOKEN: '', HOME: home, XDG_DATA_HOME: '', OLLAMA_MODELS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  // --verbose: the log says what happened when a check fails (llama.cpp's own lines left out)
  const keep = (d: Buffer) => (serverLog = (serverLog + d.toString().replace(/^\[\w+\] llama: .*\n/gm, '')).slice(-20_000));
  server.stderr!.on('data', keep);
  server.on('exit', (code, signal) => (exited = { code, signal }));
  return new Promise((resolve, reject) => {
    server.stdout!.on('data', (d: Buffer) => {
      keep(d);
      const m = /^Hearth UI: (\S+)$/m.exec(serverLog);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`hearth serve exited ${code}: ${serverLog}`)));
  });
}

interface Reply {
  ok: boolean;
  result?: unknown;
  error?: { code: unknown; message: unknown };
  ms: number;
  hung?: boolean;
  /** the App restarted before it answered (the socket closed with 1012) */
  restarted?: boolean;
}

/** One call with a raw payload; never rejects: a reply slower than CALL_BOUND_MS comes back as hung. */
async function send(channel: string, payload: unknown): Promise<Reply> {
  while (reconnecting) {
    const r = reconnecting;
    await r;
    if (reconnecting === r) reconnecting = null;
  }
  const id = nextId++;
  const t0 = performance.now();
  const body = payload === undefined ? `{"id":${id},"channel":${JSON.stringify(channel)}}` : `{"id":${id},"channel":${JSON.stringify(channel)},"payload":${serialize(payload)}}`;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      resolve({ ok: false, ms: performance.now() - t0, hung: true });
    }, CALL_BOUND_MS);
    pending.set(id, (frame) => {
      clearTimeout(timer);
      resolve({ ...frame, ms: performance.now() - t0 });
    });
    try {
      ws.send(body);
    } catch {
      // the socket is closing for a restart
      pending.delete(id);
      clearTimeout(timer);
      resolve({ ok: false, ms: performance.now() - t0, restarted: true });
    }
  });
}

/** A call that must succeed (setup and the checks after the fuzz). */
async function call<T = any>(channel: Channel, payload: unknown = {}): Promise<T> {
  const r = await send(channel, payload);
  if (!r.ok) throw new Error(`${channel} failed: ${r.hung ? 'no reply' : JSON.stringify(r.error)}`);
  return r.result as T;
}

/** The thread's next finished reply; rejects after REPLY_BOUND_MS. */
function nextDone(threadId: string): Promise<EventOf<'chat.done'>['message']> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      eventListeners.delete(l);
      reject(new Error(`no chat.done for ${threadId} within ${REPLY_BOUND_MS} ms; server log:\n${serverLog.slice(-3000)}`));
    }, REPLY_BOUND_MS);
    const l = (event: string, payload: unknown) => {
      const p = payload as EventOf<'chat.done'>;
      if (event === 'chat.done' && p.threadId === threadId) {
        clearTimeout(timer);
        eventListeners.delete(l);
        resolve(p.message);
      }
    };
    eventListeners.add(l);
  });
}

/**
 * The WebSocket to the server. A call that restarts the app (data.erase everything, a restore, a move) closes
 * it with 1012 (service restart) once the new App serves: the calls then in flight answer `restarted` (not a
 * defect: the page reloads then) and the harness connects again, as the page does.
 */
async function connect(url: string): Promise<void> {
  const u = new URL(url);
  const open = async () => {
    for (let tries = 0; ; tries++) {
      const sock = new WebSocket(`ws://${u.host}/ws?token=${u.searchParams.get('token')}`, { maxPayload: 64 * 1024 * 1024 });
      try {
        await new Promise<void>((resolve, reject) => {
          sock.once('open', () => resolve());
          sock.once('error', reject);
        });
      } catch (e) {
        if (tries >= 50 || exited) throw e;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      ws = sock;
      sock.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { id?: number; event?: string; payload?: unknown; ok: boolean };
        if (typeof frame.event === 'string') for (const l of [...eventListeners]) l(frame.event, frame.payload);
        else if (typeof frame.id === 'number') pending.get(frame.id)?.(frame);
      });
      sock.once('close', (code) => {
        if (code !== 1012 || exited) return;
        restarts++;
        for (const [id, answer] of [...pending]) {
          pending.delete(id);
          answer({ ok: false, restarted: true });
        }
        reconnecting = open();
      });
      return;
    }
  };
  await open();
}

// ---- the real things payloads refer to -------------------------------------------------------------

let modelPath: string;

/** Sends a short chat in a thread and waits for its reply (so the thread has messages to refer to). */
async function chatIn(threadId: string): Promise<void> {
  const done = nextDone(threadId);
  const r = await send('chat.send', { threadId, content: 'Tell me about the lighthouse' });
  if (r.ok) await done;
  else eventListeners.clear();
}

/** The ids and paths payloads draw from; restores what earlier channels deleted or changed. */
async function baseline(): Promise<Pools> {
  // library.delete deletes the model from disk: put it back (the listing sees it on the next call)
  if (!fs.existsSync(modelPath)) copyModel(TINY_SPM, modelPath);
  await call('settings.update', { chatDefaults: { maxTokens: FUZZ_MAX_TOKENS, temperature: 0.7 }, guardrail: 'warn', backend: 'auto', fitMarginMiB: 1024 });
  await call('models.settings.reset', { path: modelPath });
  await call('models.load', { path: modelPath, force: true });
  const list = await call<{ threads: { id: string }[] }>('threads.list', { limit: 200 });
  const threads = list.threads.map((t) => t.id);
  while (threads.length < 3) {
    const t = await call<{ id: string }>('threads.create', { temporary: threads.length === 2 });
    await chatIn(t.id);
    threads.push(t.id);
  }
  const messages: string[] = [];
  for (const id of threads.slice(0, 6)) {
    const r = await send('threads.get', { id });
    if (r.ok) messages.push(...(r.result as { messages: { id: string }[] }).messages.map((m) => m.id));
  }
  // the default assistant's sampling (fuzzed by assistants.update) would override the short reply budget
  const all = await call<{ id: string; isDefault: boolean }[]>('assistants.list');
  await call('assistants.update', { id: all.find((a) => a.isDefault)!.id, patch: { sampling: { maxTokens: FUZZ_MAX_TOKENS }, instructions: '' } });
  const assistants = all.map((a) => a.id);
  if (assistants.length < 2) assistants.push((await call<{ id: string }>('assistants.create', { name: 'Fuzz helper' })).id);
  const paths = [
    modelPath,
    modelPath,
    path.join(dataDir, 'models', 'missing.gguf'),
    path.join(dataDir, 'models', 'truncated.gguf'),
    path.join(dataDir, 'models', 'not-a-model.gguf'),
    path.join(dataDir, 'models'),
    path.join(dataDir, 'hearth.db'),
    'relative-missing.gguf',
  ];
  const downloads = (await call<{ id: string }[]>('downloads.list')).map((d) => d.id);
  return { downloads, threads, messages, assistants, paths, model: modelPath };
}

/** Codes no payload may cause: a bug in main (internal), or an engine host brought down by input. */
const UNEXPECTED: ReadonlySet<string> = new Set(['internal', 'engine_crashed', 'engine_unavailable']);

/** How a reply to fuzzed input may fail: a message longer than the context. */
const REPLY_ERRORS: ReadonlySet<string> = new Set(['context_overflow']);

/** Channels whose valid calls delete or reset what the others refer to run last (those restarting the App at the very end). */
const LAST: readonly string[] = ['library.delete', 'threads.delete', 'assistants.delete', 'models.unload', 'settings.update', 'data.move', 'data.backups.restore', 'data.erase'];

beforeAll(async () => {
  dataDir = tempDir('hearth-ipcfuzz-');
  const models = path.join(dataDir, 'models');
  fs.mkdirSync(models);
  modelPath = path.join(models, 'tiny.gguf');
  fs.copyFileSync(TINY_SPM, modelPath);
  const bytes = fs.readFileSync(TINY_SPM);
  fs.writeFileSync(path.join(models, 'truncated.gguf'), bytes.subarray(0, 4096));
  fs.writeFileSync(path.join(models, 'not-a-model.gguf'), 'this is not a model\n');
  home = tempDir('hearth-ipcfuzz-home-');
  const small = bytes.subarray(0, 64 * 1024);
  hub = await startHfServer({ repos: [{ id: 'fuzz/tiny-GGUF', files: [{ path: 'tiny-Q8_0.gguf', data: small }, { path: 'sub/tiny-Q4_0.gguf', data: small }] }] });
  const sha = createHash('sha256').update(small).digest('hex');
  Object.assign(HUB_VALUES, { repo: ['fuzz/tiny-GGUF'], file: ['tiny-Q8_0.gguf', 'sub/tiny-Q4_0.gguf'], sha256: [sha], query: ['tiny', ''], author: ['fuzz'] });
  await connect(await start());
});

afterAll(async () => {
  ws?.close();
  const stopped = await stopProcessGroup(server?.pid);
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  if (home) fs.rmSync(home, { recursive: true, force: true });
  hub?.close();
  expect(stopped).toBe(true);
});

// ---- the fuzz --------------------------------------------------------------------------------------

test('every channel, ≥ 200 random, boundary and valid payloads each: typed errors, 0 crashes, 0 hung calls', async () => {
  // FUZZ_CHANNELS=a,b reruns only those channels (with FUZZ_SEED, to reproduce a failure)
  const only = process.env.FUZZ_CHANNELS?.split(',');
  const channels = (Object.keys(contract) as Channel[]).filter((c) => !only || only.includes(c)).sort((a, b) => Number(LAST.includes(a)) - Number(LAST.includes(b)) || LAST.indexOf(a) - LAST.indexOf(b));
  const known = new Set<string>(IPC_ERROR_CODES);
  const figures = { channels: channels.length, payloads: 0, ok: 0, errors: {} as Record<string, number>, maxLatencyMs: 0, maxLatencyChannel: '', crashes: 0, hung: 0, restarted: 0 };
  const defects: string[] = [];
  const describe = (p: unknown) => {
    const s = serialize(p).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    return s.length > 240 ? `${s.slice(0, 240)}… (${s.length} chars)` : s;
  };

  const started = Date.now();
  const seconds: Record<string, number> = {};
  // every reply the fuzz starts must end, and without an error other than those its input explains
  const replies: Record<string, number> = {};
  const watch = (event: string, payload: unknown) => {
    if (event !== 'chat.done') return;
    const m = (payload as EventOf<'chat.done'>).message;
    const code = m.status === 'error' ? (m.error ?? '').split(':')[0] : m.status;
    replies[code] = (replies[code] ?? 0) + 1;
    if (m.status === 'error' && !REPLY_ERRORS.has(code)) defects.push(`a reply failed: ${m.error}`);
  };
  eventListeners.add(watch);
  for (const channel of channels) {
    const t0 = Date.now();
    const pools = await baseline();
    // each channel its own stream, so FUZZ_CHANNELS=<channel> with the same FUZZ_SEED replays its payloads
    const rng = new Rng(SEED ^ channelHash(channel));
    const payloads = payloadsFor(channel, pools, rng);
    expect(payloads.length).toBeGreaterThanOrEqual(200);
    let at = 0;
    const worker = async () => {
      while (at < payloads.length && !exited) {
        const payload = payloads[at++];
        const r = await send(channel, payload);
        figures.payloads++;
        if (r.ms > figures.maxLatencyMs) [figures.maxLatencyMs, figures.maxLatencyChannel] = [r.ms, channel];
        if (r.restarted) {
          figures.restarted++;
        } else if (r.hung) {
          figures.hung++;
          defects.push(`${channel}: no reply within ${CALL_BOUND_MS} ms to ${describe(payload)}; server log:\n${serverLog.slice(-1500)}`);
        } else if (r.ok) {
          figures.ok++;
          const check = contract[channel].response.safeParse(r.result);
          if (!check.success) defects.push(`${channel}: ok reply fails the response schema (${check.error.issues[0]?.message}) for ${describe(payload)}`);
        } else {
          const code = String(r.error?.code);
          figures.errors[code] = (figures.errors[code] ?? 0) + 1;
          if (!known.has(code) || UNEXPECTED.has(code)) defects.push(`${channel}: code ${code} (${String(r.error?.message).slice(0, 200)}) for ${describe(payload)}`);
          if (typeof r.error?.message !== 'string' || !r.error.message) defects.push(`${channel}: error without a message for ${describe(payload)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    seconds[channel] = Math.round((Date.now() - t0) / 100) / 10;
    if (exited) {
      figures.crashes++;
      defects.push(`the server exited (${JSON.stringify(exited)}) during ${channel}: ${serverLog.slice(-2000)}`);
      break;
    }
  }
  eventListeners.delete(watch);
  figures.maxLatencyMs = Math.round(figures.maxLatencyMs);
  console.log(`IPC fuzz (seed ${SEED}, ${Math.round((Date.now() - started) / 1000)} s, ${restarts} restarts): ${JSON.stringify(figures)}\nreplies ended: ${JSON.stringify(replies)}\nseconds per channel: ${JSON.stringify(seconds)}`);
  if (defects.length) console.log(`IPC fuzz defects (${defects.length}):\n${[...new Set(defects)].slice(0, 60).join('\n')}`);
  expect(defects).toEqual([]);
  expect(figures.crashes).toBe(0);
  expect(figures.hung).toBe(0);
  expect(figures.payloads).toBeGreaterThanOrEqual(200 * channels.length);
});

test('after the fuzz the server is alive and a normal chat works', async () => {
  expect(exited).toBeNull();
  await baseline();
  const list = await call<{ threads: unknown[] }>('threads.list', {});
  expect(Array.isArray(list.threads)).toBe(true);
  const t = await call<{ id: string }>('threads.create', {});
  const done = nextDone(t.id);
  const sent = await call<{ reply: { status: string } }>('chat.send', { threadId: t.id, content: 'Hello after the fuzz' });
  expect(sent.reply.status).toBe('streaming');
  const final = await done;
  expect({ status: final.status, error: final.error }).toEqual({ status: 'done', error: null });
  expect(final.metrics!.generatedTokens).toBeGreaterThan(0);
  expect(final.metrics!.generatedTokens).toBeLessThanOrEqual(FUZZ_MAX_TOKENS);
  expect(exited).toBeNull();
});
