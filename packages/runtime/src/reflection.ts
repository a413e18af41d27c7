// gRPC server reflection (grpc.reflection.v1 and the v1alpha that older grpcurl and Postman still ask for),
// so standard tools can list and call our services without a copy of the protos. Answers come from the
// descriptors embedded in the generated code: a file is sent with all the files it imports, transitively.
import type { ConnectRouter } from '@connectrpc/connect';
import type { DescEnum, DescExtension, DescFile, DescMessage, DescService } from '@bufbuild/protobuf';
import { toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { healthv1, reflectionv1, reflectionv1alpha } from '@llmtwin/contracts';

// gRPC status codes carried inside ErrorResponse (the stream itself stays OK).
const GRPC_INVALID_ARGUMENT = 3;
const GRPC_NOT_FOUND = 5;

export interface ReflectionOptions {
  /** The application services; health and reflection are added. */
  services: readonly DescService[];
  /** More files to make discoverable by name or symbol (e.g. event messages). */
  files?: readonly DescFile[];
}

type Answer =
  | { case: 'fileDescriptorResponse'; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: 'listServicesResponse'; value: { service: { name: string }[] } }
  | { case: 'allExtensionNumbersResponse'; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: 'errorResponse'; value: { errorCode: number; errorMessage: string } };

type MessageRequest =
  | reflectionv1.ServerReflectionRequest['messageRequest']
  | reflectionv1alpha.ServerReflectionRequest['messageRequest'];

/** What reflection can answer about: files by name, symbols, extensions, service names. */
export class ReflectionIndex {
  readonly serviceNames: readonly string[];
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  readonly #extensions = new Map<string, Map<number, DescFile>>();
  readonly #bytes = new Map<DescFile, Uint8Array>();

  constructor(options: ReflectionOptions) {
    const services = [
      ...options.services,
      healthv1.Health,
      reflectionv1.ServerReflection,
      reflectionv1alpha.ServerReflection,
    ];
    this.serviceNames = [...new Set(services.map((s) => s.typeName))];
    for (const service of services) this.#addFile(service.file);
    for (const file of options.files ?? []) this.#addFile(file);
  }

  fileByName(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol.replace(/^\./, ''));
  }

  fileContainingExtension(typeName: string, number: number): DescFile | undefined {
    return this.#extensions.get(typeName.replace(/^\./, ''))?.get(number);
  }

  extensionNumbers(typeName: string): number[] | undefined {
    const numbers = this.#extensions.get(typeName.replace(/^\./, ''));
    return numbers === undefined ? undefined : [...numbers.keys()].sort((a, b) => a - b);
  }

  isMessage(typeName: string): boolean {
    return this.#symbols.has(typeName.replace(/^\./, ''));
  }

  /** The serialized FileDescriptorProto of `file` followed by those of its imports, transitively. */
  withDependencies(file: DescFile): Uint8Array[] {
    const ordered: DescFile[] = [];
    const seen = new Set<DescFile>();
    const visit = (f: DescFile) => {
      if (seen.has(f)) return;
      seen.add(f);
      ordered.push(f);
      for (const dependency of f.dependencies) visit(dependency);
    };
    visit(file);
    return ordered.map((f) => this.#serialize(f));
  }

  answer(request: MessageRequest): Answer {
    switch (request.case) {
      case 'listServices':
        return {
          case: 'listServicesResponse',
          value: { service: this.serviceNames.map((name) => ({ name })) },
        };
      case 'fileByFilename': {
        const file = this.fileByName(request.value);
        return file === undefined
          ? notFound(`file "${request.value}" not found`)
          : { case: 'fileDescriptorResponse', value: { fileDescriptorProto: this.withDependencies(file) } };
      }
      case 'fileContainingSymbol': {
        const file = this.fileContainingSymbol(request.value);
        return file === undefined
          ? notFound(`symbol "${request.value}" not found`)
          : { case: 'fileDescriptorResponse', value: { fileDescriptorProto: this.withDependencies(file) } };
      }
      case 'fileContainingExtension': {
        const { containingType, extensionNumber } = request.value;
        const file = this.fileContainingExtension(containingType, extensionNumber);
        return file === undefined
          ? notFound(`extension ${extensionNumber} of "${containingType}" not found`)
          : { case: 'fileDescriptorResponse', value: { fileDescriptorProto: this.withDependencies(file) } };
      }
      case 'allExtensionNumbersOfType': {
        const typeName = request.value.replace(/^\./, '');
        if (!this.isMessage(typeName)) return notFound(`type "${request.value}" not found`);
        return {
          case: 'allExtensionNumbersResponse',
          value: { baseTypeName: typeName, extensionNumber: this.extensionNumbers(typeName) ?? [] },
        };
      }
      default:
        return {
          case: 'errorResponse',
          value: { errorCode: GRPC_INVALID_ARGUMENT, errorMessage: 'the request has no message_request set' },
        };
    }
  }

  #serialize(file: DescFile): Uint8Array {
    let bytes = this.#bytes.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      this.#bytes.set(file, bytes);
    }
    return bytes;
  }

  #addFile(file: DescFile): void {
    const name = file.proto.name;
    if (this.#files.has(name)) return;
    this.#files.set(name, file);
    for (const dependency of file.dependencies) this.#addFile(dependency);
    for (const message of file.messages) this.#addMessage(file, message);
    for (const desc of file.enums) this.#addEnum(file, desc);
    for (const extension of file.extensions) this.#addExtension(file, extension);
    for (const service of file.services) {
      this.#symbols.set(service.typeName, file);
      for (const method of service.methods) this.#symbols.set(`${service.typeName}.${method.name}`, file);
    }
  }

  #addMessage(file: DescFile, message: DescMessage): void {
    this.#symbols.set(message.typeName, file);
    // Fields and oneofs resolve to their message's file, as protoc's descriptor pool does.
    for (const field of message.fields) this.#symbols.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.#symbols.set(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.#addMessage(file, nested);
    for (const desc of message.nestedEnums) this.#addEnum(file, desc);
    for (const extension of message.nestedExtensions) this.#addExtension(file, extension);
  }

  #addEnum(file: DescFile, desc: DescEnum): void {
    this.#symbols.set(desc.typeName, file);
  }

  #addExtension(file: DescFile, extension: DescExtension): void {
    this.#symbols.set(extension.typeName, file);
    const extendee = extension.extendee.typeName;
    let numbers = this.#extensions.get(extendee);
    if (numbers === undefined) {
      numbers = new Map();
      this.#extensions.set(extendee, numbers);
    }
    numbers.set(extension.number, file);
  }
}

function notFound(errorMessage: string): Answer {
  return { case: 'errorResponse', value: { errorCode: GRPC_NOT_FOUND, errorMessage } };
}

/** Serves ServerReflectionInfo of both grpc.reflection.v1 and v1alpha. */
export function registerReflection(router: ConnectRouter, options: ReflectionOptions): ReflectionIndex {
  const index = new ReflectionIndex(options);
  router.service(reflectionv1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield {
          validHost: request.host,
          originalRequest: request,
          messageResponse: index.answer(request.messageRequest),
        };
      }
    },
  });
  router.service(reflectionv1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield {
          validHost: request.host,
          originalRequest: request,
          messageResponse: index.answer(request.messageRequest),
        };
      }
    },
  });
  return index;
}
