/**
 * The update channels and modes, and what the app says about an update (updates.* channels and the
 * updates.changed event). zod only: the renderer imports this file too.
 */
import { z } from 'zod';

/**
 * The channels a user can follow, most stable first. A channel sees its own builds and every more
 * stable one (stable: stable only; beta: beta and stable; nightly: all); main/updates/channels.ts maps
 * each to electron-builder's channel file (latest, beta, alpha) and to its version pattern.
 */
export const UPDATE_CHANNELS = ['stable', 'beta', 'nightly'] as const;
export type UpdateChannel = (typeof UPDATE_CHANNELS)[number];
export const UpdateChannelSchema = z.enum(UPDATE_CHANNELS);

/**
 * auto: check at start and every few hours, download in the background, offer "Restart to update";
 * check: check and say so, download only when the user asks; off: never check (a manual check still works).
 */
export const UPDATE_MODES = ['auto', 'check', 'off'] as const;
export type UpdateMode = (typeof UPDATE_MODES)[number];
export const UpdateModeSchema = z.enum(UPDATE_MODES);

/**
 * Where the updater is: unsupported (browser mode, a development run, a package the updater cannot
 * replace: `reason` says which), idle (never checked, or checks off), checking, none (up to date),
 * available (found, not downloaded: mode check, or a downgrade the user must confirm), downloading,
 * downloaded (ready: "Restart to update"), waiting (the user asked to restart while a reply
 * generates or a model downloads: installs when they end), installing, error.
 */
export const UPDATE_PHASES = ['unsupported', 'idle', 'checking', 'none', 'available', 'downloading', 'downloaded', 'waiting', 'installing', 'error'] as const;
export type UpdatePhase = (typeof UPDATE_PHASES)[number];

/** What keeps an install waiting. */
export const UPDATE_BLOCKERS = ['generation', 'download'] as const;

export const UpdateInfoDTO = z.object({
  version: z.string(),
  /** the channel whose feed offered it */
  channel: UpdateChannelSchema,
  releaseDate: z.string().nullable(),
  /** plain text or Markdown, as the release wrote it (rendered as text) */
  releaseNotes: z.string().nullable(),
  /** older than the running version: offered only after a move to a more stable channel, and installed only when the user confirms */
  downgrade: z.boolean(),
  /** why it cannot be installed (it reads only an older data schema than the open database has), null: it can; updates.download refuses it (update_cannot_open_data) */
  blocked: z.string().nullable().optional(),
});
export type UpdateInfoDTO = z.infer<typeof UpdateInfoDTO>;

export const UpdateStateDTO = z.object({
  phase: z.enum(UPDATE_PHASES),
  /** why updates are unsupported here (phase unsupported) */
  reason: z.string().nullable(),
  /** the running version */
  current: z.string(),
  channel: UpdateChannelSchema,
  mode: UpdateModeSchema,
  /** ms since epoch of the last finished check, null: none yet */
  lastCheckedAt: z.number().nullable(),
  update: UpdateInfoDTO.nullable(),
  progress: z.object({ transferred: z.number(), total: z.number(), bytesPerSecond: z.number() }).nullable(),
  /** phase waiting: what the install waits for */
  waitingFor: z.array(z.enum(UPDATE_BLOCKERS)),
  /** phase error: what went wrong (a feed whose signature does not verify, a download whose checksum differs, the network) */
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type UpdateStateDTO = z.infer<typeof UpdateStateDTO>;
