/**
 * The models' one definition of a path inside a folder (main/models/inside.ts), on both path flavours
 * whatever the host, and of a split model's file names (main/gguf/split-name.ts).
 */
import path from 'path';
import { inside } from '../../main/models/inside';
import { MAX_SPLIT_PARTS, splitPartPaths, splitParts, SPLIT_GGUF, withoutSplitSuffix } from '../../main/gguf/split-name';

describe('inside(parent, child)', () => {
  test('POSIX: itself (unless strict), below, beside, above, a name beginning with ..', () => {
    const p = path.posix;
    expect(inside('/m', '/m', { p })).toBe(true);
    expect(inside('/m', '/m/', { p, orSelf: false })).toBe(false);
    expect(inside('/m', '/m/a.gguf', { p })).toBe(true);
    expect(inside('/m', '/m/sub/../a.gguf', { p, orSelf: false })).toBe(true);
    expect(inside('/m', '/m/..foo', { p })).toBe(true);
    expect(inside('/m', '/m/..', { p })).toBe(false);
    expect(inside('/m', '/mx/a.gguf', { p })).toBe(false);
    expect(inside('/m', '/a.gguf', { p })).toBe(false);
    expect(inside('/m/sub', '/m', { p })).toBe(false);
    expect(inside('/m', '/m/../n/a.gguf', { p })).toBe(false);
  });

  test('Windows: another drive is never inside; ..foo is; the case of a drive letter or name does not matter; UNC shares', () => {
    const p = path.win32;
    expect(p.relative('C:\\a', 'D:\\b')).toBe('D:\\b'); // why startsWith('..') alone is wrong
    expect(inside('C:\\a', 'D:\\b', { p })).toBe(false);
    expect(inside('C:\\a', 'D:\\a\\b', { p })).toBe(false);
    expect(inside('C:\\a', 'C:\\a\\..foo\\m.gguf', { p })).toBe(true);
    expect(inside('C:\\a', 'c:\\A\\m.gguf', { p })).toBe(true);
    expect(inside('C:\\a', 'c:\\A', { p, orSelf: false })).toBe(false);
    expect(inside('C:\\a', 'C:\\ab\\m.gguf', { p })).toBe(false);
    expect(inside('C:\\a\\b', 'C:\\a', { p })).toBe(false);
    expect(inside('\\\\srv\\share\\m', '\\\\srv\\share\\m\\x.gguf', { p })).toBe(true);
    expect(inside('\\\\srv\\share\\m', '\\\\srv\\other\\m\\x.gguf', { p })).toBe(false);
  });
});

describe('split names', () => {
  test('a part: its number, the count, every part’s path; the name without the suffix; other names are not parts', () => {
    expect(splitParts('/m/big-00002-of-00003.gguf')).toEqual({
      part: 2, of: 3, parts: ['/m/big-00001-of-00003.gguf', '/m/big-00002-of-00003.gguf', '/m/big-00003-of-00003.gguf'].map((f) => path.join(f)),
    });
    expect(splitParts('/m/big-0001-of-0003.gguf')).toBeNull();
    // a name counting more parts than the engine loads is no part (the library lists it as itself)
    expect(splitParts(`/m/big-00001-of-${String(MAX_SPLIT_PARTS).padStart(5, '0')}.gguf`)?.parts).toHaveLength(MAX_SPLIT_PARTS);
    expect(splitParts(`/m/big-00001-of-${String(MAX_SPLIT_PARTS + 1).padStart(5, '0')}.gguf`)).toBeNull();
    // nor is one of 0 parts, a part 0, or a part past the count
    for (const name of ['big-00001-of-00000.gguf', 'big-00000-of-00002.gguf', 'big-00003-of-00002.gguf']) expect(splitParts(`/m/${name}`)).toBeNull();
    expect(splitParts('/m/big.gguf')).toBeNull();
    expect(withoutSplitSuffix('big-00001-of-00003')).toBe('big');
    expect(withoutSplitSuffix('big-00001-of-00003-x')).toBe('big-00001-of-00003-x');
    expect('Q-00001-OF-00002.GGUF'.replace(SPLIT_GGUF, '$1.gguf')).toBe('Q.gguf');
  });
});

test("a split model's parts are named as llama.cpp names them from the first part's path and the header's count (pure function)", () => {
  expect(splitPartPaths('/m/x-00001-of-00003.gguf', 3)).toEqual(['/m/x-00001-of-00003.gguf', '/m/x-00002-of-00003.gguf', '/m/x-00003-of-00003.gguf']);
  // the count is the header's: a name that says another count is no first part of this model, as a second part is not
  expect(splitPartPaths('/m/x-00001-of-00002.gguf', 3)).toBeNull();
  expect(splitPartPaths('/m/x-00002-of-00003.gguf', 3)).toBeNull();
  expect(splitPartPaths('/m/x-00001-of-00003.GGUF', 3)).toBeNull(); // llama.cpp compares exactly
  expect(splitPartPaths('-00001-of-00002.gguf', 2)).toBeNull(); // no prefix
  expect(splitPartPaths('/m/a-00001-of-65535.gguf', 65535)?.[65534]).toBe('/m/a-65535-of-65535.gguf');
});
