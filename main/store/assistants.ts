/** Assistants repository: name, avatar, instructions, default sampling, default model and the tools its chats are offered. */
import { randomUUID } from 'crypto';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { StoreError } from './errors';
import { decodeJson } from './json';
import type { Logger } from '../logging';
import { AssistantTools } from '../params';
import type { Clock, SamplingParams } from './types';
import { check, checkId, instructionsSchema, LIMITS, modelRefSchema, samplingSchema } from './validation';

export const DEFAULT_ASSISTANT_ID = 'default';

export interface Assistant {
  id: string;
  name: string;
  /** An emoji, or a reference to an image. */
  avatar: string | null;
  description: string;
  instructions: string;
  sampling: SamplingParams;
  model: string | null;
  /** the tools its chats are offered; null: every enabled one */
  tools: AssistantTools | null;
  createdAt: number;
  updatedAt: number;
}

export type NewAssistant = Partial<Pick<Assistant, 'avatar' | 'description' | 'instructions' | 'sampling' | 'model' | 'tools'>> & { name: string };
export type AssistantPatch = Partial<Pick<Assistant, 'name' | 'avatar' | 'description' | 'instructions' | 'sampling' | 'model' | 'tools'>>;

const fields = {
  name: z.string().trim().min(1).max(LIMITS.nameChars),
  avatar: z.string().max(LIMITS.modelRefChars).nullable(),
  description: z.string().max(10_000),
  instructions: instructionsSchema,
  sampling: samplingSchema,
  model: modelRefSchema.nullable(),
  tools: AssistantTools.nullable(),
};
export const newAssistantSchema = z.object(fields).partial().required({ name: true }).strict();
export const assistantPatchSchema = z.object(fields).partial().strict();

interface AssistantRow {
  id: string; name: string; avatar: string | null; description: string; instructions: string; sampling: string;
  model: string | null; tools: string | null; created_at: number; updated_at: number;
}
const COLS = 'id, name, avatar, description, instructions, sampling, model, tools, created_at, updated_at';

export class Assistants {
  private readonly stmts;

  constructor(private readonly db: Database.Database, private readonly clock: Clock, private readonly logger: Logger) {
    this.stmts = {
      get: db.prepare(`SELECT ${COLS} FROM assistants WHERE id = ?`),
      list: db.prepare(`SELECT ${COLS} FROM assistants ORDER BY id = '${DEFAULT_ASSISTANT_ID}' DESC, created_at, seq`),
      insert: db.prepare(`INSERT INTO assistants (id, name, avatar, description, instructions, sampling, model, tools, created_at, updated_at)
        VALUES (@id, @name, @avatar, @description, @instructions, @sampling, @model, @tools, @created_at, @updated_at)`),
      delete: db.prepare('DELETE FROM assistants WHERE id = ?'),
      count: db.prepare('SELECT count(*) FROM assistants').pluck(),
    };
  }

  private toAssistant(r: AssistantRow): Assistant {
    return {
      id: r.id, name: r.name, avatar: r.avatar, description: r.description, instructions: r.instructions,
      sampling: decodeJson(r.sampling, samplingSchema, {}, this.logger, { where: `assistant ${r.id} sampling` }),
      model: r.model,
      tools: r.tools === null ? null : decodeJson(r.tools, AssistantTools.nullable(), null, this.logger, { where: `assistant ${r.id} tools` }),
      createdAt: r.created_at, updatedAt: r.updated_at,
    };
  }

  /** Creates the default assistant on first run. Returns true when it was created. */
  ensureDefault(): boolean {
    if (this.stmts.get.get(DEFAULT_ASSISTANT_ID)) return false;
    const now = this.clock();
    this.insertRecord({
      id: DEFAULT_ASSISTANT_ID, name: 'Hearth', avatar: '🔥', description: 'A helpful general assistant',
      instructions: 'You are a helpful assistant.', sampling: {}, model: null, tools: null, createdAt: now, updatedAt: now,
    });
    return true;
  }

  list(): Assistant[] {
    return (this.stmts.list.all() as AssistantRow[]).map((r) => this.toAssistant(r));
  }

  get(id: string): Assistant {
    checkId(id, 'assistant id');
    const r = this.stmts.get.get(id) as AssistantRow | undefined;
    if (!r) throw new StoreError('not_found', `assistant ${id} not found`);
    return this.toAssistant(r);
  }

  exists(id: string): boolean {
    return this.stmts.get.get(id) !== undefined;
  }

  create(input: NewAssistant): Assistant {
    const v = check(newAssistantSchema, input, 'new assistant');
    const now = this.clock();
    return this.insertRecord({
      id: randomUUID(), name: v.name, avatar: v.avatar ?? null, description: v.description ?? '',
      instructions: v.instructions ?? '', sampling: v.sampling ?? {}, model: v.model ?? null, tools: v.tools ?? null, createdAt: now, updatedAt: now,
    });
  }

  /** Inserts a complete, already validated record (import). */
  insertRecord(a: Assistant): Assistant {
    this.stmts.insert.run({
      id: a.id, name: a.name, avatar: a.avatar, description: a.description, instructions: a.instructions,
      sampling: JSON.stringify(a.sampling), model: a.model, tools: a.tools ? JSON.stringify(a.tools) : null, created_at: a.createdAt, updated_at: a.updatedAt,
    });
    return this.get(a.id);
  }

  update(id: string, patch: AssistantPatch): Assistant {
    const current = this.get(id);
    const v = check(assistantPatchSchema, patch, 'assistant patch');
    const next = { ...current, ...v, updatedAt: this.clock() };
    this.db.prepare(`UPDATE assistants SET name = @name, avatar = @avatar, description = @description,
      instructions = @instructions, sampling = @sampling, model = @model, tools = @tools, updated_at = @updated_at WHERE id = @id`).run({
      id, name: next.name, avatar: next.avatar, description: next.description, instructions: next.instructions,
      sampling: JSON.stringify(next.sampling), model: next.model, tools: next.tools ? JSON.stringify(next.tools) : null, updated_at: next.updatedAt,
    });
    return this.get(id);
  }

  /** Deletes an assistant; its threads keep their messages and lose the link. The default one cannot be deleted. */
  delete(id: string): void {
    checkId(id, 'assistant id');
    if (id === DEFAULT_ASSISTANT_ID) throw new StoreError('invalid_input', 'the default assistant cannot be deleted');
    if (this.stmts.delete.run(id).changes === 0) throw new StoreError('not_found', `assistant ${id} not found`);
  }
}
