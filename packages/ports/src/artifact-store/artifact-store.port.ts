// The artifact store keeps large immutable files the system produces and serves: fine-tuned model weights,
// adapters, tokenizers, exported datasets, evaluation reports. Artifacts are content-addressed: an artifact's
// identity is the sha256 of its bytes, so the same bytes always get the same URI, storing them twice is a
// no-op, and a reader can check what it got. Names ("the production model", "v3 of the adapter") are not
// kept here: the model registry (in the warehouse) maps them to artifact URIs.
//
// Two adapters: embedded (files under a folder) and s3 (any S3-compatible object storage). See
// docs/artifact-store.md.

import type { Readable } from 'node:stream';

/** `artifact://sha256/<64 lowercase hex>`: the same in every adapter, so references survive a migration. */
export type ArtifactUri = string;

export const ARTIFACT_URI_PREFIX = 'artifact://sha256/';

/** A stored artifact, as `put` returns it and `stat` reports it. */
export interface Artifact {
  readonly uri: ArtifactUri;
  /** sha256 of the bytes, 64 lowercase hex characters. */
  readonly sha256: string;
  readonly sizeBytes: number;
  /**
   * What the bytes are (`application/octet-stream` unless told). Descriptive only: it is not part of the
   * identity, and the same bytes stored twice keep the media type they were first stored with.
   */
  readonly mediaType: string;
}

/** What `list` yields: the media type needs a request per artifact on S3, so `stat` one to get it. */
export type ArtifactSummary = Omit<Artifact, 'mediaType'>;

export interface PutOptions {
  /** An RFC 6838 media type such as `application/gguf` or `application/json`; parameters are allowed. */
  readonly mediaType?: string;
  readonly signal?: AbortSignal;
}

export interface ListOptions {
  /** Only artifacts whose sha256 starts with these hex digits (like an abbreviated git hash). */
  readonly sha256Prefix?: string;
  readonly signal?: AbortSignal;
}

/** Bytes to store: a buffer, or a stream of chunks (a Node `Readable`, any async iterable of bytes). */
export type ArtifactContent = Uint8Array | AsyncIterable<Uint8Array>;

export interface ArtifactStore {
  /** 'embedded' or 's3'. */
  readonly adapter: 'embedded' | 's3';

  /**
   * Stores the bytes and returns the artifact. A stream is read once and never held in memory whole.
   * Atomic: readers see the whole artifact or none of it, also when the writer dies half-way.
   */
  put(content: ArtifactContent, options?: PutOptions): Promise<Artifact>;
  /** Stores a local file, streaming it: files larger than memory are fine. */
  putFile(path: string, options?: PutOptions): Promise<Artifact>;

  /** The whole artifact in memory (for small ones); 'not-found' when it is not stored. */
  get(uri: ArtifactUri, signal?: AbortSignal): Promise<Uint8Array>;
  /**
   * A stream of the artifact's bytes; 'not-found' when it is not stored. The bytes are checked against the
   * sha256 as they pass: a stored copy that no longer matches makes the stream fail with 'internal' at its
   * end (before the last chunk is delivered), so a consumer that finishes without error got the right bytes.
   */
  open(uri: ArtifactUri, signal?: AbortSignal): Promise<Readable>;
  /** The artifact's description, or undefined when it is not stored. */
  stat(uri: ArtifactUri, signal?: AbortSignal): Promise<Artifact | undefined>;
  exists(uri: ArtifactUri, signal?: AbortSignal): Promise<boolean>;
  /** Removes the artifact; returns whether it was there. */
  delete(uri: ArtifactUri, signal?: AbortSignal): Promise<boolean>;
  /** Every stored artifact, in sha256 order. Artifacts stored or deleted during the listing may or may not appear. */
  list(options?: ListOptions): AsyncIterable<ArtifactSummary>;

  /** Resolves when the store can be used; throws DomainError 'unavailable' otherwise. Used by health checks. */
  ping(signal?: AbortSignal): Promise<void>;
  /** Idempotent; every other method then fails with 'unavailable'. */
  close(): Promise<void>;
}
