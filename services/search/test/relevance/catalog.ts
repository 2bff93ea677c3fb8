/**
 * A deterministic product catalog for relevance judgements and the benchmark:
 * a seeded generator (mulberry32), so the same seed gives the same products
 * on every machine. Each product is a (brand, attribute, category) triple, its
 * name in Korean (spaced or written as one compound) or in English, its
 * description carrying the other language too (as Korean shops do) plus a
 * companion product's name as noise.
 */
export interface GeneratedProduct {
  productId: string;
  name: string;
  description: string;
  brand: number;
  adjective: number;
  category: number;
  /** How the name is written: Korean spaced, Korean compound, Korean with colour, English. */
  style: 0 | 1 | 2 | 3;
}

type Pair = readonly [ko: string, en: string];

export const BRANDS: Pair[] = [
  ['로지텍', 'Logitech'],
  ['삼성', 'Samsung'],
  ['엘지', 'LG'],
  ['앱코', 'ABKO'],
  ['레노버', 'Lenovo'],
  ['소니', 'Sony'],
  ['샤오미', 'Xiaomi'],
  ['필립스', 'Philips'],
  ['한성', 'Hansung'],
  ['다이슨', 'Dyson'],
  ['브리츠', 'Britz'],
  ['아이리버', 'Iriver'],
];
export const ADJECTIVES: Pair[] = [
  ['무선', 'wireless'],
  ['기계식', 'mechanical'],
  ['게이밍', 'gaming'],
  ['휴대용', 'portable'],
  ['접이식', 'foldable'],
  ['방수', 'waterproof'],
  ['초경량', 'ultralight'],
  ['저소음', 'silent'],
  ['블루투스', 'bluetooth'],
  ['스테인리스', 'stainless'],
  ['프리미엄', 'premium'],
  ['미니', 'mini'],
];
export const CATEGORIES: Pair[] = [
  ['키보드', 'keyboard'],
  ['마우스', 'mouse'],
  ['모니터', 'monitor'],
  ['이어폰', 'earbud'],
  ['헤드셋', 'headset'],
  ['노트북', 'laptop'],
  ['스피커', 'speaker'],
  ['의자', 'chair'],
  ['책상', 'desk'],
  ['텀블러', 'tumbler'],
  ['백팩', 'backpack'],
  ['충전기', 'charger'],
  ['선풍기', 'fan'],
  ['가습기', 'humidifier'],
  ['청소기', 'vacuum'],
];
const COLOURS: Pair[] = [
  ['블랙', 'black'],
  ['화이트', 'white'],
  ['그레이', 'gray'],
  ['네이비', 'navy'],
];
const FILLER_KO = ['빠른 배송', '정품 보증', '1년 무상 AS', '선물용 포장', '가성비 최고', '사무실과 집에서'];
const FILLER_EN = ['fast shipping', 'official warranty', 'gift box included', 'best value', 'for home and office'];

/** mulberry32: a small, well-distributed seeded PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const capital = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export function productId(index: number): string {
  return `p-${String(index).padStart(7, '0')}`;
}

/** Product `index` of the catalog of `seed`; products are independent of the catalog size. */
export function generateProduct(seed: number, index: number): GeneratedProduct {
  const random = seededRandom(seed * 1_000_003 + index);
  const pick = <T>(items: readonly T[]): number => Math.floor(random() * items.length);
  const brand = pick(BRANDS);
  const adjective = pick(ADJECTIVES);
  const category = pick(CATEGORIES);
  const colour = COLOURS[pick(COLOURS)];
  const companion = CATEGORIES[(category + 1 + pick(CATEGORIES.slice(1))) % CATEGORIES.length];
  const style = pick([0, 1, 2, 3]) as GeneratedProduct['style'];
  const model = `${String.fromCharCode(65 + pick(Array(26)))}${100 + pick(Array(900))}`;
  const [bKo, bEn] = BRANDS[brand];
  const [aKo, aEn] = ADJECTIVES[adjective];
  const [cKo, cEn] = CATEGORIES[category];
  const names = [
    `${bKo} ${aKo} ${cKo} ${model}`,
    `${bKo} ${aKo}${cKo} ${model}`,
    `[${bKo}] ${aKo} ${cKo} ${colour[0]} ${model}`,
    `${bEn} ${capital(aEn)} ${capital(cEn)} ${model}`,
  ];
  const other = style === 3 ? `${bKo} ${aKo} ${cKo}` : `${bEn} ${capital(aEn)} ${capital(cEn)}`;
  const description = `${other}. ${colour[0]} ${colour[1]}, ${FILLER_KO[pick(FILLER_KO)]}, ${FILLER_EN[pick(FILLER_EN)]}. ${companion[0]}와 함께 쓰기 좋아요 (goes well with a ${companion[1]}).`;
  return { productId: productId(index), name: names[style], description, brand, adjective, category, style };
}

export function* generateCatalog(seed: number, count: number): Generator<GeneratedProduct> {
  for (let i = 0; i < count; i += 1) yield generateProduct(seed, i);
}

export interface JudgedQuery {
  query: string;
  kind: 'korean' | 'korean-compound' | 'english' | 'mixed' | 'typo' | 'broad';
  /** Every product a shopper typing this expects (the same brand, attribute and category; `broad`: attribute and category). */
  relevant: string[];
}

/**
 * A one-character typo in a long word (6+ letters, or 3+ Hangul syllables):
 * a Latin word loses its middle letter, a Korean one has its middle syllable
 * replaced. Short words stay as they are.
 */
function misspell(word: string): string {
  const middle = Math.floor(word.length / 2);
  if (/^[가-힣]{3,}$/.test(word)) return `${word.slice(0, middle)}${word[middle] === '아' ? '어' : '아'}${word.slice(middle + 1)}`;
  if (word.length >= 6) return word.slice(0, middle) + word.slice(middle + 1);
  return word;
}

/** The words with a typo in the first long one. */
function misspellOne(words: string[]): string {
  const long = words.findIndex((w) => misspell(w) !== w);
  return words.map((w, i) => (i === long ? misspell(w) : w)).join(' ');
}

/** The judged set over a catalog: queries derived from products spread through it, judged by their attributes. */
export function judgeQueries(products: GeneratedProduct[], count: number): JudgedQuery[] {
  const queries: JudgedQuery[] = [];
  const step = Math.floor(products.length / count);
  for (let q = 0; q < count; q += 1) {
    const target = products[q * step];
    const [bKo, bEn] = BRANDS[target.brand];
    const [aKo, aEn] = ADJECTIVES[target.adjective];
    const [cKo, cEn] = CATEGORIES[target.category];
    const kind = (['korean', 'korean-compound', 'english', 'mixed', 'mixed', 'typo', 'broad'] as const)[q % 7];
    let query: string;
    if (kind === 'korean') query = `${bKo} ${aKo} ${cKo}`;
    else if (kind === 'korean-compound') query = `${aKo}${cKo} ${bKo}`;
    else if (kind === 'english') query = `${bEn} ${aEn} ${cEn}s`;
    else if (kind === 'mixed') query = q % 2 ? `${bKo} ${aEn} ${cEn}` : `${bEn} ${aKo} ${cKo}`;
    else if (kind === 'typo') query = misspellOne(target.style === 3 ? [bEn, aEn, cEn] : [bKo, aKo, cKo]);
    else query = `${aKo} ${cKo}`;
    const relevant = products
      .filter((p) => p.adjective === target.adjective && p.category === target.category && (kind === 'broad' || p.brand === target.brand))
      .map((p) => p.productId);
    queries.push({ query, kind, relevant });
  }
  return queries;
}
