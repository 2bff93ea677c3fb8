// Adds up what every test runner of `make test` reported and prints one
// closing line, "tests: N passed, N failed, N skipped"; exits 1 if anything
// failed or if nothing ran at all.
//   jest:  <project>.json  (jest --json --outputFile)
//   shell: <name>.txt      (a script's output, ending "N passed, M failed", or
//          "not checked" for a check that could not run here: listed, not counted)
//   contracts.txt          (`make contracts`, ending "contracts: … orphans=N asyncapi=…"):
//          1 passed when clean; otherwise each ORPHAN/PROBLEM/ASYNCAPI line is a failure
// The failed jest tests are named just above the closing line, so the last
// lines of a CI log say which test to look at.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? '.run/test-results';
let passed = 0;
let failed = 0;
let skipped = 0;
let brokenSuites = 0;
const failedTests = [];

for (const file of readdirSync(dir).sort()) {
  const full = path.join(dir, file);
  if (file.endsWith('.json')) {
    let r;
    try {
      r = JSON.parse(readFileSync(full, 'utf8'));
    } catch {
      r = undefined;
    }
    // A runner that died before writing its counts (or wrote something else) is a broken suite, never NaN.
    if (!r || ['numPassedTests', 'numFailedTests', 'numPendingTests', 'numTodoTests', 'numRuntimeErrorTestSuites'].some((k) => !Number.isFinite(r[k]))) {
      brokenSuites += 1;
      console.log(`  ${file}: no jest counts (the runner did not finish)`);
      continue;
    }
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    brokenSuites += r.numRuntimeErrorTestSuites;
    for (const suite of r.testResults ?? []) {
      const where = path.relative(process.cwd(), suite.name ?? '');
      for (const t of suite.assertionResults ?? []) {
        if (t.status === 'failed') failedTests.push(`${where}: ${t.fullName}`);
      }
      if (suite.status === 'failed' && !(suite.assertionResults ?? []).some((t) => t.status === 'failed')) {
        failedTests.push(`${where}: the suite did not run`);
      }
    }
    console.log(
      `  ${file.replace(/\.json$/, '')}: ${r.numPassedTests} passed, ${r.numFailedTests} failed` +
        (r.numRuntimeErrorTestSuites ? `, ${r.numRuntimeErrorTestSuites} suites did not run` : ''),
    );
  } else if (file.endsWith('.txt')) {
    const text = readFileSync(full, 'utf8');
    if (/^not checked\s*$/m.test(text.split('\n').filter(Boolean).at(-1) ?? '')) {
      console.log(`  ${file.replace(/\.txt$/, '')}: not checked (its output says why)`);
      continue;
    }
    const lines = text.split('\n').filter(Boolean);
    if (/^contracts: /.test(lines.at(-1) ?? '')) {
      const findings = lines.filter((l) => /^(ORPHAN|PROBLEM|ASYNCAPI): /.test(l)).length;
      const clean = findings === 0 && / orphans=0 asyncapi=ok$/.test(lines.at(-1));
      passed += clean ? 1 : 0;
      failed += clean ? 0 : Math.max(findings, 1);
      console.log(`  ${file.replace(/\.txt$/, '')}: ${clean ? 1 : 0} passed, ${clean ? 0 : Math.max(findings, 1)} failed (${lines.at(-1)})`);
      continue;
    }
    const m = /(\d+) passed, (\d+) failed\s*$/.exec(text);
    if (!m) {
      brokenSuites += 1;
      console.log(`  ${file}: no summary line (the script did not finish)`);
      continue;
    }
    passed += Number(m[1]);
    failed += Number(m[2]);
    console.log(`  ${file.replace(/\.txt$/, '')}: ${m[1]} passed, ${m[2]} failed`);
  }
}

failed += brokenSuites;
for (const name of failedTests) console.log(`  FAILED ${name}`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
