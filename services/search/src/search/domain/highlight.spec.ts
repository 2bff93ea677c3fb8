import { highlight } from './highlight';
import { parseSearchQuery } from './search-query';

describe('highlight', () => {
  it('When a hit is highlighted, then the words are marked, stems included, and the text is HTML-escaped', () => {
    const terms = parseSearchQuery('keyboard 무선키보드').highlightTerms;
    const { name, snippet } = highlight('<b>Keyboards</b> 무선 키보드', 'A keyboard & more', terms);
    expect(name).toBe('&lt;b&gt;<mark>Keyboards</mark>&lt;/b&gt; <mark>무선</mark> <mark>키보</mark>드');
    expect(snippet).toBe('A <mark>keyboard</mark> &amp; more');
  });

  it('When the match is deep in a long description, then the snippet is a window around it, cut with ellipses', () => {
    const description = `${'x '.repeat(150)}the lamp is here${' y'.repeat(150)}`;
    const { snippet } = highlight('Desk', description, ['lamp']);
    expect(snippet.startsWith('…')).toBe(true);
    expect(snippet.endsWith('…')).toBe(true);
    expect(snippet).toContain('the <mark>lamp</mark> is here');
  });

  it('When no term is given, then the text is only escaped', () => {
    expect(highlight('a < b', 'c & d', [])).toEqual({ name: 'a &lt; b', snippet: 'c &amp; d' });
  });
});
