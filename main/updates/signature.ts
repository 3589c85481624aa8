/**
 * The update feed's signatures: the release step signs each channel file and each artifact with an
 * Ed25519 key (scripts/release; the private key from HEARTH_UPDATE_SIGNING_KEY), and the app
 * carries the public key (resources/update-signing.pub) and refuses a feed or an artifact whose
 * signature does not verify. A signature is `<file>.sig` beside its file: the 64-byte Ed25519
 * signature of the file's bytes, base64, one line.
 */
import crypto from 'crypto';

export const SIGNATURE_SUFFIX = '.sig';
/** The environment variable the release step reads the private key from (PEM, PKCS#8). */
export const SIGNING_KEY_ENV = 'HEARTH_UPDATE_SIGNING_KEY';
/** The public key file the app carries (relative to the app's root: in app.asar when packaged). */
export const PUBLIC_KEY_FILE = 'resources/update-signing.pub';

/** The signature of `data`, as a .sig file holds it. */
export function signBytes(data: Uint8Array, privateKeyPem: string): string {
  const key = crypto.createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error('the update signing key is not an Ed25519 key');
  return `${crypto.sign(null, data, key).toString('base64')}\n`;
}

/** Whether `signature` (a .sig file's text) is `publicKeyPem`'s signature of `data`; false for anything malformed. */
export function verifyBytes(data: Uint8Array, signature: string, publicKeyPem: string): boolean {
  try {
    const sig = Buffer.from(signature.trim(), 'base64');
    if (sig.length !== 64) return false;
    const key = crypto.createPublicKey(publicKeyPem);
    if (key.asymmetricKeyType !== 'ed25519') return false;
    return crypto.verify(null, data, key, sig);
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
