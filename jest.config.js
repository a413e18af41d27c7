// Three projects, told apart by file name:
// - unit (`*.test.ts`): fast, one piece at a time, no servers;
// - e2e (`*.e2e.test.ts`): several services composed in one process, or the real commands and service mains
//   spawned, on the embedded adapters (and the prepared models); no globalSetup;
// - integration (`*.int.test.ts`): real Kafka, FerretDB, Weaviate and S3Proxy started by the harness in
//   globalSetup, including the end-to-end tests that need them.
// `npm test` runs all three, each test once; `npm run test:unit`, `test:e2e`, `test:int` run one.
// A fourth, local-fixtures (`*.local.test.ts`), reads real exports that may not be redistributed from
// ../shared/fixtures/local-only beside the repository; it exists only where that folder does (CI), so a
// user's clone runs everything else without it.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const localFixtures = fileURLToPath(new URL('../shared/fixtures/local-only', import.meta.url));
// The cache root as the prepare scripts and the harness read it (blank = unset, relative = from the working
// directory), made absolute once here: workers and every process a test starts in another folder inherit it
// and find the same prepared models, venvs and builds.
if (process.env.LLMTWIN_CACHE_DIR?.trim())
  process.env.LLMTWIN_CACHE_DIR = resolve(process.env.LLMTWIN_CACHE_DIR.trim());
else delete process.env.LLMTWIN_CACHE_DIR;
const swc = [
  '@swc/jest',
  {
    // keepImportAttributes: JSON imports keep their `with { type: 'json' }`, which Node requires.
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022', experimental: { keepImportAttributes: true } },
    module: { type: 'es6' },
  },
];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};
export default {
  // Per-test default; integration tests that start servers set their own, longer limits.
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/{packages,services,gateway,cli}/**/*.test.ts',
        '<rootDir>/gateway/**/*.test.ts',
        '<rootDir>/bench/**/*.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/', '\\.(int|e2e|local)\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/{packages,services,gateway,cli}/**/*.e2e.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{packages,services,gateway,cli}/**/*.int.test.ts'],
      globalSetup: '<rootDir>/packages/testkit/src/jest/global-setup.ts',
      globalTeardown: '<rootDir>/packages/testkit/src/jest/global-teardown.ts',
      testTimeout: 120000,
    },
    ...(existsSync(localFixtures)
      ? [
          {
            ...common,
            displayName: 'local-fixtures',
            testMatch: ['<rootDir>/{packages,services,gateway,cli}/**/*.local.test.ts'],
          },
        ]
      : []),
  ],
};
