// The console's view of the public API: typed clients over Connect-Web (the generated descriptors of
// @llmtwin/contracts, the same ones every service and the CLI use), on the page's own origin, each call
// carrying the signed-in API key. The key lives in session storage only: gone when the tab closes, never in
// a URL, never in local storage.
import { Code, ConnectError, createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { fromJson, type DescService } from '@bufbuild/protobuf';
import {
  chunkv1,
  cleanv1,
  embedv1,
  gatewayv1,
  inferencev1,
  ingestv1,
  registryv1,
  trainerv1,
} from '@llmtwin/contracts/web';

const KEY_ITEM = 'llmtwin.apiKey';

export const session = {
  key(): string | null {
    return sessionStorage.getItem(KEY_ITEM);
  },
  set(key: string): void {
    sessionStorage.setItem(KEY_ITEM, key);
  },
  clear(): void {
    sessionStorage.removeItem(KEY_ITEM);
  },
};

/** Sends the key of the session, or the one being tried at sign-in. */
const withKey =
  (key: () => string | null): Interceptor =>
  (next) =>
  async (req) => {
    const k = key();
    if (k) req.header.set('authorization', `Bearer ${k}`);
    return next(req);
  };

function clients(key: () => string | null) {
  const transport = createConnectTransport({
    baseUrl: location.origin,
    interceptors: [withKey(key)],
  });
  const client = <S extends DescService>(s: S): Client<S> => createClient(s, transport);
  return {
    status: client(gatewayv1.StatusService),
    admin: client(gatewayv1.AdminService),
    pipeline: client(gatewayv1.PipelineService),
    ingest: client(ingestv1.IngestService),
    clean: client(cleanv1.CleanService),
    chunk: client(chunkv1.ChunkService),
    embed: client(embedv1.EmbedService),
    inference: client(inferencev1.InferenceService),
    registry: client(registryv1.RegistryService),
    trainer: client(trainerv1.TrainerService),
  };
}

/** Every service, called with the session's key. */
export const api = clients(() => session.key());

/** Checks a key before keeping it: who it belongs to, or the API's error (e.g. an unknown key). */
export async function signIn(key: string): Promise<gatewayv1.GetCallerResponse> {
  const caller = await clients(() => key).status.getCaller({});
  session.set(key);
  return caller;
}

/** The API's own message for an error, with its code, for showing next to what caused it. */
export function describeError(err: unknown): string {
  if (err instanceof ConnectError) {
    if (err.code === Code.Unavailable && /fetch|network/i.test(err.rawMessage))
      return 'The gateway cannot be reached: is the twin still running?';
    return `${err.rawMessage} (${Code[err.code]})`;
  }
  return err instanceof Error ? err.message : String(err);
}

export const isUnauthenticated = (err: unknown): boolean =>
  err instanceof ConnectError && err.code === Code.Unauthenticated;

/** POST /v1/archives with upload progress (fetch cannot report it; XMLHttpRequest can). */
export function uploadArchive(
  file: File,
  authorId: string,
  onProgress: (sent: number, total: number) => void,
  signal?: AbortSignal,
): Promise<ingestv1.UploadArchiveResponse> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const query = new URLSearchParams({ author_id: authorId, file_name: file.name });
    xhr.open('POST', `/v1/archives?${query.toString()}`);
    const key = session.key();
    if (key) xhr.setRequestHeader('authorization', `Bearer ${key}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new Error('the upload failed: the gateway cannot be reached'));
    xhr.onabort = () => reject(new Error('the upload was cancelled'));
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        return reject(new Error(`the gateway answered ${xhr.status}: ${xhr.responseText.slice(0, 200)}`));
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(ingestv1UploadResponseFromJson(body));
      } else {
        const e = (body as { error?: { code?: string; message?: string } }).error;
        reject(new Error(e?.message ? `${e.message} (${e.code ?? xhr.status})` : `HTTP ${xhr.status}`));
      }
    };
    signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(file);
  });
}

function ingestv1UploadResponseFromJson(body: unknown): ingestv1.UploadArchiveResponse {
  return fromJson(ingestv1.UploadArchiveResponseSchema, body as never, { ignoreUnknownFields: true });
}
