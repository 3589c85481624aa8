/**
 * Which safeStorage the Hugging Face token is kept with. Electron's safeStorage is a double here (no
 * Electron binary exists on this machine): a reversible stand-in with the backend it reports.
 */
import { keychainCipher, type SafeStorageLike } from '../../main/app/secrets';

function storage(available: boolean, backend?: string): SafeStorageLike {
  return {
    isEncryptionAvailable: () => available,
    encryptString: (t) => Buffer.from([...t].reverse().join('')),
    decryptString: (b) => [...b.toString()].reverse().join(''),
    ...(backend === undefined ? {} : { getSelectedStorageBackend: () => backend }),
  };
}

test('a real keychain (macOS, Windows, a Linux secret service) encrypts; the pair round-trips', () => {
  for (const [platform, s] of [['darwin', storage(true)], ['win32', storage(true)], ['linux', storage(true, 'gnome_libsecret')], ['linux', storage(true, 'kwallet5')]] as const) {
    const c = keychainCipher(s, platform);
    expect(c).toBeDefined();
    expect(c!.decrypt(c!.encrypt('hf_secret'))).toBe('hf_secret');
    expect(c!.encrypt('hf_secret').toString()).not.toBe('hf_secret');
  }
});

test("Linux's basic_text (a hard-coded password) or an unknown backend is no keychain: a plain file with the warning instead", () => {
  expect(keychainCipher(storage(true, 'basic_text'), 'linux')).toBeUndefined();
  expect(keychainCipher(storage(true, 'unknown'), 'linux')).toBeUndefined();
  expect(keychainCipher(storage(true), 'linux')).toBeUndefined();
  expect(keychainCipher(storage(false), 'darwin')).toBeUndefined();
});
