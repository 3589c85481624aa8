/**
 * The updater's port onto electron-updater (the only code that touches it): a generic feed whose
 * channel files are read only when their .sig verifies with the public key the app carries
 * (VerifiedFeedProvider, a GenericProvider whose getLatestVersion fetches the file and its .sig and
 * parses the very bytes verified), downloads checked by electron-updater's sha512 and then by the
 * artifact's own .sig, and quitAndInstall. autoDownload and autoInstallOnAppQuit are off (the
 * controller, main/updates/controller.ts, decides), and allowDowngrade is set explicitly on every
 * check (electron-updater's channel setter turns it on).
 */
import fs from 'fs';
import path from 'path';
import type { CustomPublishOptions } from 'builder-util-runtime';
import type { RequestOptions } from 'http';
import { CancellationToken, type AppUpdater, type UpdateInfo } from 'electron-updater';
import { GenericProvider } from 'electron-updater/out/providers/GenericProvider';
import { parseUpdateInfo } from 'electron-updater/out/providers/Provider';
import { newUrlFromBase } from 'electron-updater/out/util';
import type { UpdateChannel } from '../ipc/updates';
import type { BuildInfo } from '../updates/build-info';
import type { Logger } from '../logging';
import { CHANNELS } from '../updates/channels';
import type { FoundUpdate, Progress, UpdaterPort } from '../updates/controller';
import { FEED_FILE_MAX_BYTES } from '../updates/feed';
import { SIGNATURE_MAX_BYTES, SIGNATURE_SUFFIX } from '../updates/signature';
import { UpdateError, verifiedFeedText, verifyDownloadedFile } from '../updates/verify';

/** Where the feed lives: a folder per GPU build (main/updates/build-info.ts) of channel files, installers and their signatures (scripts/release --out, uploaded). */
export const UPDATE_FEED_URL = 'https://updates.hearth.app/';
/** The folder under the OS cache folder electron-updater downloads into. */
export const UPDATER_CACHE_DIR_NAME = 'hearth-updater';

/**
 * What app.relaunch() is given after a failed install: inside an AppImage, process.execPath lies in
 * the image's temporary mount, gone once this process exits, so the AppImage file itself is started
 * (electron-builder#1727); elsewhere Electron's default (this executable, these arguments).
 */
export function relaunchOptions(env: NodeJS.ProcessEnv, argv: string[]): { execPath: string; args: string[] } | undefined {
  return env.APPIMAGE ? { execPath: env.APPIMAGE, args: argv.slice(1) } : undefined;
}

/** Why this run cannot update itself, or null when it can (a packaged app of a kind electron-updater replaces). */
export function unsupportedReason(o: { packaged: boolean; platform: NodeJS.Platform; env: NodeJS.ProcessEnv; packageType: string | null; build: BuildInfo | null }): string | null {
  if (!o.packaged) return 'A development run (not packaged) does not update itself.';
  if (!o.build) return 'This package does not say which build it is (its GPU backend), so it cannot tell which updates fit it.';
  if (o.platform === 'linux' && linuxPackageKind(o.env, o.packageType) === null) return 'Only the AppImage and the deb package update themselves; update this one with its package manager.';
  if (!['linux', 'darwin', 'win32'].includes(o.platform)) return `Updates are not built for ${o.platform}.`;
  return null;
}

/**
 * Which Linux updater fits: an AppImage whenever APPIMAGE is set (its runtime sets it), whatever
 * resources/package-type says — app-builder-lib writes package-type=deb into the linux-unpacked
 * resources the AppImage is also made from — else the deb when package-type says deb, else none.
 */
export function linuxPackageKind(env: NodeJS.ProcessEnv, packageType: string | null): 'appimage' | 'deb' | null {
  if (env.APPIMAGE) return 'appimage';
  return packageType === 'deb' ? 'deb' : null;
}

/** The longest a channel file or a .sig request may take in all (a server dripping bytes keeps a socket's idle timer from firing); then it is cancelled. */
export const FEED_REQUEST_DEADLINE_MS = 60_000;
/** A download that makes no progress for this long is cancelled (phase error). electron-updater reports progress at most once a second. */
export const DOWNLOAD_STALL_MS = 60_000;

/** A request past its deadline, cancelled. */
class DeadlineError extends UpdateError {}

/**
 * The body of `url`, at most `maxBytes` (more: refused, the response destroyed), within `deadlineMs`
 * in all (then cancelled); null when the server answers 404.
 */
export async function readCapped(executor: unknown, requestOptions: RequestOptions, maxBytes: number, deadlineMs: number, what: string): Promise<Buffer | null> {
  const token = new CancellationToken();
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    token.cancel();
  }, deadlineMs);
  try {
    return await token.createPromise<Buffer | null>((resolve, reject, onCancel) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let settled = false;
      const done = (e: Error | null, v: Buffer | null = null) => {
        if (settled) return;
        settled = true;
        if (e) reject(e);
        else resolve(v);
      };
      (executor as unknown as { doDownload(r: RequestOptions, o: unknown, n: number): void }).doDownload(requestOptions, {
        destination: null,
        options: { cancellationToken: token },
        onCancel,
        callback: (e: Error | null) => {
          // builder-util-runtime says a status of 400 or more only in its message
          if (e && /, status 404\b/.test(e.message)) done(null, null);
          else if (e) done(e);
          else done(null, Buffer.concat(chunks));
        },
        responseHandler: (response: NodeJS.ReadableStream & { destroy?: () => void }, callback: (e: Error | null) => void) => {
          onCancel(() => response.destroy?.());
          response.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (received > maxBytes) {
              response.destroy?.();
              callback(new UpdateError('update_too_large', `${what} is larger than ${maxBytes} bytes: refused`));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => callback(null));
          response.on('error', (e: Error) => callback(e));
        },
      }, 0);
    });
  } catch (e) {
    if (timedOut) throw new DeadlineError('update_timeout', `${what} did not arrive within ${Math.round(deadlineMs / 1000)} s: cancelled`);
    throw e;
  } finally {
    clearTimeout(deadline);
  }
}

interface VerifiedFeedOptions extends CustomPublishOptions {
  url: string;
  publicKeyPem: string;
  feedDeadlineMs: number;
  onProvider: (p: VerifiedFeedProvider) => void;
}

/** A generic feed whose channel files are read only with a signature that verifies (for the file's own name), each request capped in size and time. */
export class VerifiedFeedProvider extends GenericProvider {
  private readonly publicKeyPem: string;
  private readonly deadlineMs: number;

  constructor(opts: CustomPublishOptions, updater: AppUpdater, runtimeOptions: ConstructorParameters<typeof GenericProvider>[2]) {
    const options = opts as VerifiedFeedOptions;
    super({ provider: 'generic', url: options.url }, updater, runtimeOptions);
    this.publicKeyPem = options.publicKeyPem;
    this.deadlineMs = options.feedDeadlineMs;
    options.onProvider(this);
  }

  /** electron-updater's request options for `url` (its headers), not cached, redirects followed by its executor. */
  private requestOptions(url: URL): RequestOptions {
    const o = (this as unknown as { createRequestOptions(u: URL, h: Record<string, string>): RequestOptions }).createRequestOptions(url, { 'Cache-Control': 'no-cache', 'User-Agent': 'electron-builder' });
    return Object.assign(o, { redirect: 'manual' });
  }

  /**
   * The URL of `name` in the feed, as GenericProvider.getLatestVersion builds a channel file's
   * (newUrlFromBase with the updater's isAddNoCacheQuery): a `noCache=<time>` query that CDNs key
   * on (they ignore Cache-Control in a request), so the file and its .sig both come from the origin.
   */
  private fresh(name: string): URL {
    return newUrlFromBase(name, (this as unknown as { baseUrl: URL }).baseUrl, (this as unknown as { updater: { isAddNoCacheQuery: boolean } }).updater.isAddNoCacheQuery);
  }

  /** The .sig of the feed's file at `url` (at most SIGNATURE_MAX_BYTES), fetched fresh, or null when the server has none (404). */
  private async signatureOf(url: URL, name: string): Promise<string | null> {
    const at = new URL(url.href);
    at.pathname += SIGNATURE_SUFFIX;
    if (at.search === '') at.search = this.fresh(name).search;
    const sig = await readCapped(this.executor, this.requestOptions(at), SIGNATURE_MAX_BYTES, this.deadlineMs, `the signature ${name}${SIGNATURE_SUFFIX}`);
    return sig === null ? null : sig.toString('utf8');
  }

  override async getLatestVersion(): Promise<UpdateInfo> {
    // GenericProvider's channel (private in its types): the updater's channel with the platform suffix
    const channelFile = `${(this as unknown as { channel: string }).channel}.yml`;
    const url = this.fresh(channelFile);
    let bytes: Buffer | null;
    try {
      bytes = await readCapped(this.executor, this.requestOptions(url), FEED_FILE_MAX_BYTES, this.deadlineMs, `the update feed ${channelFile}`);
    } catch (e) {
      if (e instanceof UpdateError) throw e;
      throw new UpdateError('update_failed', `the update feed ${channelFile} could not be fetched: ${(e as Error).message.split('\n')[0]}`);
    }
    if (bytes === null) throw new UpdateError('update_failed', `the update feed ${channelFile} could not be found (404)`);
    const text = verifiedFeedText(bytes, await this.signatureOf(url, channelFile), this.publicKeyPem, channelFile);
    return parseUpdateInfo(text, channelFile, url);
  }

  /** Verifies a downloaded file's .sig (the file at `fileUrl`, downloaded to `file`): signed for the name the feed lists it under. */
  async verifyDownload(fileUrl: URL, file: string): Promise<void> {
    const name = decodeURIComponent(path.posix.basename(fileUrl.pathname));
    await verifyDownloadedFile(file, name, await this.signatureOf(fileUrl, name), this.publicKeyPem);
  }
}

export interface ElectronUpdaterOptions {
  /** the feed's folder URL (default UPDATE_FEED_URL) */
  feedUrl?: string;
  publicKeyPem: string;
  /** where the updater's own config file goes (its cache folder's name) */
  configDir: string;
  logger: Logger;
  /** electron-updater's class for this package (default: by platform, as its autoUpdater picks) */
  makeUpdater?: () => AppUpdater;
  /** each feed and .sig request's deadline (default FEED_REQUEST_DEADLINE_MS) */
  feedDeadlineMs?: number;
  /** a download without progress for this long is cancelled (default DOWNLOAD_STALL_MS) */
  downloadStallMs?: number;
  /** the packaged app's resources folder (process.resourcesPath): its app-update.yml, when there is one, is the updater's config */
  resourcesPath?: string;
  /** default process.platform: how quitAndInstall is called */
  platform?: NodeJS.Platform;
}

/** The updater's config file electron-builder writes into a package (resources/app-update.yml: updaterCacheDirName, and on Windows publisherName, whose Authenticode check NsisUpdater makes). */
export const PACKAGED_UPDATE_CONFIG = 'app-update.yml';

/** The package kind electron-builder wrote beside the app (resources/package-type: deb, rpm…), or null. */
export function packageTypeOf(resourcesPath: string | undefined): string | null {
  try {
    return resourcesPath ? fs.readFileSync(path.join(resourcesPath, 'package-type'), 'utf8').trim() : null;
  } catch {
    return null;
  }
}

/** The electron-updater class for this package: NSIS, Squirrel.Mac, else the AppImage's (APPIMAGE set) or the deb's (linuxPackageKind). */
export function updaterKind(platform: NodeJS.Platform, env: NodeJS.ProcessEnv, packageType: string | null): 'NsisUpdater' | 'MacUpdater' | 'AppImageUpdater' | 'DebUpdater' {
  if (platform === 'win32') return 'NsisUpdater';
  if (platform === 'darwin') return 'MacUpdater';
  return linuxPackageKind(env, packageType) === 'deb' ? 'DebUpdater' : 'AppImageUpdater';
}

function updaterForPlatform(): AppUpdater {
  // required here, not at the top: electron-updater reads electron's app when constructed
  const eu = require('electron-updater') as typeof import('electron-updater');
  return new eu[updaterKind(process.platform, process.env, packageTypeOf(process.resourcesPath))]();
}

/** The port the controller drives, over one electron-updater instance. */
export function electronUpdaterPort(o: ElectronUpdaterOptions): UpdaterPort {
  const updater = (o.makeUpdater ?? updaterForPlatform)();
  updater.logger = { info: (m: unknown) => o.logger.debug(`updater: ${String(m)}`), warn: (m: unknown) => o.logger.warn(`updater: ${String(m)}`), error: (m: unknown) => o.logger.warn(`updater: ${String(m)}`) } as never;
  updater.autoDownload = false;
  updater.autoInstallOnAppQuit = false;
  // electron-updater reads its cache folder's name (and NsisUpdater the publisherName it checks the installer's Authenticode signature against)
  // from the config electron-builder writes into a package; only a run without one (development, tests) gets ours
  const packaged = o.resourcesPath ? path.join(o.resourcesPath, PACKAGED_UPDATE_CONFIG) : null;
  let configFile: string;
  if (packaged && fs.existsSync(packaged)) configFile = packaged;
  else {
    fs.mkdirSync(o.configDir, { recursive: true });
    configFile = path.join(o.configDir, PACKAGED_UPDATE_CONFIG);
    fs.writeFileSync(configFile, `provider: custom\nupdaterCacheDirName: ${UPDATER_CACHE_DIR_NAME}\n`);
  }
  (updater as unknown as { updateConfigPath: string }).updateConfigPath = configFile;
  const platform = o.platform ?? process.platform;
  const deadlines = { feedMs: o.feedDeadlineMs ?? FEED_REQUEST_DEADLINE_MS, stallMs: o.downloadStallMs ?? DOWNLOAD_STALL_MS };
  let provider: VerifiedFeedProvider | null = null;
  const feed: VerifiedFeedOptions = {
    provider: 'custom', updateProvider: VerifiedFeedProvider, url: o.feedUrl ?? UPDATE_FEED_URL, publicKeyPem: o.publicKeyPem, feedDeadlineMs: deadlines.feedMs,
    onProvider: (p) => (provider = p),
  };
  updater.setFeedURL(feed);
  // an 'error' event without a listener would throw; the controller reports failures from the promises
  updater.on('error', () => undefined);
  /** the check in flight: electron-updater hands a second caller the first one's promise (whatever channel it reads), so checks run one after another */
  let inflight: Promise<unknown> = Promise.resolve();
  /** the downloaded update: re-verified right before it is installed */
  let downloaded: { file: string; url: URL } | null = null;
  return {
    async check(channel: UpdateChannel, allowDowngrade: boolean): Promise<FoundUpdate | null> {
      const run = inflight.catch(() => undefined).then(async () => {
        updater.channel = CHANNELS[channel].feed;
        updater.allowDowngrade = allowDowngrade; // after the channel setter, which turns it on
        return updater.checkForUpdates();
      });
      inflight = run;
      const r = await run;
      if (!r || !r.isUpdateAvailable) return null;
      const info = r.updateInfo as UpdateInfo & { schemaVersion?: unknown; gpu?: unknown };
      const notes = info.releaseNotes;
      return {
        version: info.version,
        releaseDate: info.releaseDate ?? null,
        releaseNotes: typeof notes === 'string' ? notes : Array.isArray(notes) ? notes.map((n) => n.note ?? '').join('\n\n') : null,
        // electron-updater passes the channel file's other fields through (the bytes verified)
        schemaVersion: typeof info.schemaVersion === 'number' && Number.isInteger(info.schemaVersion) ? info.schemaVersion : null,
        gpu: typeof info.gpu === 'string' ? info.gpu : null,
      };
    },
    async download(onProgress: (p: Progress) => void) {
      downloaded = null;
      const token = new CancellationToken();
      let stopped: UpdateError | null = null;
      const stop = (e: UpdateError) => {
        stopped ??= e;
        token.cancel();
      };
      const info0 = (updater as unknown as { updateInfoAndProvider: { info: UpdateInfo } | null }).updateInfoAndProvider?.info;
      // the largest size the signed channel file gives: no download may grow past it
      const maxSize = Math.max(0, ...(info0?.files ?? []).map((f) => f.size ?? 0)) || Infinity;
      let watchdog: NodeJS.Timeout | null = null;
      const arm = () => {
        if (watchdog) clearTimeout(watchdog);
        watchdog = setTimeout(() => stop(new UpdateError('update_timeout', `the download made no progress for ${Math.round(deadlines.stallMs / 1000)} s: cancelled`)), deadlines.stallMs);
      };
      const listener = (p: Progress) => {
        if (p.transferred > maxSize || p.total > maxSize) {
          stop(new UpdateError('update_too_large', `the download is larger than the ${maxSize} bytes the signed feed gives: cancelled`));
          return;
        }
        arm();
        onProgress({ transferred: p.transferred, total: p.total, bytesPerSecond: p.bytesPerSecond });
      };
      updater.on('download-progress', listener);
      arm();
      try {
        let file: string | undefined;
        try {
          [file] = await updater.downloadUpdate(token);
        } catch (e) {
          throw stopped ?? e;
        }
        const p = provider as VerifiedFeedProvider | null;
        const info = (updater as unknown as { updateInfoAndProvider: { info: UpdateInfo } | null }).updateInfoAndProvider?.info;
        if (!p || !info || !file) throw new UpdateError('update_failed', 'the downloaded update cannot be found');
        const entry = p.resolveFiles(info).find((f) => decodeURIComponent(path.basename(f.url.pathname)) === path.basename(file));
        if (!entry) throw new UpdateError('update_bad_signature', `the downloaded ${path.basename(file)} is not a file the feed lists`);
        try {
          await p.verifyDownload(entry.url, file);
        } catch (e) {
          // never left to be installed later
          await fs.promises.rm(file, { force: true });
          throw e;
        }
        downloaded = { file, url: entry.url };
      } finally {
        if (watchdog) clearTimeout(watchdog);
        updater.off('download-progress', listener);
      }
    },
    async verifyDownloaded() {
      // the file sat in the cache since its download: its signature is checked again right before it runs
      const p = provider as VerifiedFeedProvider | null;
      if (!p || !downloaded) throw new UpdateError('update_failed', 'no verified download to install');
      try {
        await p.verifyDownload(downloaded.url, downloaded.file);
      } catch (e) {
        await fs.promises.rm(downloaded.file, { force: true });
        downloaded = null;
        throw e;
      }
    },
    install(onFailure: (e: Error) => void) {
      // BaseUpdater.quitAndInstall reports a failed install only as an 'error' event (it never throws), Squirrel.Mac later still
      const onError = (e: Error) => {
        updater.off('error', onError);
        onFailure(e instanceof Error ? e : new Error(String(e)));
      };
      updater.on('error', onError);
      try {
        // Windows: silent (no NSIS wizard with oneClick false) and run after; elsewhere the defaults (AppImage and deb run the new version after, Squirrel.Mac restarts)
        if (platform === 'win32') updater.quitAndInstall(true, true);
        else updater.quitAndInstall();
      } catch (e) {
        onError(e as Error);
      }
    },
  };
}
