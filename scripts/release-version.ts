/**
 * The channel and version a release workflow run builds (.github/workflows/release.yml): a
 * scheduled (or manual) run is a nightly of package.json's version built today (UTC); a tag run
 * `v<version>` is the channel that version belongs to (main/updates/channels.ts). Prints
 * `channel=…` and `version=…` lines, appended to $GITHUB_OUTPUT when set.
 * Usage: node scripts/run-ts.js scripts/release-version.ts
 */
import fs from 'fs';
import path from 'path';
import type { UpdateChannel } from '../main/ipc/updates';
import { channelOfVersion, nightlyVersion } from '../main/updates/channels';

export function releaseOf(o: { event: string; ref: string; baseVersion: string; date: Date }): { channel: UpdateChannel; version: string } {
  if (o.event === 'schedule' || o.event === 'workflow_dispatch') return { channel: 'nightly', version: nightlyVersion(o.baseVersion, o.date) };
  if (o.event !== 'push' || !o.ref.startsWith('v')) throw new Error(`a release runs on a schedule or a v<version> tag, not ${o.event} ${o.ref}`);
  const version = o.ref.slice(1);
  const channel = channelOfVersion(version);
  if (!channel || channel === 'nightly') throw new Error(`tag ${o.ref} is neither a stable (v1.4.0) nor a beta (v1.5.0-beta.2) version`);
  return { channel, version };
}

if (require.main === module) {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    const r = releaseOf({ event: process.env.GITHUB_EVENT_NAME ?? '', ref: process.env.GITHUB_REF_NAME ?? '', baseVersion: pkg.version, date: new Date() });
    const lines = `channel=${r.channel}\nversion=${r.version}\n`;
    process.stdout.write(lines);
    if (process.env.GITHUB_OUTPUT) fs.appendFileSync(process.env.GITHUB_OUTPUT, lines);
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
