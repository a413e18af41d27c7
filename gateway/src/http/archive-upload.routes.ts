// POST /v1/archives: an export archive as a plain HTTP request body, streamed on to ingest's UploadArchive.
//
// Why a plain route and not the client-streaming RPC itself: Connect client streaming needs HTTP/2 end to end,
// and the callers of an upload are the CLI and curl over HTTP/1.1, browsers (which cannot stream a request
// body with fetch over HTTP/1.1, nor do client streaming at all) and whatever proxy sits in front of the
// gateway. A request body streams on every one of them, with TCP's own backpressure. Behind the gateway the
// services speak gRPC over HTTP/2 (or call each other in process), where client streaming works, so the body
// goes on as UploadArchive chunks and lands in ingest's upload area on disk as it arrives: neither the
// gateway nor ingest holds more than a chunk of it.
//
//   curl -H "Authorization: Bearer $KEY" --data-binary @export.zip \
//     'http://localhost:8080/v1/archives?author_id=ada&file_name=export.zip'
//
// Answers 200 with the import job as JSON (UploadArchiveResponse), or an HTTP error status with
// {"error": {"code", "message"}} carrying ingest's own message (e.g. which limit, and which setting raises it).
import { create, toJson } from '@bufbuild/protobuf';
import { createClient, type Client } from '@connectrpc/connect';
import { ingestv1 } from '@llmtwin/contracts';
import type { ServiceDirectory } from '@llmtwin/host';
import type { NodeHandler } from '@llmtwin/runtime';
import type { Logger } from 'pino';
import { AUTHOR_HEADER, scopedAuthor } from '../auth/auth.interceptor.js';
import { headersFromNode, HttpError, httpErrorOf } from '../auth/http-body.js';
import type { GatewaySecurity } from '../auth/principal.js';

export const ARCHIVE_UPLOAD_PATH = '/v1/archives';
/** Largest UploadArchive chunk sent on: far under the 4 MiB a service reads in one message by default. */
const CHUNK_BYTES = 256 * 1024;

type NodeRequest = Parameters<NodeHandler>[0];
type NodeResponse = Parameters<NodeHandler>[1];

export interface ArchiveUploadOptions {
  security: GatewaySecurity;
  directory: ServiceDirectory;
  logger: Logger;
}

function sendJson(res: NodeResponse, status: number, body: unknown, close = false): void {
  const payload = JSON.stringify(body);
  (res as { writeHead(s: number, h: Record<string, string | number>): unknown }).writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    // A body not read to its end cannot leave the connection reusable.
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(payload);
}

/** The request body as UploadArchive messages: the header, then each chunk as it arrives. */
async function* uploadMessages(
  req: NodeRequest,
  header: { authorId: string; fileName: string; sizeBytes: bigint },
): AsyncIterable<ingestv1.UploadArchiveRequest> {
  yield create(ingestv1.UploadArchiveRequestSchema, { part: { case: 'header', value: header } });
  for await (const chunk of req as AsyncIterable<Buffer>) {
    // A stream's iterator hands over everything buffered at once, which can be megabytes when the client
    // sends faster than the upload area writes: sliced (no copy) under the services' message limit.
    for (let at = 0; at < chunk.length; at += CHUNK_BYTES) {
      yield create(ingestv1.UploadArchiveRequestSchema, {
        part: { case: 'chunk', value: chunk.subarray(at, at + CHUNK_BYTES) },
      });
    }
  }
}

export function archiveUploadRoutes(options: ArchiveUploadOptions): (next: NodeHandler) => NodeHandler {
  let client: Client<typeof ingestv1.IngestService> | undefined;
  // Lazily: in embedded mode the directory is filled in after the gateway is built.
  const ingest = () =>
    (client ??= createClient(ingestv1.IngestService, options.directory.transport('ingest')));

  async function upload(req: NodeRequest, res: NodeResponse, url: URL): Promise<void> {
    const principal = await options.security.authenticate(headersFromNode(req.headers));
    const authorId = scopedAuthor(principal, url.searchParams.get('author_id') ?? '');
    const declared = Number(req.headers['content-length'] ?? 0);
    const controller = new AbortController();
    res.once('close', () => controller.abort());
    const answer = await ingest().uploadArchive(
      uploadMessages(req, {
        authorId,
        fileName: url.searchParams.get('file_name') ?? '',
        sizeBytes: BigInt(Number.isSafeInteger(declared) && declared > 0 ? declared : 0),
      }),
      { signal: controller.signal, headers: authorId ? { [AUTHOR_HEADER]: authorId } : {} },
    );
    sendJson(res, 200, toJson(ingestv1.UploadArchiveResponseSchema, answer));
  }

  return (next) => (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname !== ARCHIVE_UPLOAD_PATH) {
      next(req, res);
      return;
    }
    const run =
      req.method === 'POST'
        ? upload(req, res, url)
        : Promise.reject(
            new HttpError(405, `${ARCHIVE_UPLOAD_PATH} takes POST with the archive as the body`),
          );
    run.catch((err: unknown) => {
      const http = httpErrorOf(err);
      if (http.status >= 500) options.logger.error({ err }, 'archive upload failed');
      if (res.headersSent) return;
      const unread = !req.readableEnded;
      // Refused before the body was read (a limit, a bad key): drop the rest rather than receive it.
      if (unread) req.resume();
      sendJson(res, http.status, { error: { code: http.status, message: http.message } }, unread);
    });
  };
}
