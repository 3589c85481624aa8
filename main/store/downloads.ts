/**
 * Model downloads kept across restarts (main/models/downloads.ts drives them). A row holds what to
 * fetch, where it goes and its state; the bytes reached are the `.part` file's size on disk, not a
 * column, so progress costs no writes. A finished or cancelled download's row is deleted.
 */
import { randomUUID } from 'crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { Logger } from '../logging';
import { StoreError } from './errors';
import type { Clock } from './types';
import { check, idSchema, LIMITS } from './validation';

export const DOWNLOAD_STATES = ['queued', 'downloading', 'paused', 'failed'] as const;
export type DownloadState = (typeof DOWNLOAD_STATES)[number];

export const downloadErrorSchema = z.object({ code: z.string().min(1).max(64), message: z.string().max(LIMITS.errorChars) }).strict();
export type DownloadErrorInfo = z.output<typeof downloadErrorSchema>;

export const newDownloadSchema = z.object({
  repo: z.string().min(1).max(200),
  revision: z.string().min(1).max(200),
  file: z.string().min(1).max(1000),
  /** absolute path of the finished file (its `.part` is next to it) */
  target: z.string().min(1).max(LIMITS.modelRefChars),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
}).strict();
export type NewDownload = z.input<typeof newDownloadSchema>;

export interface DownloadRecord extends z.output<typeof newDownloadSchema> {
  id: string;
  state: DownloadState;
  error: DownloadErrorInfo | null;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string; repo: string; revision: string; file: string; target: string; size: number; sha256: string;
  state: string; error: string | null; created_at: number; updated_at: number;
}

const rowSchema = newDownloadSchema.extend({
  id: idSchema,
  state: z.enum(DOWNLOAD_STATES),
  error: downloadErrorSchema.nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});

export class Downloads {
  private readonly stmts;

  constructor(db: Database.Database, private readonly clock: Clock, private readonly logger: Logger) {
    this.stmts = {
      insert: db.prepare(`INSERT INTO downloads (id, repo, revision, file, target, size, sha256, state, error, created_at, updated_at)
        VALUES (@id, @repo, @revision, @file, @target, @size, @sha256, 'queued', NULL, @now, @now)`),
      get: db.prepare('SELECT * FROM downloads WHERE id = ?'),
      all: db.prepare('SELECT * FROM downloads ORDER BY seq'),
      setState: db.prepare('UPDATE downloads SET state = ?, error = ?, updated_at = ? WHERE id = ?'),
      setRevision: db.prepare('UPDATE downloads SET revision = ?, updated_at = ? WHERE id = ?'),
      delete: db.prepare('DELETE FROM downloads WHERE id = ?'),
    };
  }

  private decode(r: Row): DownloadRecord | null {
    let error: unknown = null;
    try {
      error = r.error === null ? null : JSON.parse(r.error);
    } catch { /* reported below as an invalid row */ }
    const parsed = rowSchema.safeParse({
      id: r.id, repo: r.repo, revision: r.revision, file: r.file, target: r.target, size: r.size, sha256: r.sha256,
      state: r.state, error, createdAt: r.created_at, updatedAt: r.updated_at,
    });
    if (parsed.success) return parsed.data;
    this.logger.warn('store: a download row that does not parse was skipped', { id: r.id, issue: parsed.error.issues[0]?.message });
    return null;
  }

  add(input: NewDownload): DownloadRecord {
    const v = check(newDownloadSchema, input, 'download');
    const id = randomUUID();
    this.stmts.insert.run({ ...v, id, now: this.clock() });
    return this.get(id)!;
  }

  get(id: string): DownloadRecord | null {
    const r = this.stmts.get.get(id) as Row | undefined;
    return r ? this.decode(r) : null;
  }

  list(): DownloadRecord[] {
    return (this.stmts.all.all() as Row[]).map((r) => this.decode(r)).filter((r): r is DownloadRecord => r !== null);
  }

  setState(id: string, state: DownloadState, error: DownloadErrorInfo | null = null): void {
    const s = check(z.enum(DOWNLOAD_STATES), state, 'download state');
    const e = error === null ? null : JSON.stringify(check(downloadErrorSchema, error, 'download error'));
    const changed = this.stmts.setState.run(s, e, this.clock(), id).changes;
    if (changed === 0) throw new StoreError('not_found', `no download ${id}`);
  }

  /** Pins a download to the commit its revision resolved to (the hub's X-Repo-Commit). */
  setRevision(id: string, revision: string): void {
    const r = check(newDownloadSchema.shape.revision, revision, 'download revision');
    const changed = this.stmts.setRevision.run(r, this.clock(), id).changes;
    if (changed === 0) throw new StoreError('not_found', `no download ${id}`);
  }

  delete(id: string): void {
    this.stmts.delete.run(id);
  }
}
