/**
 * The updater's decisions (no electron here): which channel's feed is followed and whether a
 * downgrade may be offered, when to check (at start and every UPDATE_CHECK_INTERVAL_MS in mode auto
 * and check; never by itself in mode off), when to download (auto: at once, unless a downgrade;
 * check: when asked), and when to install ("Restart to update" waits while a reply generates or a
 * model downloads, then closes the app's services and the engine host before installing). What
 * talks to electron-updater is an UpdaterPort (main/app/updater.ts). The updates.* channels answer
 * from here; in browser mode and development runs the controller has no port and answers phase
 * unsupported with its reason.
 */
import semver from 'semver';
import { IpcError } from '../ipc/contract';
import type { UpdateChannel, UpdateMode, UpdateStateDTO } from '../ipc/updates';
import { UPDATE_BLOCKERS } from '../ipc/updates';
import type { Logger } from '../logging';
import type { Timers } from '../models/download-transfer';
import type { Handlers } from '../services';
import { channelOfVersion, channelsSeenBy, isMoreStable } from './channels';
import type { InstallFailureNote } from './install-failure';
import { UpdateError, updateErrorOf } from './verify';

/** How often mode auto and check look for an update after the first check at start. */
export const UPDATE_CHECK_INTERVAL_MS = 4 * 60 * 60 * 1000;
/** Why a page served by `hearth serve` / `npm start`'s browser mode has no updater. */
export const BROWSER_MODE_UPDATES_REASON = 'Updates are handled by the desktop app: Hearth updates itself only when installed, not in browser mode. The channel and mode chosen here are saved and used by the desktop app on the same data folder.';

/** At most one progress state per this many ms while an update downloads (and one at the end). */
export const UPDATE_PROGRESS_INTERVAL_MS = 500;
/** A check (the channel file and its .sig, each under the port's own deadline) that has not settled by then ends in phase error, and its late result is dropped. */
export const UPDATE_CHECK_DEADLINE_MS = 3 * 60 * 1000;
/** After the installer is started the app quits; still running this long after, the install failed (update_install_failed) and the app relaunches. */
export const INSTALL_QUIT_DEADLINE_MS = 2 * 60 * 1000;

export type Blocker = (typeof UPDATE_BLOCKERS)[number];

/** An update a feed offers. */
export interface FoundUpdate {
  version: string;
  releaseDate: string | null;
  releaseNotes: string | null;
  /** the data schema the release opens (its channel file's schemaVersion), null when the feed does not say */
  schemaVersion: number | null;
  /** the GPU build the channel file says it is (its `gpu`), null when it does not say */
  gpu: string | null;
}

export interface Progress {
  transferred: number;
  total: number;
  bytesPerSecond: number;
}

/** electron-updater, as the controller uses it (main/app/updater.ts). */
export interface UpdaterPort {
  /** `channel`'s feed's release, when it is one to offer (newer; or older when `allowDowngrade`); throws on a feed refused */
  check(channel: UpdateChannel, allowDowngrade: boolean): Promise<FoundUpdate | null>;
  /** downloads the update found, its sha512 and its signature checked; throws when either fails */
  download(onProgress: (p: Progress) => void): Promise<void>;
  /** checks the downloaded update's signature again (it sat in the cache since its download): throws, the file deleted, when it no longer verifies */
  verifyDownloaded(): Promise<void>;
  /**
   * quits and installs the downloaded update; `onFailure` is called when electron-updater reports the
   * install failed (its 'error' event: BaseUpdater.quitAndInstall never throws, Squirrel's errors come later)
   */
  install(onFailure: (e: Error) => void): void;
}

/** What an install waits for: replies generating, models downloading. */
export interface Activity {
  busy(): Blocker[];
  /** called whenever that may have changed; returns the unsubscribe */
  onChange(listener: () => void): () => void;
}

export interface UpdateControllerOptions {
  current: string;
  /** null: updates are unsupported here, for `unsupportedReason` */
  port: UpdaterPort | null;
  unsupportedReason?: string;
  settings: () => { channel: UpdateChannel | null; mode: UpdateMode };
  activity: Activity;
  /** closes the app's services and the engine host (before the install: no locked files) */
  beforeInstall: () => Promise<void>;
  /** starts the app again (Electron's app.relaunch() and app.exit(0)): after a failed install, whose services and engine host are closed */
  relaunch: () => void;
  /** the running build's GPU backend (build-info.ts): a feed of another build is refused (update_wrong_build) */
  gpu?: string;
  emit: (s: UpdateStateDTO) => void;
  logger: Logger;
  timers?: Timers;
  /** the schema version of the open database (Store.schemaVersion): a release that reads only older schemas is not installed */
  dataSchemaVersion?: () => number | null;
  /** default UPDATE_CHECK_DEADLINE_MS */
  checkDeadlineMs?: number;
  /** default INSTALL_QUIT_DEADLINE_MS */
  installDeadlineMs?: number;
  /** where a failed install leaves its reason for the relaunched app (install-failure.ts) */
  installFailure?: InstallFailureNote;
}

const realTimers: Timers = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };

/** The channel followed: the setting, else the running build's own, else stable. */
export function followedChannel(setting: UpdateChannel | null, current: string): UpdateChannel {
  return setting ?? channelOfVersion(current) ?? 'stable';
}

/** Why `found` cannot be installed over data of schema `dataSchema`, or null when it can (or a side does not say). */
export function blockedBy(found: Pick<FoundUpdate, 'version' | 'schemaVersion'>, dataSchema: number | null): string | null {
  if (found.schemaVersion === null || dataSchema === null || found.schemaVersion >= dataSchema) return null;
  return `${found.version} cannot open your data: this version changed how it is stored (schema ${dataSchema}; ${found.version} reads up to ${found.schemaVersion})`;
}

/** Whether an older release may be offered: only when the followed channel is more stable than the running build's (the user moved to it). */
export function downgradeAllowed(followed: UpdateChannel, current: string): boolean {
  const own = channelOfVersion(current);
  return own !== null && isMoreStable(own, followed);
}

export class UpdateController {
  private s: UpdateStateDTO;
  private readonly timers: Timers;
  private timer: unknown = null;
  private lastProgressAt = -Infinity;
  private unwatch: (() => void) | null = null;
  private closed = false;
  /** the channel the found update came from (a change of channel drops it) */
  private checkedChannel: UpdateChannel | null = null;
  /** the latest check's number and channel: an older check's result is dropped */
  private checkSeq = 0;
  private checking: UpdateChannel | null = null;

  constructor(private readonly o: UpdateControllerOptions) {
    this.timers = o.timers ?? realTimers;
    const { channel, mode } = this.followed();
    this.s = {
      phase: o.port ? 'idle' : 'unsupported', reason: o.port ? null : (o.unsupportedReason ?? 'Updates are not supported here.'),
      current: o.current, channel, mode, lastCheckedAt: null, update: null, progress: null, waitingFor: [], error: null,
    };
    // the run before tried to install an update and failed (then relaunched this one): say so once
    const failed = o.port ? o.installFailure?.take() : null;
    if (failed && failed.version !== o.current) {
      this.s = { ...this.s, phase: 'error', error: { code: 'update_install_failed', message: `Hearth could not install ${failed.version} and is still on ${o.current}: ${failed.message}` } };
    }
  }

  state(): UpdateStateDTO {
    return this.s;
  }

  private followed(): { channel: UpdateChannel; mode: UpdateMode } {
    const { channel, mode } = this.o.settings();
    return { channel: followedChannel(channel, this.o.current), mode };
  }

  private set(patch: Partial<UpdateStateDTO>): void {
    this.s = { ...this.s, ...patch };
    this.o.emit(this.s);
  }

  /** The first check (modes auto and check) and the schedule. */
  start(): void {
    if (!this.o.port) return;
    this.schedule();
    if (this.s.mode !== 'off') void this.check().catch(() => undefined);
  }

  private schedule(): void {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    if (this.closed || this.s.mode === 'off' || !this.o.port) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      void this.check().catch(() => undefined);
      this.schedule();
    }, UPDATE_CHECK_INTERVAL_MS);
  }

  /** The updateChannel or updateMode setting changed. */
  settingsChanged(): void {
    const { channel, mode } = this.followed();
    const channelChanged = channel !== this.s.channel;
    const modeChanged = mode !== this.s.mode;
    if (!channelChanged && !modeChanged) return;
    this.set({ channel, mode });
    if (!this.o.port) return;
    this.schedule();
    // what the old channel offered is not this one's: dropped, and looked for again (a download in flight
    // is dropped when it ends: download() compares its channel; an install already started goes on)
    if (channelChanged && this.s.phase !== 'downloading' && this.s.phase !== 'installing') this.dropFound();
  }

  /** Forgets the update found, downloaded or waiting to install (the channel changed), and checks again unless updates are off. */
  private dropFound(): void {
    this.stopWatching();
    this.set({ phase: 'idle', update: null, progress: null, error: null, waitingFor: [] });
    if (this.s.mode !== 'off') void this.check().catch(() => undefined);
  }

  /** Looks at the followed channel's feed now (any mode); in mode auto, a found update (not a downgrade) downloads at once. */
  async check(): Promise<UpdateStateDTO> {
    const port = this.o.port;
    if (!port || this.closed) return this.s;
    const channel = this.s.channel;
    if (this.s.phase === 'checking' && this.checking === channel) return this.s;
    // electron-updater keeps one update: none is looked for while one downloads or installs
    if (['downloading', 'waiting', 'installing'].includes(this.s.phase)) return this.s;
    if (this.s.phase === 'downloaded' && this.checkedChannel === channel) return this.s;
    const seq = ++this.checkSeq;
    this.checking = channel;
    this.set({ phase: 'checking', error: null });
    // a result is this check's only while no later check started and the channel is still the one it read
    const current = () => seq === this.checkSeq && this.s.channel === channel && !this.closed;
    let found: FoundUpdate | null;
    let deadline: unknown = null;
    try {
      const ms = this.o.checkDeadlineMs ?? UPDATE_CHECK_DEADLINE_MS;
      found = await Promise.race([
        port.check(channel, downgradeAllowed(channel, this.o.current)),
        new Promise<never>((_, reject) => {
          deadline = this.timers.setTimeout(() => reject(new UpdateError('update_timeout', `the check did not finish within ${Math.round(ms / 1000)} s: gave up`)), ms);
        }),
      ]);
      if (found && !channelsSeenBy(channel).includes(channelOfVersion(found.version) as UpdateChannel)) {
        // a signed file of another channel (or another feed) served as this one's: never offered
        throw new UpdateError('update_wrong_channel', `the ${channel} feed offered ${found.version}, which is not a ${channelsSeenBy(channel).join(' or ')} version`);
      }
      if (found && this.o.gpu !== undefined && found.gpu !== this.o.gpu) {
        // a signed channel file of another GPU build's folder (the signature binds the name, not the folder): never offered
        throw new UpdateError('update_wrong_build', `the feed offered ${found.version} ${found.gpu === null ? 'without saying which build it is' : `of the ${found.gpu} build`}; this is the ${this.o.gpu} build`);
      }
    } catch (e) {
      if (!current()) return this.s;
      this.checking = null;
      this.o.logger.warn(`updates: the check failed: ${(e as Error).message}`);
      this.set({ phase: 'error', update: null, error: updateErrorOf(e), lastCheckedAt: this.timers.now() });
      return this.s;
    } finally {
      if (deadline !== null) this.timers.clearTimeout(deadline);
    }
    if (!current()) return this.s;
    this.checking = null;
    this.checkedChannel = channel;
    if (!found) {
      this.set({ phase: 'none', update: null, lastCheckedAt: this.timers.now() });
      return this.s;
    }
    const blocked = blockedBy(found, this.o.dataSchemaVersion?.() ?? null);
    const downgrade = semver.lt(found.version, this.o.current) || blocked !== null;
    const { schemaVersion: _schema, gpu: _gpu, ...shown } = found;
    this.set({ phase: 'available', lastCheckedAt: this.timers.now(), update: { ...shown, channel, downgrade, blocked } });
    if (this.s.mode === 'auto' && !downgrade) void this.download(false).catch(() => undefined);
    return this.s;
  }

  /** Downloads the update found; a downgrade only with `confirmDowngrade`. */
  async download(confirmDowngrade: boolean): Promise<UpdateStateDTO> {
    const port = this.o.port;
    if (!port) return this.s;
    if (this.s.phase === 'downloading' || this.s.phase === 'downloaded') return this.s;
    const update = this.s.update;
    if (!update || (this.s.phase !== 'available' && this.s.phase !== 'error')) throw new IpcError('invalid_input', 'there is no update to download: check for updates first');
    if (update.blocked) throw new IpcError('update_cannot_open_data', update.blocked);
    if (update.downgrade && !confirmDowngrade) {
      throw new IpcError('needs_confirmation', `${update.version} is older than the running ${this.o.current}: installing it is a downgrade, confirm it to download`);
    }
    this.lastProgressAt = -Infinity;
    const channel = this.s.channel;
    this.set({ phase: 'downloading', progress: { transferred: 0, total: 0, bytesPerSecond: 0 }, error: null });
    try {
      await port.download((p) => {
        const now = this.timers.now();
        if (now - this.lastProgressAt < UPDATE_PROGRESS_INTERVAL_MS) {
          this.s = { ...this.s, progress: p }; // kept for the next state out
          return;
        }
        this.lastProgressAt = now;
        this.set({ progress: p });
      });
    } catch (e) {
      this.o.logger.warn(`updates: the download of ${update.version} failed: ${(e as Error).message}`);
      if (this.s.channel !== channel) this.dropFound();
      else this.set({ phase: 'error', progress: null, error: updateErrorOf(e) });
      return this.s;
    }
    if (this.s.channel !== channel) {
      // the user moved to another channel while it downloaded: this build is not that channel's to install
      this.o.logger.info(`updates: ${update.version} (${channel}) downloaded after the channel changed to ${this.s.channel}: dropped`);
      this.dropFound();
      return this.s;
    }
    this.set({ phase: 'downloaded', progress: this.s.progress });
    return this.s;
  }

  /** "Restart to update": installs now, or waits (phase waiting) until no reply generates and no model downloads. */
  install(): UpdateStateDTO {
    if (!this.o.port) return this.s;
    if (this.s.phase === 'waiting' || this.s.phase === 'installing') return this.s;
    if (this.s.phase !== 'downloaded') throw new IpcError('invalid_input', 'no update is downloaded yet');
    const busy = this.o.activity.busy();
    if (busy.length === 0) {
      void this.installNow();
      return this.s;
    }
    this.set({ phase: 'waiting', waitingFor: busy });
    this.unwatch = this.o.activity.onChange(() => {
      if (this.s.phase !== 'waiting') return;
      const still = this.o.activity.busy();
      if (still.length > 0) {
        if (still.join() !== this.s.waitingFor.join()) this.set({ waitingFor: still });
        return;
      }
      void this.installNow();
    });
    return this.s;
  }

  /** Leaves a waiting install: back to downloaded. */
  cancelInstall(): UpdateStateDTO {
    if (this.s.phase !== 'waiting') return this.s;
    this.stopWatching();
    this.set({ phase: 'downloaded', waitingFor: [] });
    return this.s;
  }

  private stopWatching(): void {
    this.unwatch?.();
    this.unwatch = null;
  }

  private async installNow(): Promise<void> {
    this.stopWatching();
    this.set({ phase: 'installing', waitingFor: [] });
    const port = this.o.port!;
    try {
      // the download is checked again before anything is closed: a file changed in the cache is never run
      await port.verifyDownloaded();
    } catch (e) {
      this.o.logger.error(`updates: the install failed: ${(e as Error).message}`);
      this.set({ phase: 'error', error: updateErrorOf(e) });
      return;
    }
    // from here the services and the engine host are (being) closed: a failure relaunches the app
    let failed = false;
    let deadline: unknown = null;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      if (deadline !== null) this.timers.clearTimeout(deadline);
      const err = e instanceof UpdateError ? e : new UpdateError('update_install_failed', (e as Error)?.message?.split('\n')[0] ?? String(e));
      this.o.logger.error(`updates: the install failed, relaunching: ${err.message}`);
      this.set({ phase: 'error', error: updateErrorOf(err) });
      this.o.installFailure?.keep({ version: this.s.update?.version ?? '', message: err.message, at: this.timers.now() });
      this.o.relaunch();
    };
    try {
      await this.o.beforeInstall();
      const ms = this.o.installDeadlineMs ?? INSTALL_QUIT_DEADLINE_MS;
      deadline = this.timers.setTimeout(() => fail(new UpdateError('update_install_failed', `the app had not quit ${Math.round(ms / 1000)} s after the installer started`)), ms);
      port.install((e) => fail(new UpdateError('update_install_failed', `the installer failed: ${e.message.split('\n')[0]}`)));
    } catch (e) {
      fail(new UpdateError('update_install_failed', (e as Error).message.split('\n')[0]));
    }
  }

  close(): void {
    this.closed = true;
    this.stopWatching();
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
  }
}

/** The updates.* channels over a controller. */
export function updatesChannels(c: UpdateController): Handlers {
  return {
    'updates.state': () => c.state(),
    'updates.check': () => c.check(),
    'updates.download': (r) => c.download(r.confirmDowngrade),
    'updates.install': () => c.install(),
    'updates.cancelInstall': () => c.cancelInstall(),
  };
}
