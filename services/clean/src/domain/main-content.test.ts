import { describe, expect, it } from '@jest/globals';
import { extractMainContent } from './main-content.js';

const para = (n: number): string =>
  `Paragraph ${n} explains, in plain words, why the pipeline keeps the structure of an article intact, so that later steps can rely on it.`;

const page = `<!doctype html><html><head><title>Structured Writing | Example Blog</title>
<meta property="og:title" content="Structured Writing"></head><body>
<header class="site-header"><a href="/">Home</a> <a href="/about">About</a></header>
<nav><ul><li><a href="/a">Section A</a></li><li><a href="/b">Section B</a></li></ul></nav>
<div id="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<main><article class="post">
  <h1>Structured Writing</h1>
  <p>${para(1)}</p>
  <h2>Lists and quotes</h2>
  <p>${para(2)}</p>
  <ul><li>first point about structure</li><li>second point, with <a href="/x">a link</a> inside</li></ul>
  <ol start="3"><li>third</li><li>fourth</li></ol>
  <blockquote><p>Quoted wisdom about writing that deserves to be kept as a quotation.</p></blockquote>
  <p>${para(3)}</p>
  <pre><code class="language-python">def f(x):
    if x &lt; 2:\treturn   x  

    return f(x - 1) + f(x - 2)
</code></pre>
  <p>${para(4)} Café — naïve — 日本語のテキスト — emoji 🚀 stay.</p>
  <div class="share-buttons"><a href="#">Share on Twitter</a> <a href="#">Share on Facebook</a></div>
  <div class="related-posts"><h3>Related</h3><ul><li><a href="/r1">Another post worth reading today</a></li>
  <li><a href="/r2">Yet another post worth reading later</a></li></ul></div>
</article>
<section id="comments"><h3>3 comments</h3><p>Great post, thanks for writing it, I learned a lot from this one!</p></section>
</main>
<aside class="sidebar"><p>Subscribe to our newsletter to get every post in your inbox, every week, for free.</p></aside>
<footer><p>© 2024 Example Blog. All rights reserved. Privacy policy and terms of service apply.</p></footer>
<script>var tracking = "should never appear";</script>
</body></html>`;

describe('extractMainContent', () => {
  const result = extractMainContent(page, 'https://example.org/post');

  it('takes the title from the page and does not repeat it in the body', () => {
    expect(result.title).toBe('Structured Writing');
    expect(result.text).not.toContain('# Structured Writing');
  });

  it('keeps headings, paragraphs, lists and quotes as markdown-like structure', () => {
    expect(result.text).toContain('## Lists and quotes');
    expect(result.text).toContain(para(1));
    expect(result.text).toContain('- first point about structure\n- second point, with a link inside');
    expect(result.text).toContain('3. third\n4. fourth');
    expect(result.text).toContain('> Quoted wisdom about writing');
    expect(result.blocks.filter((b) => b.type === 'heading')).toHaveLength(1);
  });

  it('keeps the bytes of a code block and fences it with its language', () => {
    const code = result.blocks.find((b) => b.type === 'code');
    expect(code).toEqual({
      type: 'code',
      language: 'python',
      quote: 0,
      text: 'def f(x):\n    if x < 2:\treturn   x  \n\n    return f(x - 1) + f(x - 2)\n',
    });
    expect(result.text).toContain(
      '```python\ndef f(x):\n    if x < 2:\treturn   x  \n\n    return f(x - 1) + f(x - 2)\n```',
    );
  });

  it('drops navigation, cookie banners, share bars, related links, comments, sidebars, footers and scripts', () => {
    for (const junk of [
      'Section A',
      'cookies',
      'Share on',
      'Another post',
      'Great post',
      'newsletter',
      'All rights',
      'tracking',
      'Home',
    ]) {
      expect(result.text).not.toContain(junk);
    }
  });

  it('preserves unicode and normalises whitespace outside code', () => {
    expect(result.text).toContain('Café — naïve — 日本語のテキスト — emoji 🚀 stay.');
    const prose = result.blocks.filter((b) => b.type !== 'code').map((b) => b.text);
    for (const t of prose) expect(t).not.toMatch(/\s{2,}|^\s|\s$/);
  });

  it('falls back to a long JSON-LD articleBody when the markup hides the text', () => {
    const body = Array.from({ length: 20 }, (_, i) => `Sentence number ${i} of the structured body.`).join(
      ' ',
    );
    const html = `<html><head><script type="application/ld+json">${JSON.stringify({
      '@context': 'https://schema.org',
      '@type': 'NewsArticle',
      headline: 'Hidden',
      articleBody: body,
    })}</script></head><body><div id="app"></div></body></html>`;
    expect(extractMainContent(html, 'https://example.org/x').text).toBe(body);
  });
});

describe('extractMainContent on bytes', () => {
  const article = (text: string): string =>
    `<html><head><meta charset="windows-1252"><title>T</title></head><body><article><p>${text} ${para(1)}</p><p>${para(2)}</p></article></body></html>`;

  it('decodes windows-1252 bytes 0x80–0x9F as a browser does', () => {
    const html = article('\u201cQuoted\u201d \u2014 price \u20ac5');
    // Buffer's latin1 cannot encode these characters; write the windows-1252 bytes by hand.
    const encoded = Buffer.from(
      html
        .replace('\u201c', '\x93')
        .replace('\u201d', '\x94')
        .replace('\u2014', '\x97')
        .replace('\u20ac', '\x80'),
      'latin1',
    );
    expect(extractMainContent(encoded, 'https://example.org/').text).toContain(
      '\u201cQuoted\u201d \u2014 price \u20ac5',
    );
  });

  it('honours the Content-Type charset over a guess', () => {
    const html = `<html><body><article><p>Stra\u00dfe und M\u00fcller. ${para(1)}</p><p>${para(2)}</p></article></body></html>`;
    const bytes = Buffer.from(html, 'latin1');
    expect(extractMainContent(bytes, 'https://example.org/', 'text/html; charset=ISO-8859-1').text).toContain(
      'Stra\u00dfe und M\u00fcller.',
    );
  });

  it('reads undeclared UTF-8 as UTF-8', () => {
    const html = `<html><body><article><p>Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144. ${para(1)}</p><p>${para(2)}</p></article></body></html>`;
    expect(extractMainContent(Buffer.from(html, 'utf8'), 'https://example.org/').text).toContain(
      'Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144.',
    );
  });
});
