/**
 * The encrypt/decrypt pair the Hugging Face token is kept with (main/settings/token.ts): Electron's
 * safeStorage where it is real encryption — macOS Keychain, Windows DPAPI, and on Linux a secret
 * service (gnome-libsecret, kwallet*). On Linux without one, safeStorage still "encrypts" with a
 * hard-coded password (its backend is then `basic_text`, or `unknown` before it is known): that is no
 * protection, so no cipher is given and the token is kept in a plain file with the page's warning.
 */
import type { SecretCipher } from '../settings/token';

/** The part of Electron's safeStorage used here (a double in the tests). */
export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(text: string): Buffer;
  decryptString(data: Buffer): string;
  /** Linux only (Electron ≥ 15) */
  getSelectedStorageBackend?(): string;
}

/** Linux backends that are not a keychain */
const NOT_A_KEYCHAIN = new Set(['basic_text', 'unknown']);

/** The cipher to keep the token with, or undefined (a plain file) where safeStorage is no real encryption. Call after app ready. */
export function keychainCipher(safeStorage: SafeStorageLike, platform: NodeJS.Platform): SecretCipher | undefined {
  if (!safeStorage.isEncryptionAvailable()) return undefined;
  if (platform === 'linux' && NOT_A_KEYCHAIN.has(safeStorage.getSelectedStorageBackend?.() ?? 'unknown')) return undefined;
  return { encrypt: (text) => safeStorage.encryptString(text), decrypt: (data) => safeStorage.decryptString(data) };
}
