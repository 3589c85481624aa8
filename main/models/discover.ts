/**
 * Discovery: the GGUF models other apps (LM Studio, Ollama, Jan, GPT4All) already put on this disk,
 * found in the folders each app uses — the folder its settings name first (LM Studio's
 * `downloadsFolder`, `OLLAMA_MODELS`, Jan's `data_folder`, GPT4All's `modelPath`), else its default folders on this OS — so
 * the library can add them by reference instead of copying gigabytes.
 *
 * - Folders are derived per OS (path.win32 or path.posix, and the OS's home and app-data folders)
 *   from a DiscoverEnv, never from the process directly, so tests pass a fake home.
 * - Every file read is bounded (DISCOVERY_LIMITS) and checked with zod; a file that is missing is
 *   simply not there, one that is broken is a `skipped` entry saying why, never a failure of the whole.
 * - Folder walks are bounded in entries and depth; LM Studio's and GPT4All's go through the library's
 *   own walk (listing.ts: links followed once, no loops); Ollama's manifests and Jan's model folders
 *   are read at their fixed depths without following linked folders.
 * - Each model file's header is read with main/gguf (facts.ts), its identity taken by identity.ts,
 *   and the files are grouped by identity: one model, its locations.
 */
import { promises as fsp } from 'fs';
import os from 'os';
import path from 'path';
import ini from 'ini';
import yaml from 'js-yaml';
import { z } from 'zod';
import { GgufHeaderCache } from '../gguf/cache';
import { openForReading } from '../regular-file';
import { GgufError } from '../gguf/types';
import { headerFacts, HeaderFacts } from './facts';
import { FILE_ROLE_LABELS } from '../params/adapters';
import { groupByIdentity, ModelIdentity, modelIdentity } from './identity';
import { walkModels, WalkLimits } from './listing';

import { PEER_APP_NAMES, PEER_APPS, type PeerApp } from '../ipc/models';

export { PEER_APP_NAMES, PEER_APPS, type PeerApp };

/** How much discovery reads at most. */
export const DISCOVERY_LIMITS = {
  /** an app's settings file */
  settingsBytes: 1024 * 1024,
  /** an Ollama manifest */
  manifestBytes: 1024 * 1024,
  /** a Jan model.yml */
  modelYmlBytes: 256 * 1024,
  /** entries visited under one Ollama manifests folder or one Jan models folder */
  entries: 20_000,
  /** layers in one Ollama manifest */
  layers: 1000,
  /** LM Studio's models folder: <publisher>/<repo>/<file>.gguf, with room for deeper copies */
  walk: { entries: 50_000, depth: 4 } satisfies WalkLimits,
  /** GPT4All's folder: flat */
  flatWalk: { entries: 20_000, depth: 0 } satisfies WalkLimits,
  /** model files in all */
  files: 5000,
} as const;

/** Where discovery looks: the OS's conventions and the values that move the apps' folders. */
export interface DiscoverEnv {
  platform: NodeJS.Platform;
  home: string;
  env: { APPDATA?: string; LOCALAPPDATA?: string; XDG_DATA_HOME?: string; XDG_CONFIG_HOME?: string; OLLAMA_MODELS?: string };
  /** the file system's root for system-wide folders (Ollama's Linux service); default "/" */
  root?: string;
  /** joins paths; default the platform's (path.win32 for win32). Tests on another OS give the host's to read a fixture. */
  path?: path.PlatformPath;
}

/** This process's DiscoverEnv. */
export function discoverEnvOf(proc: { platform: NodeJS.Platform; env: NodeJS.ProcessEnv } = process, home = os.homedir()): DiscoverEnv {
  const { APPDATA, LOCALAPPDATA, XDG_DATA_HOME, XDG_CONFIG_HOME, OLLAMA_MODELS } = proc.env;
  return { platform: proc.platform, home, env: { APPDATA, LOCALAPPDATA, XDG_DATA_HOME, XDG_CONFIG_HOME, OLLAMA_MODELS } };
}

export type FolderOrigin = 'settings' | 'environment' | 'default';

/** Where an app keeps its models, before its settings are read. */
export interface PeerFolders {
  app: PeerApp;
  /** the app's settings files that may name another folder, in the order read */
  settingsFiles: string[];
  /** the folder the environment names (OLLAMA_MODELS) */
  environment: string | null;
  defaults: string[];
}

/** Each app's settings files and default folders on `e.platform` (peers' documented layouts). */
export function peerFolders(e: DiscoverEnv): PeerFolders[] {
  const p = e.path ?? (e.platform === 'win32' ? path.win32 : path.posix);
  const { home } = e;
  const appData = e.env.APPDATA || p.join(home, 'AppData', 'Roaming');
  const localAppData = e.env.LOCALAPPDATA || p.join(home, 'AppData', 'Local');
  const xdgData = e.env.XDG_DATA_HOME || p.join(home, '.local', 'share');
  /** an app's per-user data folder: Application Support, %APPDATA% (roaming) or XDG data */
  const userData = (...name: string[]) =>
    e.platform === 'darwin' ? p.join(home, 'Library', 'Application Support', ...name) : e.platform === 'win32' ? p.join(appData, ...name) : p.join(xdgData, ...name);
  const jan = userData('Jan');
  // GPT4All keeps Qt's INI settings (QSettings::IniFormat, organisation nomic.ai): %APPDATA% on
  // Windows, XDG_CONFIG_HOME or ~/.config elsewhere (macOS too)
  const gpt4allIni = e.platform === 'win32' ? p.join(appData, 'nomic.ai', 'GPT4All.ini') : p.join(e.env.XDG_CONFIG_HOME || p.join(home, '.config'), 'nomic.ai', 'GPT4All.ini');
  return [
    {
      app: 'lmstudio',
      settingsFiles: [p.join(home, '.lmstudio', 'settings.json'), p.join(home, '.cache', 'lm-studio', 'settings.json')],
      environment: null,
      defaults: [p.join(home, '.lmstudio', 'models'), p.join(home, '.cache', 'lm-studio', 'models')],
    },
    {
      app: 'ollama',
      settingsFiles: [],
      environment: e.env.OLLAMA_MODELS || null,
      defaults: [
        p.join(home, '.ollama', 'models'),
        ...(e.platform === 'linux' ? [p.join(e.root ?? '/', 'usr', 'share', 'ollama', '.ollama', 'models')] : []),
      ],
    },
    // Jan's settings.json sits in its app folder, beside the default data folder
    { app: 'jan', settingsFiles: [p.join(jan, 'settings.json')], environment: null, defaults: [p.join(jan, 'data')] },
    {
      app: 'gpt4all',
      settingsFiles: [gpt4allIni],
      environment: null,
      defaults: [e.platform === 'win32' ? p.join(localAppData, 'nomic.ai', 'GPT4All') : userData('nomic.ai', 'GPT4All')],
    },
  ];
}

export interface Searched {
  app: PeerApp;
  folder: string;
  from: FolderOrigin;
  /** the settings file or variable that named it */
  source: string | null;
  exists: boolean;
}

/** Something discovery passed over, and why (one line). */
export interface Skipped {
  app: PeerApp;
  path: string;
  reason: string;
}

/** One place a model is found. */
export interface ModelLocation {
  app: PeerApp;
  path: string;
  /** the model's name in that app (Ollama's `name:tag`, LM Studio's `publisher/repo/file`, Jan's model name) */
  name: string;
  /** its vision projector file, when the app pairs one with it */
  projector: string | null;
}

export interface DiscoveredModel {
  /** the identity key (identity.ts) */
  id: string;
  /** the first location's name */
  name: string;
  size: number;
  sha256: string | null;
  facts: HeaderFacts;
  locations: ModelLocation[];
}

export interface Discovery {
  models: DiscoveredModel[];
  skipped: Skipped[];
  searched: Searched[];
}

/** A file or entry passed over; `reason` says why. */
class Skip extends Error {}

/** A small file's text; null when it does not exist. Throws Skip when it cannot be read, is not a file, or is too large. */
async function readSmallFile(file: string, maxBytes: number): Promise<string | null> {
  let fh: fsp.FileHandle;
  try {
    // a scan of other apps' folders: a file another program holds a lease on is passed over, not waited for
    fh = await openForReading(file, { waitMs: 0 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new Skip(`cannot be read (${code ?? (e as Error).message})`);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Skip('is not a regular file');
    if (st.size > maxBytes) throw new Skip(`is ${st.size} bytes, more than the ${maxBytes} read`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const { bytesRead } = await fh.read(buf, got, st.size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got).toString('utf8');
  } catch (e) {
    throw e instanceof Skip ? e : new Skip(`cannot be read (${(e as Error).message})`);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** `value` checked against `schema`; Skip naming the first problem. */
function checked<S extends z.ZodTypeAny>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new Skip(`does not have the expected shape: ${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Skip(`is not valid JSON (${(e as Error).message})`);
  }
}

const folderSetting = z.string().min(1).max(4096);
/** LM Studio's settings.json: the folder it downloads models to */
const LmStudioSettings = z.object({ downloadsFolder: folderSetting.optional() }).passthrough();
/** Jan's settings.json: its data folder */
const JanSettings = z.object({ data_folder: folderSetting.optional() }).passthrough();
/** GPT4All's GPT4All.ini: its [General] modelPath (modelPaths before 2.4.11) */
const Gpt4AllSettings = z
  .object({ General: z.object({ modelPath: folderSetting.optional(), modelPaths: folderSetting.optional() }).passthrough().optional() })
  .passthrough()
  .transform((s) => ({ modelPath: s.General?.modelPath ?? s.General?.modelPaths }));

function parseIni(text: string): unknown {
  try {
    return ini.parse(text);
  } catch (e) {
    throw new Skip(`is not a readable INI file (${(e as Error).message})`);
  }
}

/** The settings file of an app that names its models folder: how to read it and the key that does. */
const SETTING_OF: Partial<Record<PeerApp, { schema: z.ZodType<Record<string, unknown>, z.ZodTypeDef, unknown>; parse(text: string): unknown; key: string }>> = {
  lmstudio: { schema: LmStudioSettings, parse: parseJson, key: 'downloadsFolder' },
  jan: { schema: JanSettings, parse: parseJson, key: 'data_folder' },
  gpt4all: { schema: Gpt4AllSettings, parse: parseIni, key: 'modelPath' },
};

/** Where Ollama names its blobs: `sha256:<hex>`, written `sha256-<hex>` on disk. */
const OllamaLayer = z.object({
  mediaType: z.string().max(256),
  digest: z.string().regex(/^sha256[:-][0-9a-f]{64}$/, 'is not a sha256 digest'),
  size: z.number().int().nonnegative(),
});
const OllamaManifest = z.object({ layers: z.array(OllamaLayer).max(DISCOVERY_LIMITS.layers) }).passthrough();
const OLLAMA_MODEL = 'application/vnd.ollama.image.model';
const OLLAMA_PROJECTOR = 'application/vnd.ollama.image.projector';
const OLLAMA_REGISTRY = 'registry.ollama.ai';

/** Jan's llamacpp/models/<id>/model.yml */
const JanModelYml = z
  .object({
    model_path: z.string().min(1).max(4096),
    mmproj_path: z.string().min(1).max(4096).optional(),
    name: z.string().min(1).max(512).optional(),
    size_bytes: z.number().nonnegative().optional(),
    model_sha256: z.string().max(128).optional(),
  })
  .passthrough();

interface Found extends ModelLocation {
  identity: ModelIdentity;
  facts: HeaderFacts;
}

/** One discovery run: what it found and skipped so far. */
class Run {
  readonly found: Found[] = [];
  readonly skipped: Skipped[] = [];
  readonly searched: Searched[] = [];
  private readonly headers = new GgufHeaderCache({ maxEntries: 8, maxBytes: 128 * 1024 * 1024 });
  private files = 0;

  constructor(readonly p: path.PlatformPath) {}

  skip(app: PeerApp, file: string, e: unknown): void {
    const reason = e instanceof Skip ? e.message : e instanceof GgufError ? `not a usable GGUF file (${e.code}): ${e.detail}` : `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
    this.skipped.push({ app, path: file, reason });
  }

  /** The header facts of a GGUF file; Skip/GgufError when it is not one. */
  facts(file: string): Promise<HeaderFacts> {
    return this.headers.read(file).then(headerFacts);
  }

  /** Records a model file; false (and a skipped entry) when it is not a usable model. */
  async add(loc: ModelLocation, sha256: string | null = null): Promise<boolean> {
    if (this.files >= DISCOVERY_LIMITS.files) {
      this.skip(loc.app, loc.path, new Skip(`not read: discovery stops after ${DISCOVERY_LIMITS.files} model files`));
      return false;
    }
    this.files++;
    try {
      const facts = await this.facts(loc.path);
      if (facts.role !== 'model') throw new Skip(`is a ${FILE_ROLE_LABELS[facts.role]}, not a model`);
      this.found.push({ ...loc, facts, identity: await modelIdentity(loc.path, sha256) });
      return true;
    } catch (e) {
      this.skip(loc.app, loc.path, e);
      return false;
    }
  }
}

/** The folders an app uses: the one its settings or environment name, else its defaults. */
async function foldersOf(run: Run, f: PeerFolders): Promise<{ folder: string; from: FolderOrigin; source: string | null }[]> {
  if (f.environment) return [{ folder: f.environment, from: 'environment', source: 'OLLAMA_MODELS' }];
  const setting = SETTING_OF[f.app];
  if (setting) {
    for (const file of f.settingsFiles) {
      try {
        const text = await readSmallFile(file, DISCOVERY_LIMITS.settingsBytes);
        if (text === null) continue;
        const folder = checked(setting.schema, setting.parse(text))[setting.key] as string | undefined;
        if (folder) return [{ folder: run.p.resolve(run.p.dirname(file), folder), from: 'settings', source: file }];
      } catch (e) {
        run.skip(f.app, file, e); // a broken settings file: the defaults apply
      }
    }
  }
  return f.defaults.map((folder) => ({ folder, from: 'default', source: null }));
}

async function isFolder(dir: string): Promise<boolean> {
  return (await fsp.stat(dir).catch(() => undefined))?.isDirectory() ?? false;
}

/** The entries of a folder (not following it when it is a link), at most `budget.left` counted over the run. */
async function entriesOf(dir: string, budget: { left: number }): Promise<import('fs').Dirent[]> {
  const out: import('fs').Dirent[] = [];
  let handle: import('fs').Dir;
  try {
    handle = await fsp.opendir(dir, { bufferSize: 256 });
  } catch {
    return out;
  }
  try {
    for await (const e of handle) {
      if (budget.left-- <= 0) throw new Skip(`not read past ${DISCOVERY_LIMITS.entries} entries`);
      if (!e.name.startsWith('.')) out.push(e);
    }
  } catch (e) {
    if (e instanceof Skip) throw e;
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Ollama: manifests/<registry>/<namespace>/<model>/<tag> name blobs/sha256-<hex>. */
async function scanOllama(run: Run, folder: string): Promise<void> {
  const p = run.p;
  const budget = { left: DISCOVERY_LIMITS.entries };
  const manifests = p.join(folder, 'manifests');
  const walk = async (dir: string, parts: string[]): Promise<void> => {
    for (const e of await entriesOf(dir, budget)) {
      const at = p.join(dir, e.name);
      if (parts.length < 3) {
        if (e.isDirectory()) await walk(at, [...parts, e.name]);
      } else if (e.isFile()) await ollamaManifest(run, folder, at, [...parts, e.name]);
    }
  };
  try {
    await walk(manifests, []);
  } catch (e) {
    run.skip('ollama', manifests, e);
  }
}

/** Ollama's name for a manifest: `model:tag` in its own library, else with the namespace (and a foreign registry). */
function ollamaName([registry, namespace, model, tag]: string[]): string {
  if (registry !== OLLAMA_REGISTRY) return `${registry}/${namespace}/${model}:${tag}`;
  return namespace === 'library' ? `${model}:${tag}` : `${namespace}/${model}:${tag}`;
}

async function ollamaManifest(run: Run, folder: string, file: string, parts: string[]): Promise<void> {
  try {
    const text = await readSmallFile(file, DISCOVERY_LIMITS.manifestBytes);
    if (text === null) return;
    const m = checked(OllamaManifest, parseJson(text));
    const model = m.layers.find((l) => l.mediaType === OLLAMA_MODEL);
    if (!model) throw new Skip(`has no layer of type ${OLLAMA_MODEL}`);
    const blob = await ollamaBlob(run, folder, model);
    const projectorLayer = m.layers.find((l) => l.mediaType === OLLAMA_PROJECTOR);
    const projector = projectorLayer ? await ollamaBlob(run, folder, projectorLayer).catch(() => null) : null;
    await run.add({ app: 'ollama', path: blob, name: ollamaName(parts), projector }, model.digest.slice('sha256:'.length));
  } catch (e) {
    run.skip('ollama', file, e);
  }
}

/** The blob file of a layer (sha256-<hex>, or sha256:<hex> as older versions wrote it), its size as the manifest says. */
async function ollamaBlob(run: Run, folder: string, layer: z.output<typeof OllamaLayer>): Promise<string> {
  const hex = layer.digest.slice('sha256:'.length);
  for (const name of [`sha256-${hex}`, `sha256:${hex}`]) {
    const file = run.p.join(folder, 'blobs', name);
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) continue;
    if (!st.isFile()) throw new Skip(`its blob ${file} is not a regular file`);
    if (st.size !== layer.size) throw new Skip(`its blob ${file} is ${st.size} bytes, the manifest says ${layer.size}`);
    return file;
  }
  throw new Skip(`its blob sha256-${hex} is missing from ${run.p.join(folder, 'blobs')}`);
}

/** LM Studio (<publisher>/<repo>/<file>.gguf) and GPT4All (flat): the library's walk; projectors paired by folder. */
async function scanWalked(run: Run, app: PeerApp, folder: string, limits: WalkLimits): Promise<void> {
  const p = run.p;
  const listing = await walkModels(folder, limits, { modelsOnly: false }); // every .gguf: each is checked below, a bad one skipped with why
  if (listing.truncated && !(app === 'gpt4all' && listing.truncated.reason === 'depth')) {
    const t = listing.truncated;
    run.skip(app, t.folder, new Skip(t.reason === 'entries' ? `not read past ${t.limit} entries` : `more than ${t.limit} folders deep: not read`));
  }
  const projectors = new Map<string, string>();
  const models: ModelLocation[] = [];
  for (const m of listing.models) {
    const facts = await run.facts(m.path).catch(() => null);
    if (facts?.projector) projectors.set(p.dirname(m.path), m.path);
    else models.push({ app, path: m.path, name: p.relative(folder, m.path).replace(/\.gguf$/i, '').split(p.sep).join('/'), projector: null });
  }
  for (const m of models) await run.add({ ...m, projector: projectors.get(p.dirname(m.path)) ?? null });
}

/** Jan: <data>/llamacpp/models/<id>/model.yml names the file (relative to the data folder, or absolute). */
async function scanJan(run: Run, data: string): Promise<void> {
  const p = run.p;
  const models = p.join(data, 'llamacpp', 'models');
  let dirs: import('fs').Dirent[];
  try {
    dirs = await entriesOf(models, { left: DISCOVERY_LIMITS.entries });
  } catch (e) {
    return run.skip('jan', models, e);
  }
  for (const d of dirs) {
    if (!d.isDirectory()) continue;
    const yml = p.join(models, d.name, 'model.yml');
    try {
      const text = await readSmallFile(yml, DISCOVERY_LIMITS.modelYmlBytes);
      if (text === null) continue;
      let doc: unknown;
      try {
        doc = yaml.load(text, { schema: yaml.JSON_SCHEMA, json: true });
      } catch (e) {
        throw new Skip(`is not valid YAML (${(e as Error).message.split('\n')[0]})`);
      }
      const m = checked(JanModelYml, doc);
      const at = (f: string) => (p.isAbsolute(f) ? f : p.join(data, f));
      const sha = m.model_sha256?.toLowerCase() ?? null;
      await run.add({ app: 'jan', path: at(m.model_path), name: m.name ?? d.name, projector: m.mmproj_path ? at(m.mmproj_path) : null }, sha);
    } catch (e) {
      run.skip('jan', yml, e);
    }
  }
}

/**
 * The models LM Studio, Ollama, Jan and GPT4All keep on this disk (see the file's comment), grouped
 * by identity. Never throws for what it finds on disk: what it cannot use is in `skipped`.
 */
export async function discover(e: DiscoverEnv, apps: readonly PeerApp[] = PEER_APPS): Promise<Discovery> {
  const run = new Run(e.path ?? (e.platform === 'win32' ? path.win32 : path.posix));
  for (const f of peerFolders(e).filter((x) => apps.includes(x.app))) {
    for (const { folder, from, source } of await foldersOf(run, f)) {
      const exists = await isFolder(folder);
      run.searched.push({ app: f.app, folder, from, source, exists });
      if (!exists) continue;
      if (f.app === 'ollama') await scanOllama(run, folder);
      else if (f.app === 'jan') await scanJan(run, folder);
      else await scanWalked(run, f.app, folder, f.app === 'lmstudio' ? DISCOVERY_LIMITS.walk : DISCOVERY_LIMITS.flatWalk);
    }
  }
  const models = groupByIdentity(run.found).map((g): DiscoveredModel => {
    const first = g[0];
    return {
      id: first.identity.key,
      name: first.name,
      size: first.identity.size,
      sha256: g.find((x) => x.identity.sha256)?.identity.sha256 ?? null,
      facts: first.facts,
      locations: g.map(({ app, path: file, name, projector }) => ({ app, path: file, name, projector })),
    };
  });
  return { models, skipped: run.skipped, searched: run.searched };
}
