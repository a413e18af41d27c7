// What the local S3Proxy (s3proxy.ts) and the container (testcontainers.ts) share: the start options, the
// pinned version, test credentials, the URL and the readiness probe with its SigV4-signed requests. A leaf,
// so that neither of the two imports the other.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { InfraLog } from './backend.js';
import { repoRoot } from './paths.js';

export interface S3ProxyStartOptions {
  /** S3 API port on 127.0.0.1; a free one by default. */
  readonly port?: number;
  /** Folder for the objects (one sub-folder per bucket), kept after the run; a temporary one by default. Local mode only. */
  readonly dataDir?: string;
  /** The bucket created once the server is up (the URL names it). Default `llmtwin-test`. */
  readonly bucket?: string;
  readonly startTimeoutMs?: number;
  readonly log?: InfraLog;
}

/** Test credentials: S3Proxy checks every request's SigV4 signature against them. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

const REGION = 'us-east-1';

export function s3proxyToolDir(): string {
  return path.join(repoRoot(), 'tools', 's3proxy');
}

/** The S3Proxy version pinned in tools/s3proxy/pom.xml, the single place to change it. */
export function pinnedS3ProxyVersion(): string {
  const pom = readFileSync(path.join(s3proxyToolDir(), 'pom.xml'), 'utf8');
  const match = /<s3proxy\.version>([^<]+)<\/s3proxy\.version>/.exec(pom);
  if (match?.[1] === undefined) throw new Error('tools/s3proxy/pom.xml has no <s3proxy.version> property');
  return match[1].trim();
}

export function newCredentials(): S3Credentials {
  return {
    accessKeyId: `llmtwin-${randomBytes(4).toString('hex')}`,
    secretAccessKey: randomBytes(20).toString('hex'),
    region: REGION,
  };
}

/** `http://<id>:<secret>@host:port/<bucket>`: everything an S3 client needs, in one string. */
export function s3Url(host: string, port: number, bucket: string, credentials: S3Credentials): string {
  const id = encodeURIComponent(credentials.accessKeyId);
  const secret = encodeURIComponent(credentials.secretAccessKey);
  return `http://${id}:${secret}@${host}:${port}/${bucket}`;
}

/**
 * Ready means the server answers its health check and a signed request: the bucket exists (it is created on
 * the first start; its folder survives restarts).
 */
export async function s3ProxyReady(
  endpoint: string,
  bucket: string,
  credentials: S3Credentials,
): Promise<boolean> {
  const health = await fetch(`${endpoint}/healthz`, { signal: AbortSignal.timeout(2000) });
  await health.body?.cancel();
  if (health.status !== 200) return false;
  const created = await signedS3Request('PUT', `${endpoint}/${bucket}`, credentials);
  // 409 BucketAlreadyOwnedByYou: created by an earlier start.
  if (created.status !== 200 && created.status !== 409) {
    throw new Error(`creating bucket ${bucket}: HTTP ${created.status} ${created.body.slice(0, 300)}`);
  }
  const head = await signedS3Request('HEAD', `${endpoint}/${bucket}`, credentials);
  return head.status === 200;
}

/**
 * One S3 request signed with AWS Signature Version 4 (an empty body; the payload hash is that of no bytes),
 * for the harness's own readiness checks: the test kit does not depend on an S3 client library.
 */
export async function signedS3Request(
  method: string,
  url: string,
  credentials: S3Credentials,
): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const now = new Date();
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const payloadHash = createHash('sha256').update('').digest('hex');
  const headers: Record<string, string> = {
    host: target.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  };
  const signedHeaders = Object.keys(headers).sort();
  const canonicalPath = target.pathname
    .split('/')
    .map((segment) => encodeRfc3986(decodeURIComponent(segment)))
    .join('/');
  const canonicalQuery = [...target.searchParams.entries()]
    .map(([key, value]) => [encodeRfc3986(key), encodeRfc3986(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const canonicalRequest = [
    method,
    canonicalPath,
    canonicalQuery,
    ...signedHeaders.map((name) => `${name}:${headers[name]}`),
    '',
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${credentials.region}/s3/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(day).digest();
  for (const part of [credentials.region, 's3', 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  const { host: _host, ...sent } = headers;
  const response = await fetch(target, {
    method,
    headers: {
      ...sent,
      authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`,
    },
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: method === 'HEAD' ? '' : await response.text() };
}

function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
