/**
 * scripts/build-native.js passes the build options (HEARTH_CUDA, HEARTH_VULKAN, ...) to CMake, which
 * cmake-js does only when it configures, and its build configures a new folder alone: an option given
 * with another value than the folder's CMakeCache.txt holds configures it again first (changedOptions),
 * or `HEARTH_CUDA=ON npm run build:native` after a first build would be ignored.
 */
import fs from 'fs';
import path from 'path';
import { tempDir } from '../helpers/engine';

/* eslint-disable @typescript-eslint/no-var-requires */
const { changedOptions } = require('../../scripts/build-native.js') as { changedOptions: (out: string, given: [string, string][]) => [string, string][] };
/* eslint-enable @typescript-eslint/no-var-requires */

test('an option whose value differs from the configured folder\'s is configured again; the same value, or a folder not configured yet, is not', () => {
  const dir = tempDir();
  // a folder not configured yet: its first configure takes every option
  expect(changedOptions(dir, [['HEARTH_CUDA', 'ON']])).toEqual([]);
  fs.writeFileSync(path.join(dir, 'CMakeCache.txt'), [
    '# This is the CMakeCache file.',
    '//Vulkan backend: AUTO, ON or OFF',
    'HEARTH_VULKAN:STRING=AUTO',
    'HEARTH_CUDA:STRING=AUTO',
    'HEARTH_CPU_ALL_VARIANTS:BOOL=OFF',
    'LLAMA_CPP_DIR:PATH=/src/llama.cpp',
    '',
  ].join('\n'));
  expect(changedOptions(dir, [['HEARTH_CUDA', 'ON'], ['HEARTH_VULKAN', 'AUTO']])).toEqual([['HEARTH_CUDA', 'ON']]);
  expect(changedOptions(dir, [['HEARTH_VULKAN', 'AUTO'], ['HEARTH_CPU_ALL_VARIANTS', 'OFF'], ['LLAMA_CPP_DIR', '/src/llama.cpp']])).toEqual([]);
  // an option the folder never had (CMAKE_CUDA_ARCHITECTURES) is new to it
  expect(changedOptions(dir, [['CMAKE_CUDA_ARCHITECTURES', 'native'], ['LLAMA_CPP_DIR', '/other']])).toEqual([['CMAKE_CUDA_ARCHITECTURES', 'native'], ['LLAMA_CPP_DIR', '/other']]);
  fs.rmSync(dir, { recursive: true, force: true });
});
