/**
 * Model references: model files the library lists where they are (another app's folder, a file the
 * user added by reference) instead of copying them into the models folder. Keyed by the file's
 * absolute path; the library (main/models/library.ts) checks the file itself when it is named.
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { Logger } from '../logging';
import type { Clock } from './types';
import { check, LIMITS, modelRefSchema } from './validation';

export const modelRefInput = z
  .object({
    path: modelRefSchema.refine((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\'), 'must be an absolute path'),
    name: z.string().min(1).max(LIMITS.nameChars),
    /** who keeps the file (the library's sources: main/models/library.ts) */
    source: z.string().regex(/^[a-z0-9]{1,32}$/, 'malformed source'),
  })
  .strict();
export type ModelRefInput = z.input<typeof modelRefInput>;
export interface ModelRef extends z.output<typeof modelRefInput> {
  addedAt: number;
}

const row = z.object({ path: z.string(), name: z.string(), source: z.string(), added_at: z.number() });

export class ModelRefs {
  private readonly stmts;

  constructor(db: Database.Database, private readonly clock: Clock, private readonly logger: Logger) {
    this.stmts = {
      get: db.prepare('SELECT path, name, source, added_at FROM model_refs WHERE path = ?'),
      all: db.prepare('SELECT path, name, source, added_at FROM model_refs ORDER BY name, path'),
      put: db.prepare(`INSERT INTO model_refs (path, name, source, added_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(path) DO UPDATE SET name = excluded.name, source = excluded.source`),
      delete: db.prepare('DELETE FROM model_refs WHERE path = ?'),
    };
  }

  /** A stored row as a ModelRef; null (with a warning) for one this version cannot read. */
  private decode(raw: unknown): ModelRef | null {
    const r = row.safeParse(raw);
    const v = r.success ? modelRefInput.safeParse({ path: r.data.path, name: r.data.name, source: r.data.source }) : undefined;
    if (!r.success || !v?.success) {
      this.logger.warn('store: a model reference this version cannot read was left out', { path: (raw as { path?: unknown })?.path });
      return null;
    }
    return { ...v.data, addedAt: r.data.added_at };
  }

  /** Adds (or renames) the reference to a file. */
  add(input: ModelRefInput): ModelRef {
    const v = check(modelRefInput, input, 'model reference');
    this.stmts.put.run(v.path, v.name, v.source, this.clock());
    return this.get(v.path)!;
  }

  get(path: string): ModelRef | null {
    const raw = this.stmts.get.get(path);
    return raw === undefined ? null : this.decode(raw);
  }

  has(path: string): boolean {
    return this.get(path) !== null;
  }

  /** Removes the reference (the file stays where it is); false when there was none. */
  remove(path: string): boolean {
    return this.stmts.delete.run(path).changes > 0;
  }

  list(): ModelRef[] {
    return this.stmts.all.all().flatMap((r) => this.decode(r) ?? []);
  }
}
