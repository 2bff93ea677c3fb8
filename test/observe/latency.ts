/**
 * `make latency`: the response-time distribution of every operation, from the
 * spans Jaeger holds for the last LATENCY_MINUTES: an HTML report (a table of
 * percentiles, a histogram per operation) and a PNG of the busiest
 * operations' histograms, under LATENCY_OUT. Knobs: LATENCY_MINUTES (15),
 * LATENCY_SERVICES (comma-separated; default every service Jaeger knows
 * except test runs' `t_…` names), LATENCY_TRACES (traces read per service,
 * 1000), LATENCY_OUT (.run/latency), LATENCY_FONT (a TTF file for the PNG's
 * labels; default the first of the usual system fonts found).
 *
 * Operations: HTTP server spans (`POST /orders`), the logical call per
 * downstream (`payments POST /v1/payments`, retries included), and message
 * publish/process spans; storage spans are left out (they sit inside those).
 */
import { findTraces, localServers, spanService, spanTag, type JaegerSpan } from '@conveyor/testing';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import * as PImage from 'pureimage';

const MINUTES = Number(process.env['LATENCY_MINUTES'] ?? 15);
const TRACES = Number(process.env['LATENCY_TRACES'] ?? 1000);
const OUT = path.resolve(process.env['LATENCY_OUT'] ?? '.run/latency');
const FONT_CANDIDATES = [
  process.env['LATENCY_FONT'],
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/TTF/DejaVuSans.ttf',
  '/usr/share/fonts/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf',
  '/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf',
  '/Library/Fonts/Arial.ttf',
  '/System/Library/Fonts/Supplemental/Arial.ttf',
].filter((f): f is string => Boolean(f));

/** Upper bounds of the histogram buckets, ms (log-spaced; the last is open). */
const BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, Infinity];
const bucketLabel = (i: number): string => (BUCKETS_MS[i] === Infinity ? `>${BUCKETS_MS[i - 1]}` : `≤${BUCKETS_MS[i]}`);

interface Operation {
  name: string;
  samplesMs: number[];
  errors: number;
}

interface Stats {
  count: number;
  errors: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  buckets: number[];
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];

function stats(op: Operation): Stats {
  const sorted = [...op.samplesMs].sort((a, b) => a - b);
  const buckets = BUCKETS_MS.map(() => 0);
  for (const ms of sorted) buckets[BUCKETS_MS.findIndex((upper) => ms <= upper)] += 1;
  return {
    count: sorted.length,
    errors: op.errors,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p95: percentile(sorted, 0.95),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1],
    buckets,
  };
}

/** The spans that stand for an operation a reader cares about (see the header). */
function isOperation(span: JaegerSpan): boolean {
  const kind = spanTag(span, 'span.kind');
  if (kind === 'server' || kind === 'producer' || kind === 'consumer') return true;
  return spanTag(span, 'conveyor.downstream') !== undefined && spanTag(span, 'conveyor.attempt') === undefined;
}

async function services(): Promise<string[]> {
  const wanted = process.env['LATENCY_SERVICES'];
  if (wanted) return wanted.split(',').map((s) => s.trim());
  const response = await fetch(new URL('/api/services', localServers().JAEGER_QUERY_URL));
  if (!response.ok) throw new Error(`Jaeger /api/services answered ${response.status}`);
  const body = (await response.json()) as { data: string[] | null };
  return (body.data ?? []).filter((s) => !s.startsWith('t_') && s !== 'jaeger').sort();
}

async function collect(): Promise<Map<string, Operation>> {
  const since = (Date.now() - MINUTES * 60_000) * 1000;
  const seen = new Set<string>();
  const operations = new Map<string, Operation>();
  for (const service of await services()) {
    for (const trace of await findTraces(service, TRACES, { lookback: `${MINUTES}m`, startMicros: since })) {
      for (const span of trace.spans) {
        if (seen.has(span.spanID) || span.startTime < since || !isOperation(span)) continue;
        seen.add(span.spanID);
        const name = `${spanService(trace, span)}: ${span.operationName}`;
        const op = operations.get(name) ?? { name, samplesMs: [], errors: 0 };
        op.samplesMs.push(span.duration / 1000);
        if (span.tags.some((t) => t.key === 'error' && t.value === true)) op.errors += 1;
        operations.set(name, op);
      }
    }
  }
  return operations;
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function histogramSvg(s: Stats): string {
  const width = 390;
  const height = 120;
  const barWidth = width / s.buckets.length;
  const top = Math.max(...s.buckets, 1);
  const bars = s.buckets
    .map((n, i) => {
      const h = Math.round((n / top) * (height - 30));
      return `<rect x="${(i * barWidth + 2).toFixed(1)}" y="${height - 18 - h}" width="${(barWidth - 4).toFixed(1)}" height="${h}" fill="#3b7dd8"><title>${bucketLabel(i)} ms: ${n}</title></rect>
<text x="${(i * barWidth + barWidth / 2).toFixed(1)}" y="${height - 5}" font-size="9" text-anchor="middle">${escape(bucketLabel(i))}</text>`;
    })
    .join('\n');
  return `<svg width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${bars}</svg>`;
}

function html(rows: [string, Stats][], generatedAt: Date): string {
  const table = rows
    .map(
      ([name, s]) =>
        `<tr><td>${escape(name)}</td><td>${s.count}</td><td>${s.errors}</td><td>${fmt(s.p50)}</td><td>${fmt(s.p90)}</td><td>${fmt(s.p95)}</td><td>${fmt(s.p99)}</td><td>${fmt(s.max)}</td></tr>`,
    )
    .join('\n');
  const charts = rows
    .map(
      ([name, s]) =>
        `<figure><figcaption>${escape(name)} <small>(n=${s.count}, p50 ${fmt(s.p50)} ms, p99 ${fmt(s.p99)} ms)</small></figcaption>${histogramSvg(s)}</figure>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conveyor latency</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{display:inline-block;margin:1em}figcaption{font-size:13px}</style></head>
<body><h1>Latency per operation</h1>
<p>From the spans in Jaeger of the last ${MINUTES} minutes, read ${generatedAt.toISOString()}. Times in ms; histogram buckets are upper bounds in ms.</p>
<table><tr><th>operation</th><th>count</th><th>errors</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th></tr>
${table}
</table>
<h2>Histograms</h2>
<p><img src="latency.png" alt="histograms of the busiest operations"></p>
${charts}
</body></html>
`;
}

/** A TTF for the PNG's labels; pureimage draws text only with a font it has loaded. */
function loadFont(): boolean {
  const file = FONT_CANDIDATES.find((f) => existsSync(f));
  if (!file) return false;
  PImage.registerFont(file, 'Label').loadSync();
  return true;
}

async function png(rows: [string, Stats][], file: string): Promise<boolean> {
  const shown = rows.slice(0, 8);
  const columns = 2;
  const panelW = 600;
  const panelH = 260;
  const image = PImage.make(columns * panelW, Math.max(1, Math.ceil(shown.length / columns)) * panelH);
  const ctx = image.getContext('2d');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, image.width, image.height);
  const withLabels = loadFont();
  shown.forEach(([name, s], index) => {
    const x0 = (index % columns) * panelW + 20;
    const y0 = Math.floor(index / columns) * panelH + 10;
    const plotW = panelW - 40;
    const plotH = panelH - 70;
    const top = Math.max(...s.buckets, 1);
    const barW = plotW / s.buckets.length;
    ctx.fillStyle = '#f3f5f8';
    ctx.fillRect(x0, y0 + 30, plotW, plotH);
    s.buckets.forEach((n, i) => {
      const h = Math.round((n / top) * (plotH - 10));
      ctx.fillStyle = '#3b7dd8';
      ctx.fillRect(x0 + i * barW + 3, y0 + 30 + plotH - h, barW - 6, h);
    });
    if (withLabels) {
      ctx.fillStyle = '#000000';
      ctx.font = '15pt Label';
      ctx.fillText(`${name}`.slice(0, 60), x0, y0 + 18);
      ctx.font = '11pt Label';
      ctx.fillText(`n=${s.count}  p50=${fmt(s.p50)}  p95=${fmt(s.p95)}  p99=${fmt(s.p99)} ms`, x0 + plotW - 300, y0 + 50);
      ctx.font = '9pt Label';
      s.buckets.forEach((_, i) => ctx.fillText(bucketLabel(i), x0 + i * barW + 4, y0 + 30 + plotH + 16));
    }
  });
  const stream = createWriteStream(file);
  await PImage.encodePNGToStream(image, stream);
  stream.end();
  await finished(stream);
  return withLabels;
}

async function main(): Promise<void> {
  const operations = await collect();
  if (operations.size === 0) {
    console.error(`No spans in Jaeger for the last ${MINUTES} minutes: run some traffic first (make demo), or raise LATENCY_MINUTES.`);
    process.exit(1);
  }
  const rows = [...operations.values()].map((op) => [op.name, stats(op)] as [string, Stats]).sort((a, b) => b[1].count - a[1].count);
  mkdirSync(OUT, { recursive: true });
  const pngFile = path.join(OUT, 'latency.png');
  const labelled = await png(rows, pngFile);
  writeFileSync(path.join(OUT, 'index.html'), html(rows, new Date()));
  const width = Math.min(70, Math.max(...rows.map(([n]) => n.length)));
  console.log(`${'operation'.padEnd(width)} ${'count'.padStart(6)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)}  (ms, last ${MINUTES} min)`);
  for (const [name, s] of rows) {
    console.log(
      `${name.slice(0, width).padEnd(width)} ${String(s.count).padStart(6)} ${fmt(s.p50).padStart(8)} ${fmt(s.p95).padStart(8)} ${fmt(s.p99).padStart(8)}`,
    );
  }
  if (!labelled) console.log(`No TTF font found (tried ${FONT_CANDIDATES.join(', ')}): the PNG has no labels. Install fonts-dejavu-core or set LATENCY_FONT.`);
  console.log(`report: ${path.join(OUT, 'index.html')}  histograms: ${pngFile}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
