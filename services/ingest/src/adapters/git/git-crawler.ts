// Collects an author's code from one git repository: a shallow fetch of one commit into a throw-away bare
// repository, then every kept file read straight from git's object store. Nothing is checked out, so no
// filters, hooks or attributes run and each document's `raw` is the exact blob bytes.
import { DomainError, invalidArgument } from '@llmtwin/runtime';
import ipaddr from 'ipaddr.js';
import { lookup } from 'node:dns/promises';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExtractedDocument } from '../../domain/extracted-document.js';
import { LIMIT_REASONS, skipByContent, skipByEntry, type SkipReason, type TreeEntry } from './file-filter.js';
import { GitCommandError, GitProcess } from './git-process.js';
import { detectLanguage } from './language.js';
import { assertSafeRef, fileUrl, parseRepositoryUrl, type RepositoryTarget } from './repository-url.js';

export interface GitCrawlLimits {
  /** Most documents one crawl returns; files past it are skipped as 'max-files'. */
  maxFiles: number;
  /** Larger files are skipped as 'too-large' without being read. */
  maxFileBytes: number;
  /** Most blob bytes read in one crawl; files past it are skipped as 'max-total-bytes'. */
  maxTotalBytes: number;
  /** Most bytes the fetch may download (the pack); past it the fetch is killed. */
  maxFetchBytes: number;
  /** The whole crawl, fetch included; past it git is killed. */
  timeoutMs: number;
}

export const DEFAULT_GIT_CRAWL_LIMITS: Readonly<GitCrawlLimits> = Object.freeze({
  maxFiles: 5000,
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 64 * 1024 * 1024,
  maxFetchBytes: 512 * 1024 * 1024,
  timeoutMs: 5 * 60 * 1000,
});

export interface GitCrawlOptions {
  /** https://github.com/<owner>/<repo> or another https git URL. */
  url: string;
  /** Branch, tag or commit; the remote's HEAD (default branch) when absent. */
  ref?: string;
  /** A scratch folder; each crawl works in its own subfolder and removes it. */
  workDir: string;
  limits?: Partial<GitCrawlLimits>;
  signal?: AbortSignal;
  /** Accept local paths and file:// URLs. Tests only: never for user input. */
  allowLocal?: boolean;
  /** Accept plain http:// URLs. */
  allowHttp?: boolean;
  /**
   * Resolves a host name to the addresses git may connect to, throwing for any it must not (private,
   * loopback, link-local, metadata). git is pinned to the returned addresses, so a second DNS answer
   * cannot steer it elsewhere. Default: DNS, public unicast addresses only.
   */
  resolveHost?: (hostname: string) => Promise<string[]>;
  /** The author as the documents name them; default the repository owner from the URL. */
  author?: string;
  /** The git executable; default `git` from PATH. */
  gitBinary?: string;
}

export interface SkippedFile {
  path: string;
  reason: SkipReason;
}

export interface GitCrawlResult {
  /** The repository's stable URL, as in each document's `code.repository`. */
  repository: string;
  /** The fetched commit. */
  commit: string;
  /** One code document per kept file, in path order. */
  documents: ExtractedDocument[];
  skipped: SkippedFile[];
  /**
   * True when a limit (max files or bytes) left files unread. Those are in `skipped` with a reason in
   * LIMIT_REASONS; they were not examined, so their absence from `documents` says nothing about removal.
   */
  truncated: boolean;
}

const LS_TREE_MAX_BYTES = 64 * 1024 * 1024;
const BATCH_MAX_BYTES = 8 * 1024 * 1024;
const BATCH_MAX_FILES = 500;
const FETCH_POLL_MS = 200;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Default `resolveHost`: every address the name resolves to must be public unicast. */
export async function resolvePublicHost(hostname: string): Promise<string[]> {
  const answers = await lookup(hostname, { all: true, verbatim: true }).catch((err: unknown) => {
    throw new DomainError('not-found', `repository host ${hostname} does not resolve`, { cause: err });
  });
  for (const { address } of answers) {
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
      parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    }
    if (parsed.range() !== 'unicast') {
      throw invalidArgument(
        `repository host ${hostname} resolves to a non-public address (${parsed.range()})`,
        [{ field: 'url', message: 'must be a public host' }],
      );
    }
  }
  return answers.map((a) => a.address);
}

function mergeLimits(limits: Partial<GitCrawlLimits> | undefined): GitCrawlLimits {
  const merged = { ...DEFAULT_GIT_CRAWL_LIMITS, ...limits };
  for (const [name, value] of Object.entries(merged)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw invalidArgument(`git crawl limit ${name} must be a positive number`, [
        { field: `limits.${name}`, message: 'must be > 0' },
      ]);
    }
  }
  return merged;
}

function gitConfig(target: RepositoryTarget, pinned: string | undefined): string[] {
  const pairs = [
    // Only the transport this URL needs: a redirect or a submodule cannot switch to ssh, ext or file.
    'protocol.allow=never',
    `protocol.${target.transport}.allow=always`,
    // A redirect could lead to a private address the vetting never saw.
    'http.followRedirects=false',
    // No stored credentials are ever offered: public repositories only.
    'credential.helper=',
    'core.askPass=',
    'gc.auto=0',
    'maintenance.auto=false',
    // Keep fetched objects in one pack so its size can be measured against maxFetchBytes.
    'fetch.unpackLimit=1',
    'transfer.unpackLimit=1',
    'core.fsmonitor=false',
  ];
  if (pinned) pairs.push(`http.curloptResolve=${pinned}`);
  return pairs.flatMap((pair) => ['-c', pair]);
}

function gitEnv(home: string, gitDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    // A fresh HOME and no system config: the operator's or the machine's git settings never apply.
    HOME: home,
    XDG_CONFIG_HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_DIR: gitDir,
    GIT_TERMINAL_PROMPT: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    LC_ALL: 'C',
  };
  // Outbound proxies and trust stores are deployment settings git must keep honouring.
  for (const name of [
    'HTTPS_PROXY',
    'https_proxy',
    'HTTP_PROXY',
    'http_proxy',
    'NO_PROXY',
    'no_proxy',
    'SSL_CERT_FILE',
    'SSL_CERT_DIR',
  ]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

async function packBytes(gitDir: string): Promise<number> {
  const dir = join(gitDir, 'objects', 'pack');
  const names = await readdir(dir).catch(() => [] as string[]);
  let total = 0;
  for (const name of names) {
    total += await stat(join(dir, name)).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}

function parseTree(out: Buffer): { entries: TreeEntry[]; badPaths: string[] } {
  const entries: TreeEntry[] = [];
  const badPaths: string[] = [];
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0, start);
    if (end === -1) end = out.length;
    const record = out.subarray(start, end);
    start = end + 1;
    const tab = record.indexOf(0x09);
    if (tab === -1) continue;
    const [mode = '', type = '', object = '', size = '-'] = record
      .subarray(0, tab)
      .toString('latin1')
      .trim()
      .split(/\s+/);
    const pathBytes = record.subarray(tab + 1);
    let path: string;
    try {
      path = utf8.decode(pathBytes);
    } catch {
      badPaths.push(pathBytes.toString('utf8'));
      continue;
    }
    entries.push({ mode, type, object, size: size === '-' ? null : Number(size), path });
  }
  return { entries, badPaths };
}

/** Parses `git cat-file --batch` output: `<oid> <type> <size>\n<bytes>\n` per object. */
function parseBatch(out: Buffer): Map<string, Uint8Array> {
  const blobs = new Map<string, Uint8Array>();
  let pos = 0;
  while (pos < out.length) {
    const newline = out.indexOf(0x0a, pos);
    if (newline === -1) break;
    const [oid = '', type = '', sizeText = ''] = out.subarray(pos, newline).toString('latin1').split(' ');
    pos = newline + 1;
    if (type === 'missing' || sizeText === '') continue;
    const size = Number(sizeText);
    // A copy, so a kept document does not pin the whole batch buffer.
    if (type === 'blob') blobs.set(oid, new Uint8Array(out.subarray(pos, pos + size)));
    pos += size + 1;
  }
  return blobs;
}

function fetchError(err: unknown, target: RepositoryTarget, ref: string): Error {
  if (!(err instanceof GitCommandError)) return err as Error;
  const stderr = err.stderr;
  if (
    /not found|could not read Username|Authentication failed|couldn't find remote ref|does not appear to be a git repository/i.test(
      stderr,
    )
  ) {
    return new DomainError(
      'not-found',
      `repository ${target.repository} (ref ${ref}) was not found or is not public`,
      { cause: err },
    );
  }
  if (/redirect/i.test(stderr)) {
    return new DomainError(
      'failed-precondition',
      `repository ${target.repository} redirects elsewhere; register its current URL`,
      { cause: err },
    );
  }
  return new DomainError(
    'unavailable',
    `could not fetch ${target.repository}: ${stderr.trim().slice(0, 300)}`,
    {
      cause: err,
    },
  );
}

export async function crawlRepository(options: GitCrawlOptions): Promise<GitCrawlResult> {
  const limits = mergeLimits(options.limits);
  const target = parseRepositoryUrl(options.url, {
    allowLocal: options.allowLocal,
    allowHttp: options.allowHttp,
  });
  const ref = options.ref ?? 'HEAD';
  assertSafeRef(ref);

  await mkdir(options.workDir, { recursive: true });
  const scratch = await mkdtemp(join(options.workDir, 'git-crawl-'));
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new DomainError(
          'deadline-exceeded',
          `crawling ${target.repository} took longer than ${limits.timeoutMs} ms`,
        ),
      ),
    limits.timeoutMs,
  );
  const onAbort = () =>
    controller.abort(new DomainError('cancelled', `crawl of ${target.repository} was cancelled`));
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const home = join(scratch, 'home');
  const gitDir = join(scratch, 'repo.git');
  let git: GitProcess | undefined;
  try {
    let pinned: string | undefined;
    if (target.host) {
      const resolve = options.resolveHost ?? resolvePublicHost;
      const addresses = await resolve(target.host.hostname);
      if (addresses.length === 0)
        throw new DomainError('not-found', `${target.host.hostname} has no address`);
      const list = addresses.map((a) => (a.includes(':') ? `[${a}]` : a)).join(',');
      pinned = `${target.host.hostname}:${target.host.port}:${list}`;
    }
    if (controller.signal.aborted) throw controller.signal.reason as Error;
    await mkdir(home);
    git = new GitProcess(
      options.gitBinary ?? 'git',
      gitConfig(target, pinned),
      gitEnv(home, gitDir),
      scratch,
      controller.signal,
    );
    await git.run(['init', '--quiet', '--bare', gitDir]);

    let fetchTooBig = false;
    const runner = git;
    const watchdog = setInterval(() => {
      void packBytes(gitDir).then((bytes) => {
        if (bytes > limits.maxFetchBytes) {
          fetchTooBig = true;
          runner.killAll();
        }
      });
    }, FETCH_POLL_MS);
    try {
      await git.run([
        'fetch',
        '--quiet',
        '--depth',
        '1',
        '--no-tags',
        '--no-recurse-submodules',
        '--',
        target.fetchUrl,
        ref,
      ]);
    } catch (err) {
      if (!fetchTooBig) throw fetchError(err, target, ref);
    } finally {
      clearInterval(watchdog);
    }
    if (fetchTooBig || (await packBytes(gitDir)) > limits.maxFetchBytes) {
      throw new DomainError(
        'resource-exhausted',
        `repository ${target.repository} is larger than ${limits.maxFetchBytes} bytes at one commit`,
      );
    }

    const commit = (await git.run(['rev-parse', '--verify', '--quiet', 'FETCH_HEAD^{commit}']))
      .toString('latin1')
      .trim();
    const [committedAt = '', authorName = ''] = (await git.run(['show', '-s', '--format=%ct%x00%an', commit]))
      .toString('utf8')
      .trim()
      .split('\0');
    const publishedAt = Number(committedAt) * 1000;
    const author = options.author ?? target.owner ?? authorName;

    const tree = parseTree(
      await git.run(['ls-tree', '-r', '-l', '-z', '--full-tree', commit], {
        maxStdoutBytes: LS_TREE_MAX_BYTES,
      }),
    );
    const skipped: SkippedFile[] = tree.badPaths.map((path) => ({ path, reason: 'non-utf8-path' }));
    const candidates: TreeEntry[] = [];
    for (const entry of tree.entries) {
      const reason = skipByEntry(entry, limits.maxFileBytes);
      if (reason) skipped.push({ path: entry.path, reason });
      else candidates.push(entry);
    }

    const documents: ExtractedDocument[] = [];
    let bytesRead = 0;
    let next = 0;
    while (next < candidates.length) {
      // Read at most as many files as could still become documents, so content skips are made up for by
      // the next batch and the byte budget is not spent on files the file limit would drop anyway.
      const room = limits.maxFiles - documents.length;
      if (room <= 0) {
        for (; next < candidates.length; next++)
          skipped.push({ path: candidates[next]!.path, reason: 'max-files' });
        break;
      }
      const batch: TreeEntry[] = [];
      let batchBytes = 0;
      while (next < candidates.length && batch.length < Math.min(room, BATCH_MAX_FILES)) {
        const entry = candidates[next]!;
        const size = entry.size ?? 0;
        if (batch.length > 0 && batchBytes + size > BATCH_MAX_BYTES) break;
        next++;
        if (bytesRead + batchBytes + size > limits.maxTotalBytes) {
          skipped.push({ path: entry.path, reason: 'max-total-bytes' });
          continue;
        }
        batch.push(entry);
        batchBytes += size;
      }
      if (batch.length === 0) continue;
      bytesRead += batchBytes;
      const blobs = parseBatch(
        await git.run(['cat-file', '--batch'], {
          input: batch.map((e) => e.object + '\n').join(''),
          maxStdoutBytes: batchBytes + batch.length * 128,
        }),
      );
      for (const entry of batch) {
        const raw = blobs.get(entry.object);
        if (!raw) throw new DomainError('internal', `git did not return ${entry.path} (${entry.object})`);
        const reason = skipByContent(raw);
        if (reason) {
          skipped.push({ path: entry.path, reason });
          continue;
        }
        documents.push(toDocument(target, options.ref, commit, author, publishedAt, entry.path, raw));
      }
    }

    skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return {
      repository: target.repository,
      commit,
      documents,
      skipped,
      truncated: skipped.some((s) => LIMIT_REASONS.has(s.reason)),
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    git?.killAll();
    await rm(scratch, { recursive: true, force: true });
  }
}

function toDocument(
  target: RepositoryTarget,
  ref: string | undefined,
  commit: string,
  author: string,
  publishedAt: number,
  path: string,
  raw: Uint8Array,
): ExtractedDocument {
  let text = true;
  try {
    utf8.decode(raw);
  } catch {
    text = false;
  }
  return {
    category: 'code',
    platform: target.platform,
    canonicalUrl: fileUrl(target.repository, ref, path),
    title: path,
    author,
    publishedAt: Number.isFinite(publishedAt) ? publishedAt : null,
    draft: false,
    raw,
    // Source in a legacy encoding is still kept byte for byte; the type says it cannot be read as UTF-8.
    rawContentType: text ? 'text/plain; charset=utf-8' : 'application/octet-stream',
    code: {
      repository: target.repository,
      path,
      language: detectLanguage(path, raw.subarray(0, 256)),
      commit,
    },
  };
}
