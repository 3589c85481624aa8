/**
 * Files Hearth reads back from its own data folder are read only as regular files, bounded (main/regular-file.ts's
 * readRegularFileSync): a FIFO there (or a link to an endless device) would have blocked the process for good
 * at the read (a synchronous read: the whole main process). On a real folder; each reader meets a FIFO, and
 * a link to /dev/zero, and goes on as with no file.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { collectMarks } from '../../main/engine/render-marks';
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

  test.each(['fifo', 'zero'] as const)("the secrets file (%s): no secrets, a warning, and setting one writes a regular file in its place", (kind) => {
    const dir = tempDir();
    planted(path.join(dir, 'provider-secrets.json'), kind);
    const logger = collectingLogger();
    const secrets = new SecretStore(dir, { logger, file: 'provider-secrets.json' });
    expect(secrets.get('openai')).toBeNull();
    expect(logger.lines.some((l) => /provider-secrets\.json is not a regular file/.test(l))).toBe(true);
    secrets.set('openai', 'sk-test');
    expect(new SecretStore(dir, { logger, file: 'provider-secrets.json' }).get('openai')).toBe('sk-test');
    expect(fs.lstatSync(path.join(dir, 'provider-secrets.json')).isFile()).toBe(true);
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
