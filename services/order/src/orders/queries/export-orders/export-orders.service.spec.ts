import { csvField } from './export-orders.service';

describe('csvField', () => {
  it('When a value holds a comma, quote or line break, then it is quoted with quotes doubled', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('plain')).toBe('plain');
  });

  it('When a value would start a spreadsheet formula, then it is prefixed so it stays text', () => {
    for (const v of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx']) expect(csvField(v).startsWith("'") || csvField(v).startsWith('"\'')).toBe(true);
    expect(csvField('=HYPERLINK("x")')).toBe('"\'=HYPERLINK(""x"")"');
  });

  it('When a value is null or a number, then it is empty or its digits', () => {
    expect(csvField(null)).toBe('');
    expect(csvField(1200)).toBe('1200');
  });
});
