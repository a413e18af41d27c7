// Configuration: every service parses its environment once, against a zod schema, at start-up. A bad
// deployment should fail with one message that lists every problem, not one problem per restart.
import { z } from 'zod';

export interface ConfigProblem {
  /** The variable (or dotted path, for nested schemas). */
  readonly variable: string;
  /** What is wrong and what is expected, in one line. */
  readonly message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.variable}: ${p.message}`);
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses `env` against `schema`. Empty variables (`FOO=`) count as unset so that defaults apply. Throws a
 * `ConfigError` listing every bad variable; returns a deep-frozen object.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: Env = process.env): Readonly<z.infer<S>> {
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => describeIssue(issue, input)));
  }
  return deepFreeze(result.data) as Readonly<z.infer<S>>;
}

// Values of variables whose name looks secret never appear in error messages (they end up in logs).
const SECRET_NAME = /KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;

function describeIssue(issue: z.core.$ZodIssue, input: Record<string, string>): ConfigProblem {
  const variable = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
  const top = issue.path[0];
  const isVariable = typeof top === 'string' && issue.path.length === 1;
  const raw = isVariable ? input[top] : undefined;
  let expected: string;
  if (issue.message.startsWith('expected ')) {
    // Our helpers (and schemas written in the same style) already say what is expected.
    expected = issue.message;
  } else {
    switch (issue.code) {
      case 'invalid_value':
        expected = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
        break;
      case 'invalid_type':
        expected = `expected ${describeExpected(issue.expected)}`;
        break;
      case 'invalid_format':
        expected = `expected ${issue.format === 'url' ? 'a URL' : `a value in ${issue.format} format`}`;
        break;
      default:
        expected = issue.message.replace(/^Invalid input: /, '');
    }
  }
  if (!isVariable) return { variable, message: expected };
  const got =
    raw === undefined
      ? 'is not set'
      : SECRET_NAME.test(variable)
        ? `got a value of ${raw.length} characters (hidden)`
        : `got ${JSON.stringify(raw)}`;
  return { variable, message: `${got}; ${expected}` };
}

function describeExpected(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a value';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true or false';
    default:
      return `a ${expected}`;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const nested of Object.values(value as object)) deepFreeze(nested);
  }
  return value;
}

// Helpers for environment strings. Chain `.default(...)` or `.optional()` as usual.

/** An integer within [min, max] (inclusive). */
export function intVar(options: { min?: number; max?: number } = {}) {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const range =
    options.min !== undefined && options.max !== undefined
      ? ` from ${min} to ${max}`
      : options.min !== undefined
        ? ` >= ${min}`
        : options.max !== undefined
          ? ` <= ${max}`
          : '';
  const expected = `expected an integer${range}`;
  return z.string({ error: expected }).transform((text, ctx) => {
    const trimmed = text.trim();
    const n = Number(trimmed);
    if (!/^[+-]?\d+$/.test(trimmed) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return n;
  });
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** A boolean: true/false, 1/0, yes/no, on/off (any case). */
const BOOL_EXPECTED = 'expected true or false (also 1/0, yes/no, on/off)';

export function boolVar() {
  return z.string({ error: BOOL_EXPECTED }).transform((text, ctx) => {
    const v = text.trim().toLowerCase();
    if (TRUE.has(v)) return true;
    if (FALSE.has(v)) return false;
    ctx.addIssue({ code: 'custom', message: BOOL_EXPECTED });
    return z.NEVER;
  });
}

/** An absolute URL, optionally restricted to some schemes (e.g. `['http', 'https']`). Kept as given. */
export function urlVar(options: { protocols?: readonly string[] } = {}) {
  const protocols = options.protocols?.map((p) => p.replace(/:$/, '').toLowerCase());
  const expected =
    protocols && protocols.length > 0
      ? `expected a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`
      : 'expected an absolute URL';
  return z.string({ error: expected }).transform((text, ctx) => {
    const trimmed = text.trim();
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    if (protocols && !protocols.includes(url.protocol.replace(/:$/, ''))) {
      ctx.addIssue({ code: 'custom', message: expected });
      return z.NEVER;
    }
    return trimmed;
  });
}

/** A comma-separated list; blanks are dropped. */
export function listVar() {
  return z.string({ error: 'expected a comma-separated list' }).transform((text) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** The variables every service reads; a service extends it: `baseConfigSchema.extend({ ... })`. */
export const baseConfigSchema = z.object({
  PORT: intVar({ min: 0, max: 65535 }).default(8080),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  SHUTDOWN_TIMEOUT_MS: intVar({ min: 0 }).default(10000),
  /** Connections older than this are asked to reconnect (listen's maxConnectionAgeMs); 0 = never. */
  MAX_CONNECTION_AGE_MS: intVar({ min: 0 }).default(0),
  LLMTWIN_DATA_DIR: z.string().default('.llmtwin'),
});
export type BaseConfig = z.infer<typeof baseConfigSchema>;
