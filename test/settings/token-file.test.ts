/**
 * The saved Hugging Face token (<data>/hf-token, main/settings/token.ts) is read as a bounded regular
 * file and checked as a token: a link, a FIFO, a folder, a huge file or text that is no token is no
 * saved token (with a warning), never followed, waited on or read whole.
 */
import { execFileSync } from 'child_process';
import fs from 'fs';
import path from 'path';
import { TokenVault } from '../../main/settings/token';
import { cleanupDirs, recordingLogger, tmpDir } from '../store/helpers';

afterEach(cleanupDirs);

test('a regular file holding a token is read; anything else is no token, with a warning', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'hf-token');
  const read = (env: NodeJS.ProcessEnv = {}) => {
    const logger = recordingLogger();
    const vault = new TokenVault(dir, { env, logger });
    return { token: vault.token(), storage: vault.storage(), warnings: logger.warnings.map((w) => w.msg) };
  };

  expect(read()).toEqual({ token: undefined, storage: 'none', warnings: [] });
  fs.writeFileSync(file, 'hf_saved_token_1\n');
  expect(read()).toEqual({ token: 'hf_saved_token_1', storage: 'file', warnings: [] });

  const refused = (why: RegExp) => {
    const r = read({ HF_TOKEN: 'hf_from_env' });
    expect(r.token).toBe('hf_from_env'); // the saved one is not there: the environment's is used
    expect(r.warnings).toEqual([expect.stringMatching(why)]);
  };
  fs.writeFileSync(file, 'not a token');
  refused(/could not be read: it is not a Hugging Face token \(a token is printable ASCII without spaces\)/);
  fs.writeFileSync(file, `hf_${'a'.repeat(100_000)}`);
  refused(/it is not a regular file of at most 16384 bytes/);
  fs.rmSync(file);
  fs.writeFileSync(path.join(dir, 'elsewhere'), 'hf_saved_token_1');
  fs.symlinkSync(path.join(dir, 'elsewhere'), file);
  refused(/it is not a regular file/);
  fs.rmSync(file);
  fs.mkdirSync(file);
  refused(/it is not a regular file/);
  fs.rmSync(file, { recursive: true });
  if (process.platform !== 'win32') {
    execFileSync('mkfifo', [file]); // a read of it would wait for a writer forever
    refused(/it is not a regular file/);
  }
});
