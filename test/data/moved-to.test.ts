/**
 * A moved data folder's pointer (main/paths.ts): resolveDataDir follows `moved-to.json` to where the
 * data went; a pointer that does not parse, to a relative path, or one leading back is reported and
 * the folder itself used; one to a missing folder (a drive not connected) stops the start, saying what
 * to do (the app's error box, the CLI's line). The pointer's path is checked by the platform's rules.
 */
import fs from 'fs';
import path from 'path';
import { startErrorBox } from '../../main/app/start-error';
import { errorLine } from '../../main/cli/errors';
import { followMovedTo, MovedAwayError, MOVED_TO_FILE, parseMovedTo, resolveDataDir, writeMovedTo } from '../../main/paths';
import { tempDir } from '../helpers/engine';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  dirs = [];
});
const fresh = () => {
  const d = tempDir('hearth-moved-');
  dirs.push(d);
  return d;
};

test('the pointer names an absolute folder by the platform\'s rules', () => {
  const text = (to: unknown) => JSON.stringify({ to });
  expect(parseMovedTo(text('D:\\Hearth\\data'), path.win32)).toBe('D:\\Hearth\\data');
  expect(parseMovedTo(text('D:/Hearth/../Hearth2'), path.win32)).toBe('D:\\Hearth2');
  expect(parseMovedTo(text('\\\\server\\share\\Hearth'), path.win32)).toBe('\\\\server\\share\\Hearth');
  expect(parseMovedTo(text('D:\\Hearth'), path.posix)).toBeNull();
  expect(parseMovedTo(text('/media/disk/Hearth'), path.posix)).toBe('/media/disk/Hearth');
  expect(parseMovedTo(text('Hearth'), path.win32)).toBeNull();
  expect(parseMovedTo(text('Hearth'), path.posix)).toBeNull();
  expect(parseMovedTo(text(''), path.posix)).toBeNull();
  expect(parseMovedTo(JSON.stringify({ to: '/x', extra: 1 }), path.posix)).toBeNull();
  expect(parseMovedTo('not json', path.posix)).toBeNull();
});

test('resolveDataDir follows the pointer (through --data-dir and HEARTH_DATA_DIR), and a folder moved twice', () => {
  const old = fresh(), first = fresh(), second = fresh();
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  expect(resolveDataDir(old, {}, warn)).toBe(old);
  writeMovedTo(old, first);
  expect(resolveDataDir(old, {}, warn)).toBe(first);
  expect(resolveDataDir(undefined, { HEARTH_DATA_DIR: old }, warn)).toBe(first);
  writeMovedTo(first, second);
  expect(resolveDataDir(old, {}, warn)).toBe(second);
  expect(warnings).toEqual([]);
  expect(fs.readdirSync(old)).toEqual([MOVED_TO_FILE]);
});

test('a pointer to a missing folder (a drive not connected): the start stops, saying to connect it or delete the pointer; nothing is made', () => {
  const old = fresh(), other = fresh();
  const first = path.join(other, 'first');
  fs.mkdirSync(first);
  const gone = path.join(other, 'gone');
  writeMovedTo(old, first);
  writeMovedTo(first, gone);
  const warnings: string[] = [];
  let error: unknown;
  try {
    resolveDataDir(old, {}, (m) => warnings.push(m));
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(MovedAwayError);
  const message = `the data folder was moved to ${gone}, which is not there: connect it, or delete ${path.join(first, MOVED_TO_FILE)} to start afresh here`;
  expect((error as Error).message).toBe(message);
  expect(warnings).toEqual([]);
  expect(fs.readdirSync(old)).toEqual([MOVED_TO_FILE]);
  expect(fs.readdirSync(first)).toEqual([MOVED_TO_FILE]);
  // the app's error box and the CLI's line
  expect(startErrorBox(error)).toEqual({ title: 'Hearth could not find your data', content: `T${message.slice(1)}.` });
  expect(errorLine(error)).toBe(message);
  // the pointer deleted as it says: the folder holding it is used
  fs.rmSync(path.join(first, MOVED_TO_FILE));
  expect(resolveDataDir(old, {}, (m) => warnings.push(m))).toBe(first);
});

test('a pointer that does not parse, or a loop: the folder holding it, with a warning', () => {
  const old = fresh(), other = fresh();
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);
  fs.writeFileSync(path.join(old, MOVED_TO_FILE), '{"to": "relative"}');
  expect(followMovedTo(old, warn)).toBe(old);
  expect(warnings.pop()).toContain('does not name a folder');
  writeMovedTo(old, other);
  writeMovedTo(other, old);
  // the folder that points back is used (a move never makes a loop: it refuses a non-empty target, and a move back removes the target's pointer)
  expect(followMovedTo(old, warn)).toBe(other);
  expect(warnings.pop()).toContain('points back');
});
