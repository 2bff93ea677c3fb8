#!/usr/bin/env node
// `npm audit --omit=dev`, as a check of `make test`: fails on any high or
// critical advisory in the runtime dependencies unless tools/audit-allowlist.json
// accepts it (by its GHSA id, with a reason and an expiry date; an expired
// entry accepts nothing). Fails, too, when the registry's audit endpoint cannot
// be asked: an audit that did not run is not a clean audit.
//   node tools/audit.mjs                    runs npm audit
//   node tools/audit.mjs --report FILE      checks a saved `npm audit --json` report
//   AUDIT_ALLOWLIST=FILE                    another allow-list (tests)
// Output ends "N passed, M failed", or "not checked" (tools/test-summary.mjs reads it).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
const BLOCKING = new Set(['high', 'critical']);

/** Every advisory a report names, once: { id, package, severity, title, url }. */
function advisories(report) {
  const found = new Map();
  for (const vulnerability of Object.values(report.vulnerabilities ?? {})) {
    for (const via of vulnerability.via ?? []) {
      if (typeof via !== 'object') continue; // a package name: its own entry lists the advisory
      const id = /GHSA-[\w-]+/.exec(via.url ?? '')?.[0] ?? String(via.source);
      found.set(`${id}:${via.name}`, { id, package: via.name, severity: via.severity, title: via.title, url: via.url });
    }
  }
  return [...found.values()];
}

function readAllowlist(file, today) {
  const { advisories: entries = [] } = JSON.parse(readFileSync(file, 'utf8'));
  const accepted = new Map();
  const expired = [];
  for (const entry of entries) {
    if (!entry.id || !entry.reason || !/^\d{4}-\d{2}-\d{2}$/.test(entry.expires ?? '')) {
      throw new Error(`${path.relative(root, file)}: every entry needs id, reason and expires (YYYY-MM-DD): ${JSON.stringify(entry)}`);
    }
    if (entry.expires < today) expired.push(entry);
    else accepted.set(entry.id, entry);
  }
  return { accepted, expired };
}

function runNpmAudit() {
  try {
    return JSON.parse(execFileSync('npm', ['audit', '--omit=dev', '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (error) {
    // npm audit exits 1 when it finds anything; its JSON is still on stdout.
    if (error.stdout) {
      const report = JSON.parse(error.stdout);
      if (report.vulnerabilities || report.auditReportVersion) return report;
      throw Object.assign(new Error(`the registry's audit endpoint could not be asked: ${report.message ?? error.message}`), { unreachable: true });
    }
    throw error;
  }
}

// --unreachable-is-unchecked (make test): a registry that refuses the audit
// endpoint (some mirrors and proxies do) is reported as "not checked" instead
// of failing the suite; `make audit` stays strict.
const { values } = parseArgs({ options: { report: { type: 'string' }, 'unreachable-is-unchecked': { type: 'boolean' } } });
let passed = 0;
let failed = 0;
let unchecked = false;
try {
  const today = new Date().toISOString().slice(0, 10);
  const { accepted, expired } = readAllowlist(process.env.AUDIT_ALLOWLIST ?? path.join(root, 'tools/audit-allowlist.json'), today);
  for (const entry of expired) console.log(`note: the allow-list entry ${entry.id} expired on ${entry.expires}; it accepts nothing now`);
  const report = values.report ? JSON.parse(readFileSync(values.report, 'utf8')) : runNpmAudit();
  const all = advisories(report);
  const blocking = all.filter((a) => BLOCKING.has(a.severity) && !accepted.has(a.id));
  const allowed = all.filter((a) => BLOCKING.has(a.severity) && accepted.has(a.id));
  const counts = report.metadata?.vulnerabilities ?? {};
  console.log(`npm audit --omit=dev: ${['critical', 'high', 'moderate', 'low'].map((s) => `${counts[s] ?? 0} ${s}`).join(', ')}`);
  for (const a of allowed) console.log(`  accepted by the allow-list: ${a.id} ${a.package} (${a.severity}): ${accepted.get(a.id).reason}`);
  for (const a of blocking) console.log(`  ${a.severity}: ${a.id} ${a.package}: ${a.title} ${a.url ?? ''}`);
  if (blocking.length === 0) {
    console.log('ok - no high or critical advisory in the runtime dependencies outside the allow-list');
    passed += 1;
  } else {
    console.log(`not ok - ${blocking.length} high or critical advisories in the runtime dependencies`);
    failed += 1;
  }
} catch (error) {
  if (error.unreachable && values['unreachable-is-unchecked']) {
    console.log(`# not checked - ${error.message}; run \`make audit\` where the registry answers it`);
    unchecked = true;
  } else {
    console.log(`not ok - npm audit did not run: ${error.message}`);
    failed += 1;
  }
}
// A check that could not run is not a test that ran: the summary lists it apart.
console.log(unchecked ? 'not checked' : `${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
