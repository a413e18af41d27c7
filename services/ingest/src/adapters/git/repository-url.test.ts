import { describe, expect, it } from '@jest/globals';
import { isDomainError } from '@llmtwin/runtime';
import { assertSafeRef, fileUrl, parseRepositoryUrl } from './repository-url.js';

function refusal(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
}

describe('parseRepositoryUrl', () => {
  it('normalises GitHub URLs to one spelling', () => {
    for (const url of [
      'https://github.com/Owner/Repo',
      'https://github.com/owner/repo.git',
      'https://github.com/owner/repo/',
      'https://www.github.com/owner/repo?tab=readme#top',
    ]) {
      expect(parseRepositoryUrl(url)).toMatchObject({
        repository: 'https://github.com/owner/repo',
        fetchUrl: 'https://github.com/owner/repo.git',
        transport: 'https',
        host: { hostname: 'github.com', port: 443 },
        owner: 'owner',
        platform: 'github',
      });
    }
  });

  it('keeps other https hosts as given, without .git', () => {
    expect(parseRepositoryUrl('https://gitlab.com/group/sub/proj.git')).toMatchObject({
      repository: 'https://gitlab.com/group/sub/proj',
      fetchUrl: 'https://gitlab.com/group/sub/proj.git',
      owner: 'group',
      platform: 'web',
    });
  });

  it.each([
    'ext::sh -c id',
    'fd::3',
    'ssh://git@github.com/o/r',
    'git@github.com:o/r.git',
    'git://example.com/r',
    'file:///etc',
    '/etc',
    'http://example.com/o/r',
    'https://u:p@example.com/o/r',
    '-uupload-pack=id',
    'https://github.com/o/r/tree/main',
    'not a url',
  ])('refuses %s by default', (url) => {
    expect(
      isDomainError(
        refusal(() => parseRepositoryUrl(url)),
        'invalid-argument',
      ),
    ).toBe(true);
  });

  it('accepts local repositories and http only when allowed', () => {
    expect(parseRepositoryUrl('/tmp/repo.git', { allowLocal: true })).toMatchObject({
      fetchUrl: 'file:///tmp/repo.git',
      repository: 'file:///tmp/repo',
      transport: 'file',
    });
    expect(parseRepositoryUrl('http://git.local:8080/o/r', { allowHttp: true })).toMatchObject({
      transport: 'http',
      host: { hostname: 'git.local', port: 8080 },
    });
    expect(
      isDomainError(refusal(() => parseRepositoryUrl('ext::x', { allowLocal: true, allowHttp: true }))),
    ).toBe(true);
  });
});

describe('assertSafeRef and fileUrl', () => {
  it('accepts branch, tag and commit names', () => {
    for (const ref of ['main', 'feature/x-1', 'v1.2.3', 'a'.repeat(40)])
      expect(() => assertSafeRef(ref)).not.toThrow();
  });

  it('refuses options, refspecs and odd names', () => {
    for (const ref of ['-x', '--upload-pack=id', 'a:b', '+a', 'a..b', 'a/', 'x.lock', 'a b', '@{1}']) {
      expect(() => assertSafeRef(ref)).toThrow();
    }
  });

  it('builds a stable, encoded blob URL', () => {
    expect(fileUrl('https://github.com/o/r', undefined, 'src/a b#1.ts')).toBe(
      'https://github.com/o/r/blob/HEAD/src/a%20b%231.ts',
    );
    expect(fileUrl('https://github.com/o/r', 'release/1.0', 'x.go')).toBe(
      'https://github.com/o/r/blob/release/1.0/x.go',
    );
  });
});
