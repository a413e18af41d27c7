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
  });
});
