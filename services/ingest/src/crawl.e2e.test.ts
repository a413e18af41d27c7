import { expect, it } from '@jest/globals';
import { createIngestModule } from './module.js';
import { parseHtml } from './extract/inert-dom.js';
it('loads', () => {
  expect(typeof createIngestModule).toBe('function');
  expect(parseHtml('<p>x</p>', 'https://a.example/').querySelector('p')?.textContent).toBe('x');
});
