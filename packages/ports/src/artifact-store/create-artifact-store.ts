// Chooses the artifact store adapter from one URL. The scheme decides, never the environment: an unknown or
// malformed URL is a configuration error, not a reason to fall back to another adapter. The environment is
// read only for S3 credentials that the URL leaves out (the AWS variable names), and only from the `env`
// the caller passes (process.env by default), so a service's config.ts can hand over what it parsed.

import { fileURLToPath } from 'node:url';

import { DomainError, invalidArgument } from '../errors.js';
import type { ArtifactStore } from './artifact-store.port.js';
import { EmbeddedArtifactStore, type EmbeddedArtifactStoreOptions } from './embedded-artifact-store.js';
import { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-artifact-store.js';

export interface CreateArtifactStoreOptions {
  /** Where S3 credentials missing from the URL come from; process.env by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Embedded adapter settings (the folder comes from the URL). */
  readonly embedded?: Omit<EmbeddedArtifactStoreOptions, 'dir'>;
  /** S3 adapter settings beyond what the URL says (the URL wins where both do). */
  readonly s3?: Partial<Pick<S3ArtifactStoreOptions, 'spoolDir' | 'pingTimeoutMs' | 'partSizeBytes'>>;
}

export const ARTIFACT_STORE_URL_FORMS = [
  'file:<folder>  (embedded, e.g. file:./data/artifacts or file:///var/lib/llmtwin/artifacts)',
  'http(s)://[<access key id>:<secret>@]<host>[:<port>]/<bucket>[/<key prefix>][?region=…&partSizeMiB=…]  (any S3-compatible server, path-style)',
  's3://<bucket>[/<key prefix>][?region=…&endpoint=http(s)://host:port&pathStyle=true|false&partSizeMiB=…]  (AWS S3 unless endpoint says otherwise)',
  'credentials not in the URL come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN); the region from AWS_REGION',
];

/**
 * Opens the artifact store named by `url`. The embedded folder is created at once (errors surface here); the
 * S3 client connects on first use, so a service can start while the server is down and report NOT_SERVING
 * through ping() until it answers.
 */
export async function createArtifactStore(
  url: string,
  options: CreateArtifactStoreOptions = {},
): Promise<ArtifactStore> {
  if (typeof url === 'string' && url.startsWith('file:')) {
    return new EmbeddedArtifactStore({ ...options.embedded, dir: parseFileUrl(url) });
  }
  if (typeof url === 'string' && /^(s3|https?):\/\//.test(url)) {
    return new S3ArtifactStore(parseS3Url(url, options));
  }
  throw unsupported(url, 'unsupported scheme');
}

/** `file:<folder>` → the folder. */
export function parseFileUrl(url: string): string {
  const rest = url.slice('file:'.length);
  if (rest.startsWith('//')) {
    // file://host/path is a remote file; only the local forms (file:///abs, file://localhost/abs) are folders here.
    try {
      return fileURLToPath(url);
    } catch (err) {
      throw unsupported(url, `not a local file URL (${(err as Error).message})`);
    }
  }
  if (rest.trim() === '') throw unsupported(url, 'no folder after file:');
  return decodeURIComponent(rest);
}

/** The S3 adapter's options from an `s3://` or `http(s)://` URL (see ARTIFACT_STORE_URL_FORMS). */
export function parseS3Url(url: string, options: CreateArtifactStoreOptions = {}): S3ArtifactStoreOptions {
  const env = options.env ?? process.env;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw unsupported(url, 'not a URL');
  }
  const query = new Map(parsed.searchParams);
  const take = (name: string): string | undefined => {
    const value = query.get(name);
    query.delete(name);
    return value === undefined || value === '' ? undefined : value;
  };
  const region = take('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const partSizeMiB = take('partSizeMiB');
  let bucket: string;
  let prefix: string;
  let endpoint: string;
  let pathStyle: boolean;
  if (parsed.protocol === 's3:') {
    bucket = parsed.hostname;
    prefix = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
    const given = take('endpoint');
    endpoint = given ?? `https://s3.${region}.amazonaws.com`;
    const style = take('pathStyle');
    if (style !== undefined && style !== 'true' && style !== 'false') {
      throw unsupported(url, 'pathStyle must be true or false');
    }
    // AWS wants virtual-hosted requests; other servers mostly serve path-style only.
    pathStyle = style === undefined ? given !== undefined : style === 'true';
    if (parsed.username !== '' || parsed.password !== '') {
      throw unsupported(url, 's3:// URLs take credentials from the environment, not the URL');
    }
  } else {
    const [first = '', ...rest] = parsed.pathname.replace(/^\//, '').split('/');
    bucket = decodeURIComponent(first);
    prefix = decodeURIComponent(rest.join('/'));
    endpoint = `${parsed.protocol}//${parsed.host}`;
    pathStyle = true;
  }
  if (query.size > 0) {
    throw unsupported(url, `unknown parameter ${[...query.keys()].map((k) => JSON.stringify(k)).join(', ')}`);
  }
  if (bucket === '') throw unsupported(url, 'no bucket');
  const fromUrl = parsed.protocol !== 's3:' && parsed.username !== '';
  const accessKeyId = fromUrl ? decodeURIComponent(parsed.username) : env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = fromUrl ? decodeURIComponent(parsed.password) : env.AWS_SECRET_ACCESS_KEY;
  const sessionToken = fromUrl ? undefined : env.AWS_SESSION_TOKEN;
  if (!accessKeyId || !secretAccessKey) {
    throw unsupported(
      url,
      fromUrl
        ? 'the URL names an access key id but no secret'
        : 'no credentials: put <access key id>:<secret>@ in an http(s) URL, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
    );
  }
  let partSizeBytes = options.s3?.partSizeBytes;
  if (partSizeMiB !== undefined) {
    const mib = Number(partSizeMiB);
    if (!Number.isInteger(mib) || mib < 5 || mib > 5120) {
      throw unsupported(url, 'partSizeMiB must be a whole number from 5 to 5120');
    }
    partSizeBytes = mib * 1024 * 1024;
  }
  return {
    ...options.s3,
    endpoint,
    bucket,
    prefix,
    region,
    pathStyle,
    accessKeyId,
    secretAccessKey,
    ...(sessionToken === undefined || sessionToken === '' ? {} : { sessionToken }),
    ...(partSizeBytes === undefined ? {} : { partSizeBytes }),
  };
}

function unsupported(url: unknown, why: string): DomainError {
  return invalidArgument(
    `unsupported artifact store URL ${JSON.stringify(redact(url))}: ${why}; accepted forms:\n  ${ARTIFACT_STORE_URL_FORMS.join('\n  ')}`,
    [{ field: 'artifact store url', message: why }],
  );
}

/** Hides a secret so the error can be logged. */
function redact(url: unknown): string {
  return typeof url === 'string' ? url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@') : String(url);
}
