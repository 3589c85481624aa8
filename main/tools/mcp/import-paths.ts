/**
 * Where other apps keep their MCP configuration on this OS (pure: the caller checks which exist and
 * reads them with ./import.ts): Claude Desktop's claude_desktop_config.json, Cursor's and LM Studio's
 * mcp.json, Jan's mcp_config.json in its data folder (the default one, as model discovery knows it:
 * main/models/discover.ts; a data folder moved in Jan's settings is not followed here), and VS Code's
 * user mcp.json. A project's own files (.cursor/mcp.json, .vscode/mcp.json) are the user's to pick.
 */
import path from 'path';
import { peerFolders, type DiscoverEnv } from '../../models/discover';

export const MCP_IMPORT_APPS = ['claude-desktop', 'cursor', 'jan', 'lm-studio', 'vscode'] as const;
export type McpImportApp = (typeof MCP_IMPORT_APPS)[number];

export interface McpConfigPath {
  app: McpImportApp;
  path: string;
}

/** The candidate files, one per app, for `platform` (paths joined with `pathImpl`, default the platform's). */
export function knownConfigPaths(
  platform: NodeJS.Platform,
  env: DiscoverEnv['env'],
  home: string,
  pathImpl: path.PlatformPath = platform === 'win32' ? path.win32 : path.posix,
): McpConfigPath[] {
  const p = pathImpl;
  /** an app's per-user configuration folder: Application Support, %APPDATA% (roaming) or XDG config */
  const config = (...name: string[]) =>
    platform === 'darwin'
      ? p.join(home, 'Library', 'Application Support', ...name)
      : platform === 'win32'
        ? p.join(env.APPDATA || p.join(home, 'AppData', 'Roaming'), ...name)
        : p.join(env.XDG_CONFIG_HOME || p.join(home, '.config'), ...name);
  const jan = peerFolders({ platform, home, env, path: p }).find((f) => f.app === 'jan')?.defaults[0];
  return [
    { app: 'claude-desktop', path: config('Claude', 'claude_desktop_config.json') },
    { app: 'cursor', path: p.join(home, '.cursor', 'mcp.json') },
    ...(jan ? [{ app: 'jan' as const, path: p.join(jan, 'mcp_config.json') }] : []),
    { app: 'lm-studio', path: p.join(home, '.lmstudio', 'mcp.json') },
    { app: 'vscode', path: config('Code', 'User', 'mcp.json') },
  ];
}
