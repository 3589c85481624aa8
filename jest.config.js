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
  // linkedom (the web tools' DOM, main/tools/builtins/readable.ts) requires packages that ship only as
  // ES modules; Node runs them (require of ESM), jest's module system cannot, so SWC turns them into CommonJS
  transformIgnorePatterns: ['/node_modules/(?!(css-select|css-what|domutils|domhandler|domelementtype|dom-serializer|nth-check|boolbase|entities|cssomnom)/)'],
  testEnvironment: 'node',
  testTimeout: 120000,
  // one suite at a time: the engine's threads, Chromium and the server share 2 cores, and oversubscribed
  // spin-waiting threads stall token generation for seconds
  maxWorkers: 1,
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
};
