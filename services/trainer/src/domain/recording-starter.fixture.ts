// Test fixture: a TrainingStarter fake that only records the starts asked of it and answers a job id each
// (or, once each, the errors pushed onto `failures`). For the continuous-training policy and consumer tests.
import type { TrainingStarter, TrainingStartRequest } from './training-starter.port.js';

export function recordingStarter() {
  const calls: { request: TrainingStartRequest; trigger: string }[] = [];
  const failures: Error[] = [];
  const starter: TrainingStarter = {
    start: (request, options) => {
      calls.push({ request, trigger: options.trigger });
      const failure = failures.shift();
      return failure ? Promise.reject(failure) : Promise.resolve({ jobId: `job_${calls.length}` });
    },
  };
  return { starter, calls, failures };
}
