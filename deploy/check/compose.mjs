// Checks what `podman-compose config` does not: every depends_on names a
// service of the file, every `service_healthy` dependency has a health check
// (its own, or the image's HEALTHCHECK when built from docker/Dockerfile), and
// every service built from docker/Dockerfile runs read-only as a non-root user.
//   node deploy/check/compose.mjs docker/compose.yaml
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const file = process.argv[2];
const compose = parse(readFileSync(file, 'utf8'), { merge: true });
const services = compose.services ?? {};
const problems = [];
const ours = (s) => s.build?.dockerfile === 'docker/Dockerfile';
for (const [name, s] of Object.entries(services)) {
  const deps = Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, {}])) : (s.depends_on ?? {});
  for (const [dep, how] of Object.entries(deps)) {
    const target = services[dep];
    if (!target) problems.push(`${name}: depends_on ${dep}, which is not a service`);
    else if (how.condition === 'service_healthy' && !target.healthcheck && !ours(target))
      problems.push(`${name}: waits for ${dep} to be healthy, but ${dep} has no health check`);
  }
  if (ours(s) && (s.read_only !== true || !/^[1-9][0-9]*(:[0-9]+)?$/.test(String(s.user ?? ''))))
    problems.push(`${name}: built from docker/Dockerfile but not read_only with a numeric non-root user`);
}
for (const p of problems) console.error(p);
console.log(`compose: ${Object.keys(services).length} services, ${problems.length} problem(s)`);
process.exit(problems.length ? 1 : 0);
