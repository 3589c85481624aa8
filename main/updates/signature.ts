/**
 * The update feed's signatures: the release step signs each channel file and each artifact with an
 * Ed25519 key (scripts/release; the private key from HEARTH_UPDATE_SIGNING_KEY), and the app
 * carries the public key (resources/update-signing.pub) and refuses a feed or an artifact whose
 * signature does not verify. A signature is `<file>.sig` beside its file: the 64-byte Ed25519
 * signature, base64, one line, of a message that binds the file's name to its bytes
 * (signedMessage: `hearth-update-signature-v1\n<file name>\n<bytes>`), so a signed file served under
 * another name (alpha-linux.yml as latest-linux.yml, an arm64 feed to x64) does not verify.
 */
import crypto from 'crypto';

export const SIGNATURE_SUFFIX = '.sig';
/** The environment variable the release step reads the private key from (PEM, PKCS#8). */
export const SIGNING_KEY_ENV = 'HEARTH_UPDATE_SIGNING_KEY';
/** The public key file the app carries (relative to the app's root: in app.asar when packaged). */
export const PUBLIC_KEY_FILE = 'resources/update-signing.pub';

/** The domain of every signature (a new scheme gets a new one). */
export const SIGNATURE_DOMAIN = 'hearth-update-signature-v1';
/** A .sig file is one base64 line of 64 bytes; anything longer is refused unread (the updater reads at most this many bytes). */
export const SIGNATURE_MAX_BYTES = 1024;

/** What is signed for the file named `name` (its base name, as the feed serves it) holding `data`. */
export function signedMessage(name: string, data: Uint8Array): Buffer {
  if (name.length === 0 || name.includes('/') || name.includes('\\') || name.includes('\n')) throw new Error(`a signed file's name is a plain file name, not "${name}"`);
  return Buffer.concat([Buffer.from(`${SIGNATURE_DOMAIN}\n${name}\n`, 'utf8'), data]);
}

/** The signature of the file named `name` holding `data`, as its .sig file holds it. */
export function signBytes(name: string, data: Uint8Array, privateKeyPem: string): string {
  const key = crypto.createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the update signing key is not an Ed25519 key');
  return `${crypto.sign(null, signedMessage(name, data), key).toString('base64')}\n`;
}

/** Whether `signature` (a .sig file's text) is `publicKeyPem`'s signature of the file named `name` holding `data`; false for anything malformed. */
export function verifyBytes(name: string, data: Uint8Array, signature: string, publicKeyPem: string): boolean {
  try {
    const sig = Buffer.from(signature.trim(), 'base64');
    if (sig.length !== 64) return false;
    const key = crypto.createPublicKey(publicKeyPem);
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return crypto.verify(null, signedMessage(name, data), key, sig);
  } catch {
    return false;
  }
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
