// The polling helper every test uses (`@llmtwin/testkit/poll`). Its code sits in the runtime's fixtures so
// that the ports' contract suites can use it without @llmtwin/ports depending on @llmtwin/testkit, which
// depends on @llmtwin/ports; see packages/runtime/src/poll.fixture.ts.
export { poll, PollTimeoutError, type PollOptions, type Probe } from '@llmtwin/runtime/poll.fixture';
