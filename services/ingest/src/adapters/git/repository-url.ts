// Which repository URLs the crawler will hand to git. A URL reaches git from user input, and git speaks many
// transports, some of which run commands (ext::) or reach the local disk (file://, plain paths); so only
// https (and http where configured) is accepted, and local repositories only where a test asks for them.
import { invalidArgument } from '@llmtwin/runtime';
import { isAbsolute } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { PlatformName } from '../../domain/authors.js';

export interface RepositoryUrlPolicy {
  /** Accept absolute local paths and file:// URLs (tests only: they read the local disk). */
  allowLocal?: boolean;
  /** Accept plain http:// URLs (tests against a loopback server, or an explicit operator choice). */
  allowHttp?: boolean;
}

export interface RepositoryTarget {
  /** What git fetches from. */
  fetchUrl: string;
  /** The repository's stable name in documents: no credentials, query, fragment, trailing slash or .git. */
  repository: string;
  transport: 'https' | 'http' | 'file';
  /** Host name and port to vet and pin for http(s) transports. */
  host?: { hostname: string; port: number };
  /** The account that owns the repository (first path segment), when the URL names one. */
  owner?: string;
  platform: PlatformName;
}

const REF = /^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$/;

function refuse(url: string, why: string): never {
  throw invalidArgument(`repository url "${url}" is refused: ${why}`, [{ field: 'url', message: why }]);
}

/** A branch, tag or commit name that git will read as a ref and never as an option or refspec. */
export function assertSafeRef(ref: string): void {
  const bad =
    !REF.test(ref) ||
    ref.includes('..') ||
    ref.includes('//') ||
    ref.endsWith('/') ||
    ref.endsWith('.') ||
    ref.endsWith('.lock');
  if (bad) {
    throw invalidArgument(`git ref "${ref}" is not a plain branch, tag or commit name`, [
      { field: 'ref', message: 'letters, digits, ".", "_", "-" and "/" only' },
    ]);
  }
}

export function parseRepositoryUrl(raw: string, policy: RepositoryUrlPolicy = {}): RepositoryTarget {
  const input = raw.trim();
  if (input.startsWith('-')) refuse(raw, 'it looks like a command-line option');
  // git's transport helpers (`ext::<command>`, `fd::`) run programs or read descriptors.
  if (/^[A-Za-z0-9+.-]*::/.test(input)) refuse(raw, 'git transport helpers (ext::, fd::) are not allowed');

  if (isAbsolute(input) || input.toLowerCase().startsWith('file:')) {
    if (!policy.allowLocal) refuse(raw, 'local repositories are not allowed; give an https URL');
    let path: string;
    try {
      path = input.toLowerCase().startsWith('file:') ? fileURLToPath(input) : input;
    } catch {
      refuse(raw, 'not a valid file URL');
    }
    const href = pathToFileURL(path).href.replace(/\/+$/, '');
    return {
      fetchUrl: href,
      repository: href.replace(/\.git$/, ''),
      transport: 'file',
      platform: 'web',
    };
  }

  let url: URL;
  try {
    url = new URL(input);
  } catch {
    refuse(raw, 'not an absolute URL; give one like https://github.com/<owner>/<repo>');
  }
  if (url.protocol === 'http:') {
    if (!policy.allowHttp) refuse(raw, 'plain http is not allowed; use https');
  } else if (url.protocol !== 'https:') {
    refuse(raw, `only https repositories are crawled, not ${url.protocol.replace(/:$/, '')}`);
  }
  if (url.username || url.password)
    refuse(raw, 'credentials in the URL are not allowed (public repositories only)');
  url.search = '';
  url.hash = '';

  const segments = url.pathname.split('/').filter((s) => s.length > 0);
  if (segments.length === 0) refuse(raw, 'it names no repository');
  const hostname = url.hostname.toLowerCase();
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const origin = `${url.protocol}//${url.host.toLowerCase()}`;

  if (hostname === 'github.com' || hostname === 'www.github.com') {
    if (segments.length !== 2) refuse(raw, 'a GitHub repository URL is https://github.com/<owner>/<repo>');
    // GitHub names are case-insensitive: one spelling keeps document ids stable.
    const owner = segments[0]!.toLowerCase();
    const name = segments[1]!.toLowerCase().replace(/\.git$/, '');
    const repository = `https://github.com/${owner}/${name}`;
    return {
      fetchUrl: `${repository}.git`,
      repository,
      transport: 'https',
      host: { hostname: 'github.com', port },
      owner,
      platform: 'github',
    };
  }

  const path = '/' + segments.join('/');
  return {
    fetchUrl: origin + path,
    repository: origin + path.replace(/\.git$/, ''),
    transport: url.protocol === 'https:' ? 'https' : 'http',
    host: { hostname: hostname.replace(/^\[(.*)\]$/, '$1'), port },
    owner: segments.length >= 2 ? segments[0]! : undefined,
    platform: 'web',
  };
}

/**
 * The stable URL of one file: `<repository>/blob/<ref or HEAD>/<path>`. No commit in it, so the document id
 * stays put across commits and an edit becomes a new version; on GitHub it is a working link (HEAD is the
 * default branch).
 */
export function fileUrl(repository: string, ref: string | undefined, path: string): string {
  const encode = (s: string) => s.split('/').map(encodeURIComponent).join('/');
  return `${repository}/blob/${ref ? encode(ref) : 'HEAD'}/${encode(path)}`;
}
