import { describe, expect, it } from '@jest/globals';
import { cleanPost } from './clean-post.js';

describe('cleanPost', () => {
  it('keeps links, mentions and hashtags as text and normalises whitespace', () => {
    const raw =
      'Shipped   it!\r\n\r\n\r\nThanks @ana_dev and @bob 🎉  #typescript #LLM\nhttps://example.org/p?id=1';
    expect(cleanPost(raw, 'text/plain').text).toBe(
      'Shipped it!\n\nThanks @ana_dev and @bob 🎉 #typescript #LLM\nhttps://example.org/p?id=1',
    );
  });

  it('strips HTML but keeps paragraphs, line breaks and the words of links', () => {
    const html =
      '<p>Hello <a href="https://x.y/u">@carol</a>,<br>see <a href="https://e.org">https://e.org</a></p><p>#ml &amp; more</p><script>x()</script>';
    expect(cleanPost(html, 'text/html; charset=utf-8').text).toBe(
      'Hello @carol,\nsee https://e.org\n\n#ml & more',
    );
  });

  it('takes the body field of a Substack JSON payload and the commentary of a LinkedIn one', () => {
    const substack = JSON.stringify({ title: 'Note', body_html: '<p>First para</p><p>Second #para</p>' });
    expect(cleanPost(Buffer.from(substack), 'application/json').text).toBe('First para\n\nSecond #para');
    const linkedin = JSON.stringify({ commentary: { text: 'Hiring! Ping @dan   #jobs' } });
    expect(cleanPost(linkedin, 'application/json').text).toBe('Hiring! Ping @dan #jobs');
    // What ingest stores for a row of a LinkedIn export's Shares.csv (current and 2018 formats).
    const row = JSON.stringify({
      format: 'linkedin-shares',
      row: {
        Date: '2025-06-02 09:14:05',
        ShareLink: 'https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A7335000000000000001',
        ShareCommentary: 'We moved our CI to ephemeral runners.\n\nThree things surprised us.',
        SharedUrl: 'https://blog.example.com/ci',
        MediaUrl: '',
        Visibility: 'MEMBER_NETWORK',
      },
      mediaUrls: ['https://media.licdn.com/a.jpg', 'https://media.licdn.com/b.jpg'],
    });
    expect(cleanPost(row, 'application/json').text).toBe(
      'We moved our CI to ephemeral runners.\n\nThree things surprised us.',
    );
    const legacy = (commentary: string) =>
      JSON.stringify({
        format: 'linkedin-shares-2018',
        row: {
          Date: '2015/10/04 16:00:15 UTC',
          'Share Title': 'ICC WORLD CUP',
          'Share Description': 'A site about the tournament',
          'Share Link': 'https://www.linkedin.com/feed/update/urn%3Ali%3Aactivity%3A6056467667525582848',
          'Share Commentary': commentary,
        },
      });
    expect(cleanPost(legacy('Built this one over a weekend.'), 'application/json').text).toBe(
      'Built this one over a weekend.',
    );
    // A bare link share has no words of the member's own.
    expect(cleanPost(legacy(''), 'application/json').text).toBe('');
  });
});
