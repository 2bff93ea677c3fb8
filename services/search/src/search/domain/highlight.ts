/**
 * Marks the query's words in a text, HTML-escaped, `<mark>` around each hit.
 * Our own rather than ts_headline: the Korean matches are bigram tokens that
 * ts_headline cannot map back onto the original text, and this runs on the
 * page's rows only, in the process, not in the database.
 *
 * A Latin word also marks longer words it starts (stemming: "keyboard" marks
 * "keyboards"); a Hangul run not found whole marks its bigrams.
 */
export interface Highlighted {
  name: string;
  snippet: string;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }[c]};`);
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const HANGUL = /^[가-힣]+$/;
const SNIPPET_CHARS = 160;

function patterns(terms: string[], text: string): string[] {
  const lower = text.toLowerCase();
  const out: string[] = [];
  for (const term of terms) {
    if (HANGUL.test(term)) {
      if (lower.includes(term) || term.length <= 2) out.push(escapeRegExp(term));
      else for (let i = 0; i < term.length - 1; i += 1) out.push(escapeRegExp(term.slice(i, i + 2)));
    } else {
      // Word start, and the stem-ish prefix of the word (keyboards → keyboard…).
      const stem = term.length > 4 ? term.slice(0, term.length - 1) : term;
      out.push(`(?<![\\p{L}\\p{N}])${escapeRegExp(stem)}[\\p{L}\\p{N}]*`);
    }
  }
  return out;
}

function mark(text: string, terms: string[]): { html: string; first: number } {
  const alternatives = patterns(terms, text);
  if (alternatives.length === 0) return { html: escapeHtml(text), first: -1 };
  const matcher = new RegExp(alternatives.join('|'), 'giu');
  let html = '';
  let last = 0;
  let first = -1;
  for (const match of text.matchAll(matcher)) {
    if (match[0].length === 0) continue;
    if (first < 0) first = match.index;
    html += `${escapeHtml(text.slice(last, match.index))}<mark>${escapeHtml(match[0])}</mark>`;
    last = match.index + match[0].length;
  }
  return { html: html + escapeHtml(text.slice(last)), first };
}

export function highlight(name: string, description: string, terms: string[]): Highlighted {
  const start = Math.max(0, mark(description, terms).first - 40);
  const window = description.slice(start, start + SNIPPET_CHARS);
  const snippet = `${start > 0 ? '…' : ''}${window}${start + SNIPPET_CHARS < description.length ? '…' : ''}`;
  return { name: mark(name, terms).html, snippet: mark(snippet, terms).html };
}
