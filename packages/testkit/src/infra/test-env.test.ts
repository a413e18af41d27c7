import { afterEach, describe, expect, test } from '@jest/globals';

import { kafkaBrokers, testBackendUrl, weaviateEndpoint } from './test-env.js';

describe('backend URLs handed to tests', () => {
  const saved = process.env.LLMTWIN_TEST_KAFKA_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.LLMTWIN_TEST_KAFKA_URL;
    else process.env.LLMTWIN_TEST_KAFKA_URL = saved;
  });

  test('kafka:// URLs become broker lists', () => {
    expect(kafkaBrokers('kafka://127.0.0.1:39211')).toEqual(['127.0.0.1:39211']);
    expect(kafkaBrokers('kafka://a:1,b:2')).toEqual(['a:1', 'b:2']);
    expect(() => kafkaBrokers('http://127.0.0.1:9092')).toThrow('not a kafka:// URL');
  });

  test('weaviate URLs carry both ports', () => {
    expect(weaviateEndpoint('http://127.0.0.1:8080?grpc=50051')).toEqual({
      host: '127.0.0.1',
      port: 8080,
      grpcPort: 50051,
      secure: false,
    });
    expect(() => weaviateEndpoint('http://127.0.0.1:8080')).toThrow('lacks ?grpc=PORT');
  });

  test('a missing shared backend says how to get one', () => {
    delete process.env.LLMTWIN_TEST_KAFKA_URL;
    expect(() => testBackendUrl('kafka')).toThrow('--selectProjects integration');
    process.env.LLMTWIN_TEST_KAFKA_URL = 'kafka://127.0.0.1:1';
    expect(testBackendUrl('kafka')).toBe('kafka://127.0.0.1:1');
  });
});
