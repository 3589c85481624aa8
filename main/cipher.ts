/**
 * What encrypts a secret Hearth keeps on disk (the Hugging Face token, the tools' keys): an
 * encrypt/decrypt pair main/app passes (Electron's safeStorage: the OS keychain); nothing else may
 * import electron. Without one, secrets are kept in clear in files only the user may read.
 */
export interface SecretCipher {
  encrypt(text: string): Buffer;
  decrypt(data: Buffer): string;
}
