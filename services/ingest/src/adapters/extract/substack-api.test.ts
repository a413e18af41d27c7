import { describe, expect, it } from '@jest/globals';
import { parseSubstackArchive, parseSubstackPostJson } from './substack-api.js';
import { fixtureBytes } from '../../../test/fixture-paths.js';

const API = 'substack-api/jakub-k-slys-substack-api/samples/api/v1/';

describe('Substack JSON', () => {
  it('turns a listing of posts into documents', () => {
    const docs = parseSubstackArchive(
      fixtureBytes(`${API}profile/posts?profile_user_id=27968736&limit=50`),
      'https://karozieminski.substack.com',
    );
    expect(docs).toHaveLength(15);
    expect(docs[0]).toMatchObject({
      platform: 'substack',
      category: 'article',
      title:
        "Founders, Here's What You Need to Know About Releases in 2025. Plus the 267% Acceleration Trend.",
      canonicalUrl: 'https://karozieminski.substack.com/p/founders-heres-what-you-need-to-know',
      author: 'Karo (Product with Attitude)',
      publishedAt: Date.parse('2025-06-12T18:22:44.461Z'),
      externalId: '165787873',
      draft: false,
    });
  });

  it('turns one post into a document', () => {
    const doc = parseSubstackPostJson(
      fixtureBytes(`${API}posts/by-id/167180194`),
      'https://angelsant.substack.com/api/v1/posts/by-id/167180194',
    );
    expect(doc).toMatchObject({
      title: 'Week of June 24, 2025: Build SaaS Without Code',
      subtitle: 'The New Blueprint for Solopreneurs',
      canonicalUrl: 'https://angelsant.substack.com/p/week-of-june-24-2025-build-saas-without',
      author: 'Angel Rodriguez Santiago',
      publishedAt: Date.parse('2025-06-30T13:56:04.688Z'),
      rawContentType: 'application/json',
    });
    expect(doc.tags).toContain('tldr');
  });

  it('refuses JSON that is not a listing', () => {
    expect(() => parseSubstackArchive('{"nope":1}', 'https://x.substack.com')).toThrow(/array of posts/);
  });
});
