/**
 * The update feed's signatures: the release step signs each channel file and each artifact with an
 * Ed25519 key (scripts/release; the private key from HEARTH_UPDATE_SIGNING_KEY), and the app
 * carries the public key (resources/update-signing.pub) and refuses a feed or an artifact whose
 * signature does not verify. A signature is `<file>.sig` beside its file: the 64-byte Ed25519
 * signature, base64, one line, of a message that binds the file's name to its content: a channel
 * file's bytes (signedMessage: `hearth-update-signature-v1\n<file name>\n<bytes>`), an artifact's
 * streamed SHA-512 (artifactMessage: `hearth-update-artifact-v1\n<file name>\n<sha512 base64>`, so an
 * installer of any size is never read into memory). A signed file served under another name
 * (alpha-linux.yml as latest-linux.yml, an arm64 feed to x64) does not verify, and the two domains
 * keep a channel file's signature from ever passing for an artifact's or the other way round.
 */
import crypto from 'crypto';
import fs from 'fs';

export const SIGNATURE_SUFFIX = '.sig';
/** The environment variable the release step reads the private key from (PEM, PKCS#8). */
export const SIGNING_KEY_ENV = 'HEARTH_UPDATE_SIGNING_KEY';
/** The public key file the app carries (relative to the app's root: in app.asar when packaged). */
export const PUBLIC_KEY_FILE = 'resources/update-signing.pub';

/** The domain of a channel file's signature (a new scheme gets a new one). */
export const SIGNATURE_DOMAIN = 'hearth-update-signature-v1';
/** The domain of an artifact's (installer's, blockmap's) signature: over its name and SHA-512, never its bytes. */
export const ARTIFACT_SIGNATURE_DOMAIN = 'hearth-update-artifact-v1';
/** A .sig file is one base64 line of 64 bytes; anything longer is refused unread (the updater reads at most this many bytes). */
export const SIGNATURE_MAX_BYTES = 1024;

function checkName(name: string): void {
  if (name.length === 0 || name.includes('/') || name.includes('\\') || name.includes('\n')) throw new Error(`a signed file's name is a plain file name, not "${name}"`);
}

/** What is signed for the channel file named `name` (its base name, as the feed serves it) holding `data`. */
export function signedMessage(name: string, data: Uint8Array): Buffer {
  checkName(name);
  return Buffer.concat([Buffer.from(`${SIGNATURE_DOMAIN}\n${name}\n`, 'utf8'), data]);
}

/** What is signed for the artifact named `name` whose SHA-512 (base64, as fileSha512 gives it) is `sha512`. */
export function artifactMessage(name: string, sha512: string): Buffer {
  checkName(name);
  if (!/^[A-Za-z0-9+/]{86}==$/.test(sha512)) throw new Error(`not a base64 SHA-512: "${sha512}"`);
  return Buffer.from(`${ARTIFACT_SIGNATURE_DOMAIN}\n${name}\n${sha512}`, 'utf8');
}

/** A file's SHA-512, base64 (as electron-builder's channel files give it), read as a stream: no file is held in memory. */
export async function fileSha512(file: string): Promise<{ sha512: string; size: number }> {
  const hash = crypto.createHash('sha512');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha512: hash.digest('base64'), size };
}

function signMessage(message: Buffer, privateKeyPem: string): string {
  const key = crypto.createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the update signing key is not an Ed25519 key');
  return `${crypto.sign(null, message, key).toString('base64')}\n`;
}

function verifyMessage(message: () => Buffer, signature: string, publicKeyPem: string): boolean {
  try {
    const sig = Buffer.from(signature.trim(), 'base64');
    if (sig.length !== 64) return false;
    const key = crypto.createPublicKey(publicKeyPem);
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return crypto.verify(null, message(), key, sig);
  } catch {
    return false;
  }
}

/** The signature of the channel file named `name` holding `data`, as its .sig file holds it. */
export function signBytes(name: string, data: Uint8Array, privateKeyPem: string): string {
  return signMessage(signedMessage(name, data), privateKeyPem);
}

/** Whether `signature` (a .sig file's text) is `publicKeyPem`'s signature of the channel file named `name` holding `data`; false for anything malformed. */
export function verifyBytes(name: string, data: Uint8Array, signature: string, publicKeyPem: string): boolean {
  return verifyMessage(() => signedMessage(name, data), signature, publicKeyPem);
}

/** The signature of the artifact `file`, published as `name` (its SHA-512 streamed), as its .sig file holds it. */
export async function signArtifact(name: string, file: string, privateKeyPem: string): Promise<string> {
  return signMessage(artifactMessage(name, (await fileSha512(file)).sha512), privateKeyPem);
}

/** Whether `signature` is `publicKeyPem`'s signature of the artifact `file` published as `name` (its SHA-512 streamed); false for anything malformed. */
export async function verifyArtifact(name: string, file: string, signature: string, publicKeyPem: string): Promise<boolean> {
  const { sha512 } = await fileSha512(file);
  return verifyMessage(() => artifactMessage(name, sha512), signature, publicKeyPem);
}

/** A new key pair (scripts/release keygen): the private key for the release secret, the public key for the app. */
export function generateSigningKeys(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** The public key of a private one (the release step checks it matches the key the app carries). */
export function publicKeyOf(privateKeyPem: string): string {
  return crypto.createPublicKey(crypto.createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'pem' }).toString();
}
