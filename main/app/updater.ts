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
import { CancellationToken, type AppUpdater, type UpdateInfo } from 'electron-updater';
import { GenericProvider } from 'electron-updater/out/providers/GenericProvider';
import { parseUpdateInfo } from 'electron-updater/out/providers/Provider';
import type { UpdateChannel } from '../ipc/updates';
import type { BuildInfo } from '../updates/build-info';
import type { Logger } from '../logging';
import { CHANNELS } from '../updates/channels';
import type { FoundUpdate, Progress, UpdaterPort } from '../updates/controller';
import { SIGNATURE_SUFFIX } from '../updates/signature';
import { UpdateError, verifiedFeedText, verifyDownloadedFile } from '../updates/verify';

/** Where the feed lives: a folder per GPU build (main/updates/build-info.ts) of channel files, installers and their signatures (scripts/release --out, uploaded). */
export const UPDATE_FEED_URL = 'https://updates.hearth.app/';
/** The folder under the OS cache folder electron-updater downloads into. */
export const UPDATER_CACHE_DIR_NAME = 'hearth-updater';

/** Why this run cannot update itself, or null when it can (a packaged app of a kind electron-updater replaces). */
export function unsupportedReason(o: { packaged: boolean; platform: NodeJS.Platform; env: NodeJS.ProcessEnv; packageType: string | null; build: BuildInfo | null }): string | null {
  if (!o.packaged) return 'A development run (not packaged) does not update itself.';
  if (!o.build) return 'This package does not say which build it is (its GPU backend), so it cannot tell which updates fit it.';
  if (o.platform === 'linux' && !o.env.APPIMAGE && o.packageType !== 'deb') return 'Only the AppImage and the deb package update themselves; update this one with its package manager.';
  if (!['linux', 'darwin', 'win32'].includes(o.platform)) return `Updates are not built for ${o.platform}.`;
  return null;
}

/** The .sig of `url`'s file, or null when the server has none (404). */
async function fetchSignature(provider: GenericProvider, url: URL): Promise<string | null> {
  try {
    return (await (provider as unknown as { httpRequest(u: URL): Promise<string | null> }).httpRequest(new URL(url.href + SIGNATURE_SUFFIX))) ?? null;
  } catch (e) {
    if ((e as { statusCode?: unknown }).statusCode === 404) return null;
    throw e;
  }
}

interface VerifiedFeedOptions extends CustomPublishOptions {
  url: string;
  publicKeyPem: string;
  onProvider: (p: VerifiedFeedProvider) => void;
}

/** A generic feed whose channel files are read only with a signature that verifies. */
export class VerifiedFeedProvider extends GenericProvider {
  private readonly publicKeyPem: string;

  constructor(opts: CustomPublishOptions, updater: AppUpdater, runtimeOptions: ConstructorParameters<typeof GenericProvider>[2]) {
    const options = opts as VerifiedFeedOptions;
    super({ provider: 'generic', url: options.url }, updater, runtimeOptions);
    this.publicKeyPem = options.publicKeyPem;
    options.onProvider(this);
  }

  override async getLatestVersion(): Promise<UpdateInfo> {
    // GenericProvider's channel (private in its types): the updater's channel with the platform suffix
    const channelFile = `${(this as unknown as { channel: string }).channel}.yml`;
    const url = new URL(channelFile, (this as unknown as { baseUrl: URL }).baseUrl);
    let bytes: Buffer;
    try {
      bytes = await this.executor.downloadToBuffer(url, { headers: { 'cache-control': 'no-cache' }, cancellationToken: new CancellationToken() });
    } catch (e) {
      throw new UpdateError('update_failed', `the update feed ${channelFile} could not be fetched: ${(e as Error).message.split('\n')[0]}`);
    }
    const text = verifiedFeedText(bytes, await fetchSignature(this, url), this.publicKeyPem, channelFile);
    return parseUpdateInfo(text, channelFile, url);
  }

  /** Verifies a downloaded file's .sig (the file at `fileUrl`, downloaded to `file`). */
  async verifyDownload(fileUrl: URL, file: string): Promise<void> {
    await verifyDownloadedFile(file, await fetchSignature(this, fileUrl), this.publicKeyPem);
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
}

/** The package kind electron-builder wrote beside the app (resources/package-type: deb, rpm…), or null. */
export function packageTypeOf(resourcesPath: string | undefined): string | null {
  try {
    return resourcesPath ? fs.readFileSync(path.join(resourcesPath, 'package-type'), 'utf8').trim() : null;
  } catch {
    return null;
  }
}

function updaterForPlatform(): AppUpdater {
  // required here, not at the top: electron-updater reads electron's app when constructed
  const eu = require('electron-updater') as typeof import('electron-updater');
  if (process.platform === 'win32') return new eu.NsisUpdater();
  if (process.platform === 'darwin') return new eu.MacUpdater();
  return packageTypeOf(process.resourcesPath) === 'deb' ? new eu.DebUpdater() : new eu.AppImageUpdater();
}

/** The port the controller drives, over one electron-updater instance. */
export function electronUpdaterPort(o: ElectronUpdaterOptions): UpdaterPort {
  const updater = (o.makeUpdater ?? updaterForPlatform)();
  updater.logger = { info: (m: unknown) => o.logger.debug(`updater: ${String(m)}`), warn: (m: unknown) => o.logger.warn(`updater: ${String(m)}`), error: (m: unknown) => o.logger.warn(`updater: ${String(m)}`) } as never;
  updater.autoDownload = false;
  updater.autoInstallOnAppQuit = false;
  // electron-updater reads its cache folder's name from this file (electron-builder writes one into a package; ours says the same everywhere)
  fs.mkdirSync(o.configDir, { recursive: true });
  const configFile = path.join(o.configDir, 'app-update.yml');
  fs.writeFileSync(configFile, `provider: custom\nupdaterCacheDirName: ${UPDATER_CACHE_DIR_NAME}\n`);
  (updater as unknown as { updateConfigPath: string }).updateConfigPath = configFile;
  let provider: VerifiedFeedProvider | null = null;
  const feed: VerifiedFeedOptions = {
    provider: 'custom', updateProvider: VerifiedFeedProvider, url: o.feedUrl ?? UPDATE_FEED_URL, publicKeyPem: o.publicKeyPem,
    onProvider: (p) => (provider = p),
  };
  updater.setFeedURL(feed);
  // an 'error' event without a listener would throw; the controller reports failures from the promises
  updater.on('error', () => undefined);
  return {
    configure(channel: UpdateChannel, allowDowngrade: boolean) {
      updater.channel = CHANNELS[channel].feed;
      updater.allowDowngrade = allowDowngrade; // after the channel setter, which turns it on
    },
    async check(): Promise<FoundUpdate | null> {
      const r = await updater.checkForUpdates();
      if (!r || !r.isUpdateAvailable) return null;
      const notes = r.updateInfo.releaseNotes;
      return {
        version: r.updateInfo.version,
        releaseDate: r.updateInfo.releaseDate ?? null,
        releaseNotes: typeof notes === 'string' ? notes : Array.isArray(notes) ? notes.map((n) => n.note ?? '').join('\n\n') : null,
      };
    },
    async download(onProgress: (p: Progress) => void) {
      const listener = (p: Progress) => onProgress({ transferred: p.transferred, total: p.total, bytesPerSecond: p.bytesPerSecond });
      updater.on('download-progress', listener);
      try {
        const [file] = await updater.downloadUpdate();
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
      } finally {
        updater.off('download-progress', listener);
      }
    },
    install() {
      updater.quitAndInstall();
    },
  };
}
