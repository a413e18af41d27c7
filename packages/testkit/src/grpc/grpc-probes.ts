// Standard gRPC clients (@grpc/grpc-js with the .proto files, no generated code of ours) for health and
// reflection: what grpcurl, Kubernetes probes and other teams' services would use.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { poll } from '../poll.js';

const protoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../proto');

type Loaded = grpc.GrpcObject & Record<string, unknown>;

function load(file: string): Loaded {
  const def = protoLoader.loadSync(file, {
    includeDirs: [protoRoot],
    keepCase: true,
    enums: String,
    defaults: true,
  });
  return grpc.loadPackageDefinition(def) as Loaded;
}

function pick(obj: Loaded, dotted: string): grpc.ServiceClientConstructor {
  return dotted
    .split('.')
    .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj) as grpc.ServiceClientConstructor;
}

/** `address` is host:port. Resolves to 'SERVING', 'NOT_SERVING', ... or rejects with the gRPC error. */
export function grpcHealthCheck(address: string, service = '', timeoutMs = 2000): Promise<string> {
  const Health = pick(load('grpc/health/v1/health.proto'), 'grpc.health.v1.Health');
  const client = new Health(address, grpc.credentials.createInsecure());
  return new Promise<string>((resolve, reject) => {
    client['Check']!(
      { service },
      { deadline: Date.now() + timeoutMs },
      (err: grpc.ServiceError | null, res: { status: string }) => {
        client.close();
        if (err) reject(err);
        else resolve(res.status);
      },
    );
  });
}

/** The service names a server lists through grpc.reflection.v1 (or v1alpha). */
export function grpcReflectionList(address: string, version: 'v1' | 'v1alpha' = 'v1'): Promise<string[]> {
  const Reflection = pick(
    load(`grpc/reflection/${version}/reflection.proto`),
    `grpc.reflection.${version}.ServerReflection`,
  );
  const client = new Reflection(address, grpc.credentials.createInsecure());
  return new Promise<string[]>((resolve, reject) => {
    const call = (
      client['ServerReflectionInfo'] as (opts: object) => grpc.ClientDuplexStream<object, object>
    )({
      deadline: Date.now() + 5000,
    });
    call.on(
      'data',
      (res: { list_services_response?: { service: { name: string }[] }; error_response?: object }) => {
        call.end();
        client.close();
        if (res.list_services_response) resolve(res.list_services_response.service.map((s) => s.name));
        else reject(new Error(`reflection answered ${JSON.stringify(res)}`));
      },
    );
    call.on('error', (err) => {
      client.close();
      reject(err);
    });
    call.write({ list_services: '*' });
  });
}

/** Polls health until it equals `want`; returns how long it took, or throws after `withinMs`. */
export async function waitForHealth(address: string, want: string, withinMs: number): Promise<number> {
  const start = Date.now();
  await poll(() => grpcHealthCheck(address, '', 1000), {
    what: `health of ${address} to become ${want}`,
    timeoutMs: withinMs,
    intervalMs: 100,
    until: (status) => status === want,
  });
  return Date.now() - start;
}
