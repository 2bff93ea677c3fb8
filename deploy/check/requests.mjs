// Sums the resource requests of a rendered stack: every container of every pod
// template × its replicas (a Job's pod once, a Deployment without replicas —
// an HPA's — at 1), init containers by their largest. `helm test` pods are left
// out (they run only on demand).
//   node deploy/check/requests.mjs rendered.yaml
//   → requests: memory_mib=N cpu_millicores=N pods=N
// (`yaml` is the parser @opentelemetry/sdk-node already brings.)
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const mib = (q) => {
  const m = /^([0-9.]+)([A-Za-z]*)$/.exec(String(q ?? '0'));
  if (!m) throw new Error(`bad quantity ${q}`);
  const unit = { '': 1 / 2 ** 20, Ki: 1 / 1024, Mi: 1, Gi: 1024, k: 1000 / 2 ** 20, M: 1e6 / 2 ** 20, G: 1e9 / 2 ** 20 }[m[2]];
  if (unit === undefined) throw new Error(`unknown unit in ${q}`);
  return Number(m[1]) * unit;
};
const millicores = (q) => {
  const s = String(q ?? '0');
  return s.endsWith('m') ? Number(s.slice(0, -1)) : Number(s) * 1000;
};

let mem = 0;
let cpu = 0;
let pods = 0;
for (const doc of parseAllDocuments(readFileSync(process.argv[2], 'utf8'))) {
  const o = doc.toJS();
  if (!o || !o.kind) continue;
  if (o.metadata?.annotations?.['helm.sh/hook'] === 'test') continue;
  let spec;
  let replicas = 1;
  if (['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind)) {
    spec = o.spec.template.spec;
    replicas = o.spec.replicas ?? 1;
  } else if (o.kind === 'Job') spec = o.spec.template.spec;
  else if (o.kind === 'Pod') spec = o.spec;
  else continue;
  const sum = (cs, f) => (cs ?? []).reduce((a, c) => a + f(c.resources?.requests ?? {}), 0);
  const max = (cs, f) => Math.max(0, ...(cs ?? []).map((c) => f(c.resources?.requests ?? {})));
  mem +=
    replicas *
    Math.max(
      sum(spec.containers, (r) => mib(r.memory)),
      max(spec.initContainers, (r) => mib(r.memory)),
    );
  cpu +=
    replicas *
    Math.max(
      sum(spec.containers, (r) => millicores(r.cpu)),
      max(spec.initContainers, (r) => millicores(r.cpu)),
    );
  pods += replicas;
}
console.log(`requests: memory_mib=${Math.ceil(mem)} cpu_millicores=${Math.ceil(cpu)} pods=${pods}`);
