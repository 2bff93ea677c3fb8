// Every relative link of the docs resolves: `node tools/check-doc-links.mjs [file.md …]`
// (part of `make lint`). Reads README.md and docs/**/*.md by default; for each
// Markdown link or reference definition whose target is not a URL, checks that
// the file or folder exists and, for `#anchor`s into Markdown, that the target
// has a heading with that GitHub anchor (or an explicit <a id/name>). Links in
// code blocks and inline code are ignored. Exits 1 and lists every broken link.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

function markdownFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) return markdownFiles(full);
    return full.endsWith('.md') ? [full] : [];
  });
}

/** The text with fenced code blocks and inline code spans blanked (line numbers kept). */
function withoutCode(text) {
  const lines = text.split('\n');
  let fence;
  return lines
    .map((line) => {
      const marker = /^\s*(`{3,}|~{3,})/.exec(line);
      if (fence) {
        if (marker && marker[1][0] === fence[0] && marker[1].length >= fence.length) fence = undefined;
        return '';
      }
      if (marker) {
        fence = marker[1];
        return '';
      }
      return line.replace(/(`+)[\s\S]*?\1/g, (code) => ' '.repeat(code.length));
    })
    .join('\n');
}

/** GitHub's heading anchor: markup dropped, lower case, punctuation removed, spaces to hyphens. */
function slug(heading) {
  const text = heading
    .replace(/<[^>]+>/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/(\*\*|__|\*)/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

const anchorCache = new Map();
function anchorsOf(file) {
  if (anchorCache.has(file)) return anchorCache.get(file);
  const anchors = new Set();
  const counts = new Map();
  const text = readFileSync(file, 'utf8');
  let fence;
  for (const line of text.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence) {
      if (marker && marker[1][0] === fence[0]) fence = undefined;
      continue;
    }
    if (marker) {
      fence = marker[1];
      continue;
    }
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1]);
      const n = counts.get(base) ?? 0;
      counts.set(base, n + 1);
      anchors.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

const files =
  process.argv.length > 2 ? process.argv.slice(2).map((f) => path.resolve(f)) : [path.join(root, 'README.md'), ...markdownFiles(path.join(root, 'docs'))];
const broken = [];
let checked = 0;
for (const file of files) {
  const lines = withoutCode(readFileSync(file, 'utf8')).split('\n');
  lines.forEach((line, index) => {
    const targets = [
      ...[...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
      ...[...line.matchAll(/^\s*\[[^\]]+\]:\s+<?(\S+?)>?(?:\s|$)/g)].map((m) => m[1]),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
      checked += 1;
      const [rawPath, anchor] = target.split('#', 2);
      const where = `${path.relative(root, file)}:${index + 1}`;
      const resolved = rawPath === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(rawPath));
      if (!existsSync(resolved)) {
        broken.push(`${where}: ${target}: no such file or folder`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(decodeURIComponent(anchor))) {
        broken.push(`${where}: ${target}: no heading with anchor #${anchor} in ${path.relative(root, resolved)}`);
      }
    }
  });
}

if (broken.length > 0) {
  for (const line of broken) console.error(`doc-links: ${line}`);
  console.error(`doc-links: ${broken.length} broken of ${checked} relative links in ${files.length} files`);
  process.exit(1);
}
console.log(`doc-links: ${checked} relative links in ${files.length} files, all resolve`);
