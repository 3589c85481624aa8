/**
 * The release step (run as `node scripts/release …`, bundled by run-ts.js):
 *
 *   keygen [--force] [--public-key FILE]
 *     prints a new Ed25519 private key (PEM) once, for the HEARTH_UPDATE_SIGNING_KEY secret, and
 *     writes its public key to resources/update-signing.pub (the key the app carries) — refused when
 *     that file exists unless --force; --public-key FILE writes it elsewhere (a throwaway key for a
 *     trial release, passed to the release step's --public-key)
 *
 *   --channel stable|beta|nightly --version V | --base 1.5.0 (nightly: V = nightlyVersion(base, today))
 *   [--platform P --arch A --gpu G] --out DIR [--feed-url URL] [--artifacts DIR] [--notes FILE] [--public-key FILE]
 *     checks V against the channel, checks that the signing key (HEARTH_UPDATE_SIGNING_KEY) is the
 *     one whose public key the app carries (or --public-key's, for tests), builds the installers with
 *     scripts/package-app.js unless --artifacts names them, then copies and signs the artifacts into
 *     DIR/<gpu> (each GPU build has its own feed folder: main/updates/build-info.ts) and writes or
 *     merges the channel files of every channel that sees the release (feed.ts; each says the data
 *     schema the release opens: main/store/migrations.ts LATEST_VERSION, and its GPU build: `gpu`) — with the ones
 *     already published at URL/<gpu>/ when --feed-url is given (their signatures checked).
 *
 *   --help  prints the usage
 *
 * Exit status: 0 done, 1 a refusal or failure (the message says which, e.g. the release's own
 * channel file already holds a version not older than it), 2 a usage error.
 */
import fs from 'fs';
import os from 'os';
import path from 'path';
import { parseArgs } from 'util';
import { UPDATE_CHANNELS, UpdateChannelSchema } from '../main/ipc/updates';
import { checkReleaseVersion, nightlyVersion } from '../main/updates/channels';
import { fetchPublishedFeeds, publishRelease } from '../main/updates/feed';
import { feedUrlOf } from '../main/updates/build-info';
import { LATEST_VERSION } from '../main/store/migrations';
import { generateSigningKeys, PUBLIC_KEY_FILE, publicKeyOf, SIGNING_KEY_ENV } from '../main/updates/signature';

const ROOT = path.resolve(__dirname, '..');
// bundled into .cache/run/ by run-ts.js: the repository root is found from the working tree's scripts/ folder
const REPO = fs.existsSync(path.join(ROOT, 'package.json')) ? ROOT : path.resolve(__dirname, '..', '..');

class UsageError extends Error {}

/** scripts/package-app.js: the installers, and the GPU builds (GPUS, the one list). */
function packaging(): { GPUS: string[]; packageApp(o: { platform: string; arch: string; gpu: string; version: string; out: string; dir: string }): Promise<string[]> } {
  return require(path.join(REPO, 'scripts', 'package-app.js'));
}
const { GPUS } = packaging();

const USAGE = `usage: node scripts/release keygen [--force] [--public-key FILE]
       node scripts/release --channel ${UPDATE_CHANNELS.join('|')} (--version V | --base V for nightly) --out DIR
                            [--feed-url URL] [--artifacts DIR] [--notes FILE] [--platform P] [--arch A] [--gpu ${GPUS.join('|')}] [--public-key FILE]
       node scripts/release --help`;

const HELP = `${USAGE}

keygen               make the update signing key pair: prints the private key (PEM) once, for the
                     ${SIGNING_KEY_ENV} secret, and writes its public key to ${PUBLIC_KEY_FILE}
                     (the key the app carries; commit it)
  --force            replace an existing ${PUBLIC_KEY_FILE} (installed apps then refuse every
                     release signed with the new key: they carry the old one)
  --public-key FILE  write the public key to FILE instead (a throwaway key for a trial release)

The release step signs with the private key in the environment variable ${SIGNING_KEY_ENV}.
  --channel C        ${UPDATE_CHANNELS.join(', ')}: the channel the release is for
  --version V        the release's version: 1.4.0 (stable), 1.5.0-beta.2 (beta), 1.5.0-alpha.20261127 (nightly)
  --base V           nightly only, instead of --version: the version is V-alpha.<today, UTC>
  --out DIR          the feed folder; the release goes into DIR/<gpu> (each GPU build has its own feed)
  --feed-url URL     the published feed's root (e.g. https://updates.hearth.app/): its channel files
                     for this build (URL/<gpu>/) are fetched, their signatures checked, and merged
  --artifacts DIR    publish the installers in DIR instead of building them with scripts/package-app.js
                     (only installers and their .blockmap files are taken; anything else is ignored)
  --notes FILE       release notes (text) shown by the app
  --platform P       linux, win32 or darwin (default: this machine's)
  --arch A           x64 or arm64 (default: this machine's)
  --gpu G            ${GPUS.join(', ')}: the backend the native build has (default: cpu)
  --public-key FILE  the public key the signing key must match (default: ${PUBLIC_KEY_FILE})

Exit status: 0 done, 1 a refusal or failure (e.g. the channel file of the release's own channel
already holds a version not older than it: bump package.json's version), 2 a usage error.`;

function keygen(argv: string[]): void {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { force: { type: 'boolean' }, 'public-key': { type: 'string' } }, strict: true }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const pub = values['public-key'] ? path.resolve(values['public-key']) : path.join(REPO, PUBLIC_KEY_FILE);
  if (fs.existsSync(pub) && !values.force) {
    throw new Error(`${path.relative(process.cwd(), pub) || pub} exists: installed apps carry that key and would refuse releases signed with a new one. Pass --force to replace it, or --public-key FILE for a throwaway key`);
  }
  const { privateKeyPem, publicKeyPem } = generateSigningKeys();
  fs.mkdirSync(path.dirname(pub), { recursive: true });
  fs.writeFileSync(pub, publicKeyPem);
  process.stderr.write(`wrote the public key to ${path.relative(process.cwd(), pub) || pub}; the private key below is shown once: store it as the ${SIGNING_KEY_ENV} secret\n`);
  process.stdout.write(privateKeyPem);
}

async function release(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        channel: { type: 'string' }, version: { type: 'string' }, base: { type: 'string' },
        platform: { type: 'string' }, arch: { type: 'string' }, gpu: { type: 'string' },
        out: { type: 'string' }, 'feed-url': { type: 'string' }, artifacts: { type: 'string' }, notes: { type: 'string' }, 'public-key': { type: 'string' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const channel = UpdateChannelSchema.safeParse(values.channel);
  if (!channel.success) throw new UsageError(`--channel is one of ${UPDATE_CHANNELS.join(', ')}`);
  if (!values.out) throw new UsageError('--out DIR is needed (the feed folder)');
  if (values.base !== undefined && channel.data !== 'nightly') throw new UsageError('--base is for a nightly (its version is the base and the date)');
  if ((values.version === undefined) === (values.base === undefined)) throw new UsageError(channel.data === 'nightly' ? 'give --version or --base' : '--version is needed');
  const version = values.version ?? nightlyVersion(values.base!, new Date());
  checkReleaseVersion(channel.data, version);
  const gpu = values.gpu ?? 'cpu';
  if (!GPUS.includes(gpu)) throw new UsageError(`--gpu is one of ${GPUS.join(', ')}`);
  const out = path.join(path.resolve(values.out), gpu);

  const privateKeyPem = process.env[SIGNING_KEY_ENV];
  if (!privateKeyPem) throw new Error(`${SIGNING_KEY_ENV} is not set: it holds the update signing key (made by \`node scripts/release keygen\`)`);
  const pubFile = values['public-key'] ? path.resolve(values['public-key']) : path.join(REPO, PUBLIC_KEY_FILE);
  let carried: string;
  try {
    carried = fs.readFileSync(pubFile, 'utf8');
  } catch (e) {
    throw new Error(`the public key ${pubFile} cannot be read: ${(e as Error).message}`);
  }
  let signing: string;
  try {
    signing = publicKeyOf(privateKeyPem);
  } catch (e) {
    throw new Error(`${SIGNING_KEY_ENV} is not a private key: ${(e as Error).message}`);
  }
  if (signing.trim() !== carried.trim()) {
    throw new Error(`the key in ${SIGNING_KEY_ENV} is not the one the app carries (${path.relative(process.cwd(), pubFile) || pubFile}): the app would refuse this release`);
  }
  const notes = values.notes ? fs.readFileSync(values.notes, 'utf8') : null;
  const platform = (values.platform ?? process.platform) as NodeJS.Platform;
  const arch = values.arch ?? process.arch;

  let artifacts: string[];
  if (values.artifacts) {
    const dir = path.resolve(values.artifacts);
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`--artifacts ${values.artifacts}: no such folder (it holds the installers to publish)`);
    artifacts = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(dir, e.name));
  } else {
    // the installers (scripts/package-app.js: electron-builder with this version)
    const { packageApp } = packaging();
    const build = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-release-'));
    artifacts = await packageApp({ platform, arch, gpu, version, out: build, dir: REPO });
  }
  if (values['feed-url']) {
    for (const f of await fetchPublishedFeeds({ url: feedUrlOf(values['feed-url'], gpu), channel: channel.data, platform, arch, out, publicKeyPem: carried })) console.log(`merging with the published ${f}`);
  }
  const r = await publishRelease({ channel: channel.data, version, platform, arch, artifacts, out, privateKeyPem, releaseNotes: notes, schemaVersion: LATEST_VERSION, gpu });
  for (const f of r.written) console.log(`wrote ${f} (${version})`);
  for (const k of r.kept) console.log(`kept ${k.file}: it holds ${k.version}, not older than ${version} (that channel already has a newer build)`);
  if (r.ignored.length) console.log(`not published (neither an installer nor its blockmap): ${r.ignored.join(', ')}`);
  console.log(`signed ${r.artifacts.length} artifact(s) in ${out}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  try {
    if (argv.includes('--help') || argv.includes('-h')) process.stdout.write(`${HELP}\n`);
    else if (argv[0] === 'keygen') keygen(argv.slice(1));
    else await release(argv);
  } catch (e) {
    process.stderr.write(`release: ${(e as Error).message}\n`);
    if (e instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}

void main();
