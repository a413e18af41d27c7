import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { create, createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';
import { reflect, type ReflectionResponse } from './grpc-client.fixture.js';
import { startTestServer, type TestServer } from './test-server.fixture.js';

let server: TestServer;
let address: string;

beforeAll(async () => {
  server = await startTestServer();
  address = `127.0.0.1:${server.listening.port}`;
});
afterAll(async () => {
  await server.close();
});

function descriptors(response: ReflectionResponse | undefined): FileDescriptorProto[] {
  expect(response?.message_response).toBe('file_descriptor_response');
  return (response?.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
    fromBinary(FileDescriptorProtoSchema, new Uint8Array(bytes)),
  );
}

describe.each(['v1', 'v1alpha'] as const)('grpc.reflection.%s through @grpc/grpc-js', (version) => {
  it('lists the registered services, health and reflection', async () => {
    const [response] = await reflect(address, version, [{ host: 'localhost', list_services: '' }]);
    expect(response?.valid_host).toBe('localhost');
    expect(response?.list_services_response?.service.map((s) => s.name).sort()).toEqual([
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'llmtwin.clean.v1.CleanService',
    ]);
  });

  it('returns a service file with its transitive imports, which decode and link', async () => {
    const [response] = await reflect(address, version, [
      { file_containing_symbol: 'llmtwin.clean.v1.CleanService' },
    ]);
    const files = descriptors(response);
    expect(files[0]?.name).toBe('llmtwin/clean/v1/clean.proto');
    const names = files.map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining(['llmtwin/common/v1/common.proto', 'google/protobuf/timestamp.proto']),
    );
    // The set is self-contained: a registry can resolve every type the service uses. (The requested file
    // comes first, as grpc-go sends it; a descriptor set wants imports first.)
    const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: [...files].reverse() }));
    expect(registry.getService('llmtwin.clean.v1.CleanService')?.methods.map((m) => m.name)).toContain(
      'CleanText',
    );
    expect(
      registry.getMessage('llmtwin.clean.v1.CleanedDocument')?.field.publishTime?.message?.typeName,
    ).toBe('google.protobuf.Timestamp');
  });

  it('finds files by name and by method, message, enum and field symbols', async () => {
    const responses = await reflect(address, version, [
      { file_by_filename: 'grpc/health/v1/health.proto' },
      { file_containing_symbol: 'llmtwin.clean.v1.CleanService.CleanText' },
      { file_containing_symbol: 'llmtwin.clean.v1.CleanTextRequest' },
      { file_containing_symbol: 'grpc.health.v1.HealthCheckResponse.ServingStatus' },
      { file_containing_symbol: 'llmtwin.clean.v1.CleanedDocument.title' },
    ]);
    expect(responses.map((r) => descriptors(r)[0]?.name)).toEqual([
      'grpc/health/v1/health.proto',
      'llmtwin/clean/v1/clean.proto',
      'llmtwin/clean/v1/clean.proto',
      'grpc/health/v1/health.proto',
      'llmtwin/clean/v1/clean.proto',
    ]);
  });

  it('answers unknown names with NOT_FOUND and keeps the stream open', async () => {
    const responses = await reflect(address, version, [
      { file_by_filename: 'nope.proto' },
      { file_containing_symbol: 'no.Such' },
      { list_services: '' },
    ]);
    expect(responses.slice(0, 2).map((r) => r.error_response?.error_code)).toEqual([5, 5]);
    expect(responses[2]?.message_response).toBe('list_services_response');
  });

  it('reports extension numbers of a known type (none here)', async () => {
    const [response] = await reflect(address, version, [
      { all_extension_numbers_of_type: 'llmtwin.clean.v1.CleanedDocument' },
    ]);
    expect(response?.all_extension_numbers_response).toEqual({
      base_type_name: 'llmtwin.clean.v1.CleanedDocument',
      extension_number: [],
    });
  });
});
