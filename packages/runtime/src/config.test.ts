import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { baseConfigSchema, boolVar, ConfigError, intVar, listVar, loadConfig, urlVar } from './config.js';

const schema = baseConfigSchema.extend({
  MONGO_URL: urlVar({ protocols: ['mongodb', 'mongodb+srv'] }),
  KAFKA_BROKERS: listVar(),
  EVENT_BUS: z.enum(['embedded', 'kafka']),
  BATCH_SIZE: intVar({ min: 1, max: 1000 }).default(100),
  DRY_RUN: boolVar().default(false),
  API_KEY: z.string().min(32, 'expected at least 32 characters'),
  OPTIONAL_URL: urlVar().optional(),
  REQUIRED_INT: intVar({ min: 1 }),
});

function problems(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults and converts types', () => {
    const config = loadConfig(schema, {
      MONGO_URL: 'mongodb://db:27017/llmtwin',
      KAFKA_BROKERS: 'k1:9092, k2:9092,',
      EVENT_BUS: 'kafka',
      DRY_RUN: 'YES',
      API_KEY: 'k'.repeat(32),
      REQUIRED_INT: '7',
      PORT: '',
    });
    // The result is typed from the schema.
    const port: number = config.PORT;
    const optional: string | undefined = config.OPTIONAL_URL;
    expect([port, optional]).toEqual([8080, undefined]);
    expect(config).toEqual({
      PORT: 8080,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      SHUTDOWN_TIMEOUT_MS: 10000,
      MAX_CONNECTION_AGE_MS: 0,
      LLMTWIN_DATA_DIR: '.llmtwin',
      MONGO_URL: 'mongodb://db:27017/llmtwin',
      KAFKA_BROKERS: ['k1:9092', 'k2:9092'],
      EVENT_BUS: 'kafka',
      BATCH_SIZE: 100,
      DRY_RUN: true,
      API_KEY: 'k'.repeat(32),
      REQUIRED_INT: 7,
    });
  });

  it('returns a deeply frozen object', () => {
    const config = loadConfig(schema, {
      MONGO_URL: 'mongodb://db',
      KAFKA_BROKERS: 'k1',
      EVENT_BUS: 'embedded',
      API_KEY: 'k'.repeat(32),
      REQUIRED_INT: '1',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.KAFKA_BROKERS)).toBe(true);
    expect(() => (config.KAFKA_BROKERS as string[]).push('k2')).toThrow(TypeError);
  });

  it('lists every problem, one line each, with what is expected', () => {
    const err = problems(() =>
      loadConfig(schema, {
        PORT: '80a',
        LOG_LEVEL: 'loud',
        MONGO_URL: 'http://db',
        BATCH_SIZE: '0',
        DRY_RUN: 'maybe',
        API_KEY: 'short-secret',
        OPTIONAL_URL: 'not a url',
      }),
    );
    expect(err.problems).toEqual([
      { variable: 'PORT', message: 'got "80a"; expected an integer from 0 to 65535' },
      {
        variable: 'LOG_LEVEL',
        message: 'got "loud"; expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
      },
      {
        variable: 'MONGO_URL',
        message: 'got "http://db"; expected a URL starting with mongodb:// or mongodb+srv://',
      },
      { variable: 'KAFKA_BROKERS', message: 'is not set; expected a comma-separated list' },
      { variable: 'EVENT_BUS', message: 'is not set; expected one of "embedded", "kafka"' },
      { variable: 'BATCH_SIZE', message: 'got "0"; expected an integer from 1 to 1000' },
      { variable: 'DRY_RUN', message: 'got "maybe"; expected true or false (also 1/0, yes/no, on/off)' },
      {
        variable: 'API_KEY',
        message: 'got a value of 12 characters (hidden); expected at least 32 characters',
      },
      { variable: 'OPTIONAL_URL', message: 'got "not a url"; expected an absolute URL' },
      { variable: 'REQUIRED_INT', message: 'is not set; expected an integer >= 1' },
    ]);
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('Invalid configuration (10 problems):');
    expect(lines).toHaveLength(11);
    expect(lines[1]).toBe('  - PORT: got "80a"; expected an integer from 0 to 65535');
    expect(err.message).not.toContain('short-secret');
  });
});
