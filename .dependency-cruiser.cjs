// The house plan, enforced: `npm run lint:layers` (run by .ci/run) fails on any import that breaks it.
// dependency-cruiser rather than eslint boundaries rules: it resolves workspace packages through their
// `exports` to real files, so one rule covers relative imports and package imports alike, and it sees
// type-only imports as such (a domain module may name a port's interface without loading its driver).
// See docs/architecture.md, "The house plan".
const test = '\\.(test|int\\.test)\\.ts$|\\.fixture\\.ts$|/test/';
const drivers =
  'node_modules/(mongodb|kafkajs|weaviate-client|better-sqlite3|sqlite-vec|minio|onnxruntime-node|@huggingface/transformers|node-llama-cpp|jsdom|got-scraping|@connectrpc|@grpc|pino|@opentelemetry/sdk-|@opentelemetry/exporter)';

module.exports = {
  forbidden: [
    {
      name: 'packages-below-apps',
      comment: 'packages/* are the floor: they never import a service, the gateway or the CLI.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^(services|gateway|cli)/' },
    },
    {
      name: 'no-service-to-service',
      comment:
        'A service never imports another service; shared pieces live in packages/ (tests may use another service through its package entry).',
      severity: 'error',
      from: { path: '^services/([^/]+)/', pathNot: test },
      to: { path: '^services/[^/]+/', pathNot: '^services/$1/' },
    },
    {
      name: 'only-public-entries',
      comment:
        'Tests and composition roots reach a service or the gateway through its package entry, never its internals.',
      severity: 'error',
      from: { path: '^(services/([^/]+)|gateway|cli)/' },
      to: {
        path: '^(services/[^/]+|gateway)/src/',
        pathNot: ['^(services/[^/]+|gateway)/src/index\\.ts$', '^$1/'],
      },
    },
    {
      name: 'console-uses-the-public-api',
      comment:
        'The web console runs in the browser and talks only to the public API: it imports the generated contracts for browsers (@llmtwin/contracts/web), its own files and browser libraries, nothing of the services, the gateway server, the CLI or the Node packages.',
      severity: 'error',
      from: { path: '^gateway/console/' },
      to: {
        path: '^(packages|services|cli|gateway/src)/',
        pathNot: '^packages/contracts/src/(web\\.ts|gen/)',
      },
    },
    {
      name: 'gateway-not-to-services',
      comment: 'The gateway reaches services over Connect clients, not by importing them.',
      severity: 'error',
      from: { path: '^gateway/', pathNot: test },
      to: { path: '^services/' },
    },
    {
      name: 'domain-is-pure',
      comment:
        'domain/ imports only contracts, port interfaces, error helpers, pure libraries and its own domain: no transport, consumer or adapter code.',
      severity: 'error',
      from: { path: '^services/[^/]+/src/domain/', pathNot: test },
      to: {
        path: '^services/[^/]+/src/(rpc|consumers|adapters)/|^services/[^/]+/src/(main|module|config)\\.ts$',
      },
    },
    {
      name: 'domain-loads-no-driver',
      comment: 'domain/ loads no driver, model runtime, logger or server kit (a type-only import is fine).',
      severity: 'error',
      from: { path: '^services/[^/]+/src/domain/', pathNot: test },
      to: {
        path: `${drivers}|^packages/(host|testkit)/|^packages/runtime/src/(?!(errors|instruments|semconv)\\.ts$)|^packages/ports/src/.+/(?!.*\\.port\\.ts$)[^/]+$`,
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'domain-no-io',
      comment: 'domain/ does no I/O of its own: files, processes and sockets belong to adapters/.',
      severity: 'error',
      from: { path: '^services/[^/]+/src/domain/', pathNot: test },
      to: {
        dependencyTypes: ['core'],
        path: '^(node:)?(fs|fs/promises|child_process|net|http|https|http2|dgram|tls|worker_threads|cluster|os)$',
      },
    },
    {
      name: 'thin-edges',
      comment: 'rpc/ and consumers/ are thin adapters over the domain and never import each other.',
      severity: 'error',
      from: { path: '^services/([^/]+)/src/(rpc|consumers)/', pathNot: test },
      to: { path: '^services/$1/src/(rpc|consumers)/', pathNot: '^services/$1/src/$2/' },
    },
    {
      name: 'ports-entry-loads-no-driver',
      comment: 'The @llmtwin/ports entry is interfaces and helpers: each adapter is its own subpath export.',
      severity: 'error',
      from: { path: '^packages/ports/src/(index|errors)\\.ts$|^packages/ports/src/[^/]+/[^/]+\\.port\\.ts$' },
      to: { path: drivers, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'Import cycles make layers meaningless.',
      severity: 'error',
      from: { pathNot: test },
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/|^packages/contracts/src/gen/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
