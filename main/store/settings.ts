/**
 * Typed app settings and per-model load settings. Every value is validated with zod on write (bad input throws
 * 'invalid_input') and on read (a corrupt stored value falls back to its default with a logged warning, or
 * keeps what parses where SALVAGE says).
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { ChatDefaults, MAX_MCP_SERVERS, McpServerConfig, ProviderSettings, salvageProviderSettings } from '../params';
import { StoreError } from './errors';
import { decodeJson } from './json';
import type { Logger } from '../logging';
import type { Clock, LoadParams } from './types';
import { ModelsFolderPath, SettingsFields } from '../ipc/contract';
import { ApiServerSettings } from '../ipc/api';
import { BackupSettings } from '../ipc/data';
import { check, idSchema, loadSchema, modelRefSchema, storedLoadSchema } from './validation';

/** The app's chat settings (main/params: the fields, their bounds and Hearth's starting values). */
export const chatDefaultsSchema = ChatDefaults;

/**
 * Every app setting: the ones the user sets (the contract's SettingsFields: theme, guardrail, fit
 * margin, backend pin, the chat's keys, text size and reasoning, the default model) and the store's own.
 * The data folder is not among them: it holds this database, so it is decided before the store
 * opens (--data-dir, else HEARTH_DATA_DIR, else the platform's folder; main/paths.ts).
 */
export const appSettingsSchema = SettingsFields.extend({
  chatDefaults: chatDefaultsSchema.default({}),
  defaultAssistantId: idSchema.default('default'),
  /** The models folder the user moved the models to (library.moveFolder saves it once the files are there); null: <data>/models. */
  modelsFolder: ModelsFolderPath.nullable().default(null),
  /** The local API server's settings (main/ipc/api.ts; main/server/ runs it). */
  apiServer: ApiServerSettings.default({}),
  /** The MCP servers the user configured (main/tools/mcp): their env and header values are kept in the secret store, "" here. */
  mcpServers: z.array(McpServerConfig).max(MAX_MCP_SERVERS).default([]),
  /** The remote providers (main/providers): their API keys are kept in the secret store, never here. */
  providers: ProviderSettings.default({}),
  /** The data folder's backups (main/data/backups.ts): daily or not, how many are kept. */
  backups: BackupSettings.default({}),
  /** Milliseconds between writes of a streaming reply. */
  streamFlushMs: z.number().int().min(0).max(5000).default(250),
}).strict();

export type AppSettings = z.output<typeof appSettingsSchema>;
export type SettingKey = keyof AppSettings;
export const SETTING_KEYS = Object.keys(appSettingsSchema.shape) as SettingKey[];

type Shape = typeof appSettingsSchema.shape;

export const DEFAULT_SETTINGS: AppSettings = appSettingsSchema.parse({});

type Salvage<K extends SettingKey> = (value: unknown) => { value: AppSettings[K]; dropped: string[]; shelved?: string[] } | null;

/**
 * What can be kept of a stored setting that does not parse as a whole, where dropping all of it would
 * lose the user's data or a choice that matters: the providers (each that parses, the others shelved as
 * stored, and allowRemote).
 */
const SALVAGE: { [K in SettingKey]?: Salvage<K> } = { providers: salvageProviderSettings };

export class Settings {
  private readonly stmts;

  constructor(private readonly db: Database.Database, private readonly clock: Clock, private readonly logger: Logger) {
    this.stmts = {
      get: db.prepare('SELECT value FROM settings WHERE key = ?').pluck(),
      all: db.prepare('SELECT key, value FROM settings'),
      put: db.prepare(`INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
        ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
      delete: db.prepare('DELETE FROM settings WHERE key = ?'),
    };
  }

  private schemaFor<K extends SettingKey>(key: K): Shape[K] {
    if (!Object.prototype.hasOwnProperty.call(appSettingsSchema.shape, key)) {
      throw new StoreError('invalid_input', `unknown setting ${String(key)}`);
    }
    return appSettingsSchema.shape[key];
  }

  private decode<K extends SettingKey>(key: K, raw: string | undefined): AppSettings[K] {
    return decodeJson(raw, this.schemaFor(key), DEFAULT_SETTINGS[key], this.logger, { key }, SALVAGE[key] as Salvage<K> | undefined) as AppSettings[K];
  }

  get<K extends SettingKey>(key: K): AppSettings[K] {
    this.schemaFor(key);
    return this.decode(key, this.stmts.get.get(key) as string | undefined);
  }

  getAll(): AppSettings {
    const stored = new Map((this.stmts.all.all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    const out = { ...DEFAULT_SETTINGS } as Record<SettingKey, unknown>;
    for (const key of SETTING_KEYS) out[key] = this.decode(key, stored.get(key));
    return out as AppSettings;
  }

  set<K extends SettingKey>(key: K, value: AppSettings[K]): AppSettings[K] {
    const v = check(this.schemaFor(key), value, `setting ${key}`) as AppSettings[K];
    this.stmts.put.run(key, JSON.stringify(v), this.clock());
    return v;
  }

  /** Validates every given value first; writes all or nothing. */
  update(patch: Partial<AppSettings>): AppSettings {
    const v = check(appSettingsSchema.partial(), patch, 'settings');
    const now = this.clock();
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(v)) if (value !== undefined) this.stmts.put.run(key, JSON.stringify(value), now);
    })();
    return this.getAll();
  }

  reset(key: SettingKey): AppSettings[SettingKey] {
    this.schemaFor(key);
    this.stmts.delete.run(key);
    return DEFAULT_SETTINGS[key];
  }
}

/** Per-model load settings (context size, GPU layers, ...) keyed by model path or id. */
export class ModelSettings {
  private readonly stmts;

  constructor(db: Database.Database, private readonly clock: Clock, private readonly logger: Logger) {
    this.stmts = {
      get: db.prepare('SELECT value FROM model_settings WHERE model = ?').pluck(),
      all: db.prepare('SELECT model, value FROM model_settings ORDER BY model'),
      put: db.prepare(`INSERT INTO model_settings (model, value, updated_at) VALUES (?, ?, ?)
        ON CONFLICT(model) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
      delete: db.prepare('DELETE FROM model_settings WHERE model = ?'),
    };
  }

  private decode(model: string, raw: string | undefined): LoadParams {
    return decodeJson(raw, storedLoadSchema, {}, this.logger, { model });
  }

  get(model: string): LoadParams {
    const m = check(modelRefSchema, model, 'model');
    return this.decode(m, this.stmts.get.get(m) as string | undefined);
  }

  set(model: string, settings: LoadParams): LoadParams {
    const m = check(modelRefSchema, model, 'model');
    const v = check(loadSchema, settings, `load settings for ${m}`);
    this.stmts.put.run(m, JSON.stringify(v), this.clock());
    return v;
  }

  delete(model: string): void {
    this.stmts.delete.run(check(modelRefSchema, model, 'model'));
  }

  list(): { model: string; settings: LoadParams }[] {
    return (this.stmts.all.all() as { model: string; value: string }[]).map((r) => ({ model: r.model, settings: this.decode(r.model, r.value) }));
  }
}
