/** Jest: TypeScript through SWC; node environment unless a file asks for jsdom. */
module.exports = {
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/test/**/*.test.tsx'],
  testPathIgnorePatterns: ['/node_modules/', '/build/', '/build-variants/', '/dist/'],
  // the all-CPU-variants build (test/engine/cpu-variants.test.ts) holds a second llama.cpp clone
  modulePathIgnorePatterns: ['<rootDir>/build-variants/'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript', tsx: true }, transform: { react: { runtime: 'automatic' } }, target: 'es2022' },
      module: { type: 'commonjs' },
    }],
  },
  testEnvironment: 'node',
  testTimeout: 120000,
  // one suite at a time: the engine's threads, Chromium and the server share 2 cores, and oversubscribed
  // spin-waiting threads stall token generation for seconds
  maxWorkers: 1,
  globalSetup: '<rootDir>/test/global-setup.ts',
};
