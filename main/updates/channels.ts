/**
 * The update channels' one definition on the main side: the electron-builder channel file each
 * reads, the version each release carries, and which channels' feeds a release goes into.
 * scripts/release, .github/workflows/release.yml (a test checks it) and the app's updater all
 * derive from here. The names users see are main/ipc/updates.ts's UPDATE_CHANNELS.
 */
import { UPDATE_CHANNELS, type UpdateChannel } from '../ipc/updates';

export interface ChannelDef {
  /** electron-builder's / electron-updater's channel: the feed file is `<feed><platform suffix>.yml` */
  feed: 'latest' | 'beta' | 'alpha';
  /** the versions a release on this channel carries */
  version: RegExp;
  /** an example, for messages */
  example: string;
}

const CORE = String.raw`(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)`;

export const CHANNELS: Record<UpdateChannel, ChannelDef> = {
  stable: { feed: 'latest', version: new RegExp(`^${CORE}$`), example: '1.4.0' },
  beta: { feed: 'beta', version: new RegExp(`^${CORE}-beta\\.(0|[1-9]\\d*)$`), example: '1.5.0-beta.2' },
  // nightly: the date of the build (UTC), YYYYMMDD
  nightly: { feed: 'alpha', version: new RegExp(`^${CORE}-alpha\\.(20\\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\\d|3[01])$`), example: '1.5.0-alpha.20261127' },
};

/** The channel a version belongs to, or null when it fits none (a development build such as 0.1.0-dev). */
export function channelOfVersion(version: string): UpdateChannel | null {
  return UPDATE_CHANNELS.find((c) => CHANNELS[c].version.test(version)) ?? null;
}

/** The nightly version of `base` (a stable version: the next release) built on `date` (UTC). */
export function nightlyVersion(base: string, date: Date): string {
  if (!CHANNELS.stable.version.test(base)) throw new Error(`a nightly's base version is a release version such as ${CHANNELS.stable.example}, not "${base}"`);
  const d = date.toISOString().slice(0, 10).replace(/-/g, '');
  return `${base}-alpha.${d}`;
}

/** Throws unless `version` is one a release on `channel` may carry. */
export function checkReleaseVersion(channel: UpdateChannel, version: string): void {
  if (!CHANNELS[channel].version.test(version)) {
    throw new Error(`a ${channel} release's version looks like ${CHANNELS[channel].example}, not "${version}"`);
  }
}

/** How bleeding-edge a channel is: stable 0, beta 1, nightly 2. */
export function channelRank(c: UpdateChannel): number {
  return UPDATE_CHANNELS.indexOf(c);
}

/** The channels whose feed a release on `channel` goes into: its own and every more bleeding-edge one (stable → all three). */
export function channelsSeeing(channel: UpdateChannel): UpdateChannel[] {
  return UPDATE_CHANNELS.filter((c) => channelRank(c) >= channelRank(channel));
}

/** The channels a user on `channel` gets builds of (the reverse of channelsSeeing). */
export function channelsSeenBy(channel: UpdateChannel): UpdateChannel[] {
  return UPDATE_CHANNELS.filter((c) => channelRank(c) <= channelRank(channel));
}

/** Moving from `from` to `to` goes to a more stable channel: its latest build may be older (an explicit downgrade). */
export function isMoreStable(from: UpdateChannel, to: UpdateChannel): boolean {
  return channelRank(to) < channelRank(from);
}

/**
 * electron-updater's feed file name for a channel on a platform (its Provider.getCustomChannelName):
 * Windows `<feed>.yml`, macOS `<feed>-mac.yml`, Linux `<feed>-linux.yml` (`-linux-<arch>` off x64).
 */
export function feedFileName(channel: UpdateChannel, platform: NodeJS.Platform, arch: string): string {
  const feed = CHANNELS[channel].feed;
  if (platform === 'linux') return `${feed}-linux${arch === 'x64' ? '' : `-${arch}`}.yml`;
  if (platform === 'darwin') return `${feed}-mac.yml`;
  return `${feed}.yml`;
}
