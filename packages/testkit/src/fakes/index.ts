// FAKE model servers for tests (`@llmtwin/testkit/fakes`): real loopback HTTP servers that speak the
// OpenAI Chat Completions and TGI wire formats but generate nothing; see each file's header.
export {
  fakeTokens,
  type FakeOutcome,
  type FakePacing,
  type FakeRequestRecord,
  type FakeServer,
} from './fake-server-kit.js';
export * from './fake-openai-server.js';
export * from './fake-tgi-server.js';
