/**
 * Every chat thread keeps its KV cache. The loaded chat model's context has `parallel` sequences
 * sharing one (unified) KV buffer: sequence 0 names threads (./titles.ts), the others are given to
 * threads, least recently used first, so switching back to a thread finds its conversation cached
 * and the turn reads only what is new. A thread whose sequence is taken for another (evicted), or
 * whose model unloads (a switch, a settings reload, the app closing), has its sequence's KV state
 * saved to <data>/sessions/<thread>.kv (the engine's saveSession, behind its own header: the model's
 * fingerprint and the cache types) with <thread>.json beside it (the load's fingerprint: model,
 * template, cache types and every load setting but `parallel`; when it was saved; its size). When the
 * thread is used again its state is restored into the sequence it gets before the turn, so the
 * turn's prefix reuse finds it, after a restart too. A state saved under another fingerprint, or one
 * the engine refuses, is deleted and the turn reads the conversation again: never an error.
 * The saved states are bounded by the thread-cache settings (disk budget, oldest first; age), and a
 * deleted thread's state goes with it. Temporary chats are never written to disk, nor is a sequence
 * whose cells may hold another conversation than its thread's (a guest's turn, when every sequence
 * was generating; a title's, in a context of one sequence).
 */
import { createHash } from 'crypto';
import { promises as fsp } from 'fs';
import path from 'path';
import { z } from 'zod';
import type { EngineClient } from '../engine/client';
import type { LoadedModel } from '../engine/methods';
import type { LoadParamsInput } from '../engine/protocol';
import type { ThreadCacheSettings } from '../ipc/thread-cache';
import type { Logger } from '../logging';
import { CHAT_MODEL_ID } from '../models/library';
import { readRegularFile } from '../regular-file';

/** The sequence titles are written on (./titles.ts): never given to a thread. */
export const TITLE_SEQ = 0;

/** The chat model's `parallel` for `liveThreads` threads: one sequence each, and the titles' own. */
export function chatParallel(liveThreads: number): number {
  return liveThreads + 1;
}

/**
 * A generous guess of the tokens a request takes (its text's characters, and what it may generate:
 * a reply without a bound is given `openReply`), so room is made before the engine would drop cells.
 */
export function tokensNeeded(chars: number, maxTokens: number | undefined, openReply = 512): number {
  return Math.ceil(chars / 3) + (maxTokens !== undefined && maxTokens > 0 ? maxTokens : openReply);
}

/** What the sessions know of the loaded chat model: which load it is, and what a saved state must match. */
export interface LoadedChat {
  /** changes with every load (a new context: every sequence starts empty) */
  loadId: number;
  /** the load's fingerprint (loadFingerprint) */
  fingerprint: string;
  /** the context's sequences */
  parallel: number;
}

/**
 * The fingerprint a saved state must match to be restored: the model (the engine's own fingerprint
 * of its file and weights), its chat template, the context's cache types, size and attention, and
 * every load setting but `parallel` (how many sequences share the context changes no cached value).
 */
export function loadFingerprint(loaded: Pick<LoadedModel, 'metadata' | 'context'>, settings: LoadParamsInput): string {
  const { parallel: _parallel, ...rest } = settings as Record<string, unknown>;
  const c = loaded.context;
  const sorted = Object.fromEntries(Object.entries(rest).sort(([a], [b]) => a.localeCompare(b)));
  const what = {
    model: loaded.metadata.fingerprint,
    template: loaded.metadata.chatTemplate,
    context: { size: c.contextSize, k: c.cacheTypeK, v: c.cacheTypeV, flashAttention: c.flashAttention },
    settings: sorted,
  };
  return createHash('sha256').update(JSON.stringify(what)).digest('hex');
}

/** The file beside a saved state. */
const Meta = z.object({ fingerprint: z.string(), savedAt: z.number(), tokens: z.number().int(), bytes: z.number().int() }).strict();
type Meta = z.infer<typeof Meta>;
/** The most a session's meta file is read to (it holds four numbers and a fingerprint). */
const MAX_META_BYTES = 64 * 1024;

/** Thread ids that may name files (the store's ids are these). */
const FILE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export interface ThreadSessionsDeps {
  engine: Pick<EngineClient, 'saveSession' | 'restoreSession' | 'clearSequence' | 'contextInfo'>;
  /** <data>/sessions */
  dir: string;
  settings: () => ThreadCacheSettings;
  /** the loaded chat model, null when none */
  loaded: () => LoadedChat | null;
  /** whether a thread's state may be written to disk (not a temporary chat's) */
  persist: (threadId: string) => boolean;
  /** whether a thread still exists (prune deletes the states of those that do not) */
  exists?: (threadId: string) => boolean;
  /** the clock (ms since the epoch): tests control it */
  now?: () => number;
  logger: Logger;
}

interface Slot {
  threadId: string;
  lastUsed: number;
  /** turns running on it */
  busy: number;
  /** other threads' turns running on it (every sequence was generating when they came) */
  guests: string[];
  /** its cells may hold another conversation (a guest's, or a title's in a context of one sequence): never saved as this thread's */
  foreign: boolean;
}

/** A sequence no turn runs on. */
function idle(s: Slot): boolean {
  return s.busy === 0 && s.guests.length === 0;
}

export interface AcquireResult {
  seq: number;
  /** tokens restored from disk into the sequence (0: none) */
  restored: number;
}

export class ThreadSessions {
  /** sequence → the thread that holds it, for the load `loadId` */
  private slots = new Map<number, Slot>();
  private loadId: number | null = null;
  /** one change of the slots at a time (each awaits the engine) */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ThreadSessionsDeps) {}

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private serial<T>(job: () => Promise<T>): Promise<T> {
    const run = this.chain.then(job, job);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** The files of a thread's saved state (null: its id cannot name a file). */
  files(threadId: string): { kv: string; meta: string } | null {
    if (!FILE_ID.test(threadId)) return null;
    return { kv: path.join(this.deps.dir, `${threadId}.kv`), meta: path.join(this.deps.dir, `${threadId}.json`) };
  }

  /** The sequence a thread holds in the loaded context, if it holds one. */
  seqOf(threadId: string): number | undefined {
    const loaded = this.deps.loaded();
    if (!loaded || loaded.loadId !== this.loadId) return undefined;
    for (const [seq, s] of this.slots) if (s.threadId === threadId) return seq;
    return undefined;
  }

  /** The sequences threads may hold in a context of `parallel` (all but the titles'; a context of one shares it). */
  private threadSeqs(parallel: number): number[] {
    if (parallel <= 1) return [0];
    return Array.from({ length: parallel - 1 }, (_, i) => i + 1).filter((s) => s !== TITLE_SEQ);
  }

  /**
   * The sequence a thread's turn runs on, with its cached state in place: the one it holds, else a
   * free one, else the least recently used idle thread's (whose state is saved first). A state saved
   * on disk is restored when the sequence does not hold the thread's conversation. Never throws: a
   * failure to save or restore is logged and the turn reads the conversation again. Pair with release().
   */
  acquire(threadId: string, need = 0): Promise<AcquireResult> {
    return this.serial(async () => {
      const loaded = this.deps.loaded();
      if (!loaded) return { seq: 0, restored: 0 };
      if (loaded.loadId !== this.loadId) {
        this.slots = new Map();
        this.loadId = loaded.loadId;
      }
      let seq = this.seqOf(threadId);
      const held = seq !== undefined;
      // this turn leaves the thread's own conversation in the cells, unless a guest's turn may still
      // come after it
      if (held && this.slots.get(seq!)!.guests.length === 0) this.slots.get(seq!)!.foreign = false;
      let tokens: number[] = [];
      let contextSize = 0;
      try {
        const info = await this.deps.engine.contextInfo(CHAT_MODEL_ID);
        tokens = info.sequenceTokens;
        contextSize = info.contextSize;
      } catch (e) {
        this.deps.logger.warn(`sessions: the context could not be read: ${(e as Error).message}`);
      }
      if (need > 0 && contextSize > 0) await this.room(tokens, contextSize, need - (seq === undefined ? 0 : (tokens[seq] ?? 0)), threadId, loaded);
      if (seq === undefined) {
        const seqs = this.threadSeqs(loaded.parallel);
        const free = seqs.find((s) => !this.slots.has(s));
        if (free !== undefined) seq = free;
        else {
          const idleSeqs = seqs.filter((s) => idle(this.slots.get(s)!)).sort((a, b) => this.slots.get(a)!.lastUsed - this.slots.get(b)!.lastUsed);
          if (idleSeqs.length === 0) {
            // every sequence is generating: share the least recent one without taking it (its turns run
            // first); what this turn leaves there is not its holder's to save
            const lru = [...seqs].sort((a, b) => this.slots.get(a)!.lastUsed - this.slots.get(b)!.lastUsed)[0];
            const host = this.slots.get(lru)!;
            host.guests.push(threadId);
            host.foreign = true;
            return { seq: lru, restored: 0 };
          }
          seq = idleSeqs[0];
          const victim = this.slots.get(seq)!;
          if ((tokens[seq] ?? 0) > 0) await this.save(victim, seq, loaded);
          this.slots.delete(seq);
        }
      }
      const slot: Slot = this.slots.get(seq) ?? { threadId, lastUsed: this.now(), busy: 0, guests: [], foreign: false };
      slot.busy++;
      slot.lastUsed = this.now();
      this.slots.set(seq, slot);
      // held and still cached: nothing to do (the engine may have dropped an idle sequence's cells to make room)
      if (held && (tokens[seq] ?? 0) > 0) return { seq, restored: 0 };
      const restored = await this.restore(threadId, seq, loaded);
      if (restored === 0 && !held && (tokens[seq] ?? 0) > 0) {
        // another thread's cells (saved above): freed for this conversation
        await this.deps.engine.clearSequence(CHAT_MODEL_ID, seq).catch((e: Error) => this.deps.logger.warn(`sessions: sequence ${seq} could not be cleared: ${e.message}`));
      }
      return { seq, restored };
    });
  }

  /**
   * Room for `need` more tokens in the shared cache: the least recently used idle threads' states are
   * saved and their sequences freed until it is there, so the engine never drops a live thread's
   * cells unsaved (it frees idle sequences itself when a decode finds no room). `runsOn`: the sequence
   * the request will run on, when a thread may hold it too (the titles' in a context of one sequence):
   * its cells are then no longer that thread's to save. Never throws.
   */
  makeRoom(need: number, runsOn?: number): Promise<void> {
    return this.serial(async () => {
      const loaded = this.deps.loaded();
      if (!loaded || loaded.loadId !== this.loadId) return;
      try {
        const info = await this.deps.engine.contextInfo(CHAT_MODEL_ID);
        if (need > 0) await this.room(info.sequenceTokens, info.contextSize, need, null, loaded);
        // the thread there keeps what it has: saved first while idle, its cells then another's
        const host = runsOn === undefined ? undefined : this.slots.get(runsOn);
        if (host && idle(host) && (info.sequenceTokens[runsOn!] ?? 0) > 0) await this.save(host, runsOn!, loaded);
      } catch (e) {
        this.deps.logger.warn(`sessions: the context could not be read: ${(e as Error).message}`);
      }
      if (runsOn !== undefined) {
        const host = this.slots.get(runsOn);
        if (host) host.foreign = true;
      }
    });
  }

  private async room(tokens: number[], contextSize: number, need: number, keep: string | null, loaded: LoadedChat): Promise<void> {
    let free = contextSize - tokens.reduce((n, t) => n + t, 0);
    const idleSlots = [...this.slots].filter(([seq, s]) => idle(s) && s.threadId !== keep && (tokens[seq] ?? 0) > 0).sort(([, a], [, b]) => a.lastUsed - b.lastUsed);
    for (const [seq, s] of idleSlots) {
      if (free >= need) return;
      await this.save(s, seq, loaded);
      await this.deps.engine.clearSequence(CHAT_MODEL_ID, seq).catch((e: Error) => this.deps.logger.warn(`sessions: sequence ${seq} could not be cleared: ${e.message}`));
      this.slots.delete(seq);
      free += tokens[seq] ?? 0;
      tokens[seq] = 0;
    }
  }

  /** A turn on the thread's sequence (or as a guest on another's) ended. */
  release(threadId: string): void {
    for (const s of this.slots.values()) {
      if (s.threadId === threadId && s.busy > 0) {
        s.busy--;
        s.lastUsed = this.now();
        return;
      }
    }
    for (const s of this.slots.values()) {
      const i = s.guests.indexOf(threadId);
      if (i >= 0) {
        s.guests.splice(i, 1);
        return;
      }
    }
  }

  /**
   * Saves every idle thread's live state (the model is about to unload: a switch, a reload with
   * other settings, the app closing) and forgets the sequences. Never throws.
   */
  saveAll(): Promise<void> {
    return this.serial(async () => {
      const loaded = this.deps.loaded();
      if (!loaded || loaded.loadId !== this.loadId) {
        this.slots = new Map();
        return;
      }
      let tokens: number[] = [];
      try {
        tokens = (await this.deps.engine.contextInfo(CHAT_MODEL_ID)).sequenceTokens;
      } catch (e) {
        this.deps.logger.warn(`sessions: the context could not be read: ${(e as Error).message}`);
        return;
      }
      for (const [seq, s] of this.slots) if (idle(s) && (tokens[seq] ?? 0) > 0) await this.save(s, seq, loaded);
      this.slots = new Map();
      this.loadId = null;
    });
  }

  /** A thread was deleted: its sequence is freed and its saved state deleted. */
  forget(threadId: string): Promise<void> {
    return this.serial(async () => {
      for (const [seq, s] of this.slots) {
        if (s.threadId !== threadId) continue;
        this.slots.delete(seq);
        if (idle(s)) await this.deps.engine.clearSequence(CHAT_MODEL_ID, seq).catch(() => undefined);
      }
      await this.remove(threadId);
    });
  }

  /**
   * Deletes saved states past their age, of threads that no longer exist, with no readable
   * description, and then the oldest until the rest fit the disk budget. Never throws.
   */
  prune(): Promise<void> {
    return this.serial(() => this.pruneNow());
  }

  private async pruneNow(): Promise<void> {
    const { diskBudgetMiB, maxAgeDays } = this.deps.settings();
    let names: string[];
    try {
      names = await fsp.readdir(this.deps.dir);
    } catch {
      return;
    }
    const now = this.now();
    // a save that failed midway (the chain runs one at a time: none is being written now)
    for (const n of names) {
      if (/\.(kv|json)\.tmp$/.test(n) && FILE_ID.test(n.replace(/\.(kv|json)\.tmp$/, ''))) await fsp.rm(path.join(this.deps.dir, n), { force: true }).catch(() => undefined);
    }
    const kept: { threadId: string; meta: Meta; bytes: number }[] = [];
    const ids = new Set(names.filter((n) => n.endsWith('.kv') || n.endsWith('.json')).map((n) => n.replace(/\.(kv|json)$/, '')));
    for (const threadId of ids) {
      const meta = await this.readMeta(threadId);
      const kv = this.files(threadId)?.kv;
      const bytes = kv ? ((await fsp.stat(kv).catch(() => null))?.size ?? 0) : 0;
      const tooOld = meta !== null && now - meta.savedAt > maxAgeDays * 86_400_000;
      const gone = this.deps.exists ? !this.deps.exists(threadId) : false;
      const live = [...this.slots.values()].some((s) => s.threadId === threadId);
      if (meta === null || bytes === 0 || tooOld || (gone && !live)) await this.remove(threadId);
      else kept.push({ threadId, meta, bytes });
    }
    kept.sort((a, b) => a.meta.savedAt - b.meta.savedAt);
    let total = kept.reduce((n, k) => n + k.bytes, 0);
    const budget = diskBudgetMiB * 1024 * 1024;
    for (const k of kept) {
      if (total <= budget) break;
      await this.remove(k.threadId);
      total -= k.bytes;
    }
  }

  private async readMeta(threadId: string): Promise<Meta | null> {
    const f = this.files(threadId);
    if (!f) return null;
    try {
      // a regular file only, as opened (a FIFO would block the read for good), and small
      const bytes = await readRegularFile(f.meta, MAX_META_BYTES);
      if (bytes === null) return null;
      const r = Meta.safeParse(JSON.parse(bytes.toString('utf8')));
      return r.success ? r.data : null;
    } catch {
      return null;
    }
  }

  private async remove(threadId: string): Promise<void> {
    const f = this.files(threadId);
    if (!f) return;
    await Promise.all([f.kv, f.meta].map((p) => fsp.rm(p, { force: true }).catch((e: Error) => this.deps.logger.warn(`sessions: ${p} could not be deleted: ${e.message}`))));
  }

  /** Writes a sequence's state to its thread's files, then keeps the folder in its bounds. */
  private async save(slot: Slot, seq: number, loaded: LoadedChat): Promise<void> {
    const { threadId } = slot;
    const f = this.files(threadId);
    if (!f || slot.foreign || !this.deps.persist(threadId) || this.deps.settings().diskBudgetMiB === 0) return;
    try {
      await fsp.mkdir(this.deps.dir, { recursive: true });
      // the description goes first and is rewritten last: a state whose description is missing or older is never trusted
      await fsp.rm(f.meta, { force: true });
      const r = await this.deps.engine.saveSession(CHAT_MODEL_ID, f.kv, seq);
      const bytes = (await fsp.stat(f.kv)).size;
      const meta: Meta = { fingerprint: loaded.fingerprint, savedAt: this.now(), tokens: r.tokens, bytes };
      await fsp.writeFile(f.meta + '.tmp', JSON.stringify(meta));
      await fsp.rename(f.meta + '.tmp', f.meta);
    } catch (e) {
      this.deps.logger.warn(`sessions: the cache of thread ${threadId} could not be saved: ${(e as Error).message}`);
      await this.remove(threadId);
      return;
    }
    await this.pruneNow();
  }

  /** Restores the thread's saved state into `seq` when it matches this load; tokens restored, 0 when none. */
  private async restore(threadId: string, seq: number, loaded: LoadedChat): Promise<number> {
    const f = this.files(threadId);
    if (!f) return 0;
    const meta = await this.readMeta(threadId);
    if (!meta) {
      await this.remove(threadId); // a state without its description (or none at all)
      return 0;
    }
    if (meta.fingerprint !== loaded.fingerprint) {
      this.deps.logger.info('sessions: a saved cache was made under other settings: deleted', { threadId });
      await this.remove(threadId);
      return 0;
    }
    try {
      const r = await this.deps.engine.restoreSession(CHAT_MODEL_ID, f.kv, seq);
      return r.tokens;
    } catch (e) {
      this.deps.logger.warn(`sessions: the saved cache of thread ${threadId} could not be restored (deleted): ${(e as Error).message}`);
      await this.remove(threadId);
      await this.deps.engine.clearSequence(CHAT_MODEL_ID, seq).catch(() => undefined);
      return 0;
    }
  }
}
