export {
  DomainError,
  unavailable,
  invalidArgument,
  conflict,
  failedPrecondition,
  notFound,
  alreadyExists,
  isDomainError,
} from '@llmtwin/runtime/errors';
