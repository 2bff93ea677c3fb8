import { parseSearchQuery } from './search-query';

describe('search query', () => {
  it('When Hangul is searched, then each run becomes ANDed syllable bigrams and one syllable a prefix', () => {
    expect(parseSearchQuery('무선키보드').hangul).toBe('무선 & 선키 & 키보 & 보드');
    expect(parseSearchQuery('무선 키보드').hangul).toBe('무선 & 키보 & 보드');
    expect(parseSearchQuery('책').hangul).toBe('책:*');
  });

  it('When Korean and English are mixed, then the Latin words go to the English parser and the text is normalised', () => {
    const parsed = parseSearchQuery('  ＲＧＢ   기계식  Keyboards ');
    expect(parsed).toMatchObject({ normalized: 'rgb 기계식 keyboards', english: 'rgb keyboards', hangul: '기계 & 계식' });
    expect(parsed.highlightTerms).toEqual(['keyboards', '기계식', 'rgb']);
  });

  it('When a query holds control characters (a NUL byte PostgreSQL would refuse), then they count as spaces', () => {
    expect(parseSearchQuery('lamp\u0000\u0006desk\u200b').normalized).toBe('lamp desk');
  });

  it('When a query has no Hangul, then there is no Hangul part (and tsquery operators cannot be injected through it)', () => {
    expect(parseSearchQuery("a & b | !c:* 'x'").hangul).toBe('');
  });
});
