// Jest runs the TypeScript sources as native ES modules (ts-jest, transpile only: type errors are
// the job of `npm run typecheck`). `npm test` passes --experimental-vm-modules for ESM support.

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: false }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // Kernel tests create real cgroups, namespaces and mounts: give them room, never wall-clock asserts.
  testTimeout: 60_000,
  setupFiles: ['<rootDir>/test/support/subid-env.js'],
  // Cgroups of an earlier run that was killed before its cleanup (test/support/stale-sweep.js).
  globalSetup: '<rootDir>/test/support/stale-sweep.js',
};
