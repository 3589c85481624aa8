/** Where Hearth keeps its files: one data folder for the app, browser mode and every CLI command. */
import os from 'os';
import path from 'path';
import fs from 'fs';
import { z } from 'zod';
import { makeDirs } from './dirs';
import { DATABASE_FILE } from './database-files';

/** The platform's user-data folder for an app named Hearth (what Electron's app.getPath('userData') gives). */
export function defaultDataDir(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Hearth');
  if (platform === 'win32') return path.join(env.APPDATA || path.join(home, 'AppData', 'Roaming'), 'Hearth');
  return path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'Hearth');
}

/** The value of `--data-dir DIR` or `--data-dir=DIR` among command-line arguments (the desktop app's; the CLI parses its own). */
export function dataDirFlag(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--data-dir') return argv[i + 1] || undefined;
    if (argv[i].startsWith('--data-dir=')) return argv[i].slice('--data-dir='.length) || undefined;
  }
  return undefined;
}

/** The pointer a data folder keeps once it was moved (main/data/move.ts): where the data went. */
export const MOVED_TO_FILE = 'moved-to.json';
const MovedTo = z.object({ to: z.string().min(1).max(4096) }).strict();
/** How many pointers resolveDataDir follows (a folder moved twice leaves two). */
const MAX_HOPS = 8;

/** The folder a moved-to.json's text points to: an absolute path for `p`'s platform, else null. */
export function parseMovedTo(text: string, p: Pick<path.PlatformPath, 'isAbsolute' | 'normalize'> = path): string | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const r = MovedTo.safeParse(json);
  return r.success && p.isAbsolute(r.data.to) ? p.normalize(r.data.to) : null;
}

/** Writes `<from>/moved-to.json` pointing to `to` (a temporary file renamed into place). */
export function writeMovedTo(from: string, to: string): void {
  const file = path.join(from, MOVED_TO_FILE);
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(MovedTo.parse({ to }), null, 2) + '\n');
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * A data folder's pointer names a folder that is not there (a drive not connected): starting afresh in
 * the old folder would strand what is written then, so Hearth does not start; the message says what to do.
 */
export class MovedAwayError extends Error {
  constructor(readonly pointer: string, readonly to: string) {
    super(`the data folder was moved to ${to}, which is not there: connect it, or delete ${pointer} to start afresh here`);
    this.name = 'MovedAwayError';
  }
}

/**
 * Where `dir`'s data is: `dir`, or the folder its moved-to.json points to (and on, a few hops). A
 * pointer that does not parse, or one leading back, is reported to `warn` and the folder holding it
 * used; one to a folder that is not there throws MovedAwayError.
 */
export function followMovedTo(dir: string, warn: (message: string) => void): string {
  const seen = new Set([dir]);
  for (let i = 0; i < MAX_HOPS; i++) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, MOVED_TO_FILE), 'utf8');
    } catch {
      return dir;
    }
    const to = parseMovedTo(text);
    if (to === null) {
      warn(`${path.join(dir, MOVED_TO_FILE)} does not name a folder: using ${dir}`);
      return dir;
    }
    let isDir = false;
    try {
      isDir = fs.statSync(to).isDirectory();
    } catch {
      // missing
    }
    if (!isDir) throw new MovedAwayError(path.join(dir, MOVED_TO_FILE), to);
    if (seen.has(to)) {
      warn(`the data folder was moved to ${to}, which points back: using ${dir}`);
      return dir;
    }
    seen.add(to);
    dir = to;
  }
  return dir;
}

/**
 * --data-dir wins over HEARTH_DATA_DIR, which wins over the platform default; a folder that was moved
 * (Data → Move) leads to where it went (MovedAwayError when that is not there).
 */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`)): string {
  const dir = flag || env.HEARTH_DATA_DIR || defaultDataDir(process.platform, env);
  return followMovedTo(path.resolve(dir), warn);
}

export interface DataPaths {
  root: string;
  models: string;
  database: string;
  logs: string;
  sessions: string;
  /** the images the user attached to messages, each named by its hash (main/chat/images.ts) */
  images: string;
  /** the documents the user attached to chats, each named by its hash (main/docs/files.ts) */
  documents: string;
}

export function dataPaths(root: string): DataPaths {
  return {
    root,
    models: path.join(root, 'models'),
    database: path.join(root, DATABASE_FILE),
    logs: path.join(root, 'logs'),
    sessions: path.join(root, 'sessions'),
    images: path.join(root, 'images'),
    documents: path.join(root, 'documents'),
  };
}

/**
 * The models folder in use: the one the user moved the models to (the store's modelsFolder setting,
 * saved by library.moveFolder), else <data>/models. The app, browser mode and every CLI command ask this.
 */
export function modelsFolderOf(paths: Pick<DataPaths, 'models'>, settings: { get(key: 'modelsFolder'): string | null }): string {
  return settings.get('modelsFolder') ?? paths.models;
}

/** Creates the data folder and its subfolders if missing. */
export function ensureDataDir(root: string): DataPaths {
  const p = dataPaths(root);
  for (const d of [p.root, p.models, p.logs, p.sessions, p.images]) makeDirs(d);
  return p;
}

/** The project root (holds package.json); dist/ and build/ hang off it. */
export function projectRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}
