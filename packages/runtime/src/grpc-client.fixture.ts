// Standard gRPC clients (@grpc/grpc-js with protos loaded at run time, as grpcurl-like tools do) for the
// runtime's tests: proof that our Connect server speaks real gRPC.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const protoRoot = fileURLToPath(new URL('../../../proto/', import.meta.url));

type Callback<T> = (err: grpc.ServiceError | null, response: T) => void;
type ClientCtor = new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client;

function loadService(file: string, path: readonly string[]): ClientCtor {
  const definition = protoLoader.loadSync(`${protoRoot}${file}`, {
    keepCase: true,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  let node: unknown = grpc.loadPackageDefinition(definition);
  for (const part of path) node = (node as Record<string, unknown>)[part];
  return node as ClientCtor;
}

export interface GrpcHealthClient {
  check(service: string): Promise<{ status: string }>;
  watch(service: string): grpc.ClientReadableStream<{ status: string }>;
  close(): void;
}

export function grpcHealthClient(address: string): GrpcHealthClient {
  const Ctor = loadService('grpc/health/v1/health.proto', ['grpc', 'health', 'v1', 'Health']);
  const client = new Ctor(address, grpc.credentials.createInsecure()) as grpc.Client & {
    Check(request: { service: string }, callback: Callback<{ status: string }>): void;
    Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
  };
  return {
    check: (service) =>
      new Promise((resolve, reject) =>
        client.Check({ service }, (err, res) => (err ? reject(err) : resolve(res))),
      ),
    watch: (service) => client.Watch({ service }),
    close: () => client.close(),
  };
}

export interface ReflectionResponse {
  valid_host: string;
  message_response:
    | 'list_services_response'
    | 'file_descriptor_response'
    | 'error_response'
    | 'all_extension_numbers_response';
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
}

export interface ReflectionRequest {
  host?: string;
  list_services?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  all_extension_numbers_of_type?: string;
}

/** Sends the requests on one ServerReflectionInfo stream and collects one response per request. */
export function reflect(
  address: string,
  version: 'v1' | 'v1alpha',
  requests: readonly ReflectionRequest[],
): Promise<ReflectionResponse[]> {
  const Ctor = loadService(`grpc/reflection/${version}/reflection.proto`, [
    'grpc',
    'reflection',
    version,
    'ServerReflection',
  ]);
  const client = new Ctor(address, grpc.credentials.createInsecure()) as grpc.Client & {
    ServerReflectionInfo(): grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
  };
  return new Promise((resolve, reject) => {
    const responses: ReflectionResponse[] = [];
    const call = client.ServerReflectionInfo();
    call.on('data', (response: ReflectionResponse) => responses.push(response));
    call.on('error', (err) => {
      client.close();
      reject(err);
    });
    call.on('end', () => {
      client.close();
      resolve(responses);
    });
    for (const request of requests) call.write(request);
    call.end();
  });
}
