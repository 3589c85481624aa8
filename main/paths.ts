/** Where Hearth keeps its files: one data folder for the app, browser mode and every CLI command. */
import os from 'os';
import path from 'path';
import fs from 'fs';
import { makeDirs } from './dirs';

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

/** --data-dir wins over HEARTH_DATA_DIR, which wins over the platform default. */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = flag || env.HEARTH_DATA_DIR || defaultDataDir(process.platform, env);
  return path.resolve(dir);
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
    database: path.join(root, 'hearth.db'),
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
