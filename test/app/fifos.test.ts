/**
 * Files Hearth reads back from its own data folder are read only as regular files, bounded (main/regular-file.ts's
 * readRegularFileSync): a FIFO there (or a link to an endless device) would have blocked the process for good
 * at the read (a synchronous read: the whole main process). On a real folder; each reader meets a FIFO, and
 * a link to /dev/zero, and goes on as with no file. A model file's copy into the library and its hash
 * refuse a FIFO in the model's place rather than wait on it.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';
import { collectMarks } from '../../main/engine/render-marks';
import { copyVerified } from '../../main/models/copy';
import { sha256Of } from '../../main/models/disk';
import { SecretStore } from '../../main/secrets';
import { installFailureFile } from '../../main/updates/install-failure';
import { collectingLogger, tempDir } from '../helpers/engine';

const posix = process.platform !== 'win32';

(posix ? describe : describe.skip)('a FIFO or an endless device where a data-folder file should be', () => {
  const planted = (file: string, kind: 'fifo' | 'zero') => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (kind === 'fifo') execFileSync('mkfifo', [file]);
    else fs.symlinkSync('/dev/zero', file);
    return file;
  };

  test.each(['fifo', 'zero'] as const)('the secrets file (%s): no secrets, a warning; the next set moves it aside and writes a regular file', (kind) => {
    const dir = tempDir();
    const file = planted(path.join(dir, 'provider-secrets.json'), kind);
    const logger = collectingLogger();
    const secrets = new SecretStore(dir, { logger, file: 'provider-secrets.json' });
    expect(secrets.get('openai')).toBeNull();
    expect(logger.lines.some((l) => /provider-secrets\.json is not a regular file.*kept as provider-secrets\.json\.unreadable-<time>/.test(l))).toBe(true);
    secrets.set('openai', 'sk-test');
    expect(new SecretStore(dir, { logger, file: 'provider-secrets.json' }).get('openai')).toBe('sk-test');
    expect(fs.lstatSync(file).isFile()).toBe(true);
    const aside = fs.readdirSync(dir).filter((n) => /^provider-secrets\.json\.unreadable-\d+$/.test(n));
    expect(aside).toHaveLength(1);
    expect(kind === 'fifo' ? fs.lstatSync(path.join(dir, aside[0])).isFIFO() : fs.lstatSync(path.join(dir, aside[0])).isSymbolicLink()).toBe(true);
  });

  test("a secrets file that does not parse (a newer version's) is kept aside, not written over, when a secret is set", () => {
    const dir = tempDir();
    const file = path.join(dir, 'provider-secrets.json');
    const newer = JSON.stringify({ openai: { keychain: false, value: 'sk-old', addedLater: 1 } });
    fs.writeFileSync(file, newer);
    const secrets = new SecretStore(dir, { logger: collectingLogger(), file: 'provider-secrets.json' });
    expect(secrets.get('openai')).toBeNull();
    secrets.set('other', 'sk-new');
    const aside = fs.readdirSync(dir).filter((n) => n.startsWith('provider-secrets.json.unreadable-'));
    expect(aside.map((n) => fs.readFileSync(path.join(dir, n), 'utf8'))).toEqual([newer]);
    expect(new SecretStore(dir, { logger: collectingLogger(), file: 'provider-secrets.json' }).get('other')).toBe('sk-new');
  });

  test('the secrets file as a link to a regular file (a dotfiles setup) is read through it', () => {
    const dir = tempDir();
    const real = path.join(tempDir(), 'secrets.json');
    fs.writeFileSync(real, JSON.stringify({ openai: { keychain: false, value: 'sk-kept' }, other: { keychain: false, value: 'x' } }));
    fs.symlinkSync(real, path.join(dir, 'provider-secrets.json'));
    const secrets = new SecretStore(dir, { logger: collectingLogger(), file: 'provider-secrets.json' });
    expect(secrets.get('openai')).toBe('sk-kept');
    secrets.set('new', 'sk-new');
    const again = new SecretStore(dir, { logger: collectingLogger(), file: 'provider-secrets.json' });
    expect([again.get('openai'), again.get('other'), again.get('new')]).toEqual(['sk-kept', 'x', 'sk-new']);
  });

  test.each(['fifo', 'zero'] as const)('the install-failure note (%s): no note', (kind) => {
    const file = planted(path.join(tempDir(), 'updater', 'install-failed.json'), kind);
    expect(installFailureFile(file).take()).toBeNull();
  });

  test('the render marks: a FIFO and a link to a device are no marks; a real mark is read', () => {
    const dir = tempDir();
    planted(path.join(dir, 'a'), 'fifo');
    planted(path.join(dir, 'b'), 'zero');
    fs.writeFileSync(path.join(dir, 'c'), '/models/m.gguf');
    expect(collectMarks(dir)).toEqual(['/models/m.gguf']);
  });
});

(posix ? describe : describe.skip)('a FIFO in a model file\'s place', () => {
  test('its copy into the library and its hash are refused at once; no part file is left', async () => {
    const dir = tempDir();
    const fifo = path.join(dir, 'model.gguf');
    execFileSync('mkfifo', [fifo]);
    const target = path.join(dir, 'library', 'model.gguf');
    fs.mkdirSync(path.dirname(target));
    await expect(copyVerified(fifo, target, 1024, () => undefined)).rejects.toThrow(/model\.gguf is no longer a regular file/);
    expect(fs.readdirSync(path.dirname(target))).toEqual([]);
    await expect(sha256Of(fifo)).rejects.toThrow(/model\.gguf is not a regular file/);
    // a regular file hashes as ever
    fs.writeFileSync(path.join(dir, 'real.gguf'), 'GGUF');
    expect((await sha256Of(path.join(dir, 'real.gguf'))).digest('hex')).toBe(createHash('sha256').update('GGUF').digest('hex'));
  }, 10_000);
});
