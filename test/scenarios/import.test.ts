// `lab import` round trip: a cluster dump (test/fixtures/k8s/cluster-dump.yaml) becomes a starter
// topology that loads, builds and answers its probe on a real kernel (UML by default), the dump's
// Services and EndpointSlices programmed by kube-proxy's rules at the dump's kube-proxy release.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { importDumpFile } from '../../lab/kubernetes/import.ts';
import { loadTopology } from '../../lab/topology/load.ts';
import { runScenario } from '../../lab/run.ts';
import { renderScenario } from '../../lab/report/terminal.ts';
import { TEST_RUNNER } from '../helpers/scenario.ts';

const DUMP = fileURLToPath(new URL('../fixtures/k8s/cluster-dump.yaml', import.meta.url));

test.serial('an imported cluster dump loads and its Service answers a probe', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-import-'));
  try {
    const file = path.join(dir, 'imported.yaml');
    importDumpFile(DUMP, { output: file });
    const topo = loadTopology(file);
    t.is(topo.cluster.serviceProxy.version, '1.28.3', 'kube-proxy release from the nodes');
    t.deepEqual(topo.cluster.nodes.map((n) => [n.name, n.ip, n.podCIDR]), [['node-a', '192.168.10.11', '10.244.1.0/24'], ['node-b', '192.168.10.12', '10.244.2.0/24']]);
    t.deepEqual(topo.cluster.pods.map((p) => p.name).sort(), ['toolbox', 'web-5d4f8c7b9-7xk2p', 'web-5d4f8c7b9-q2m9z'], 'the hostNetwork pod has no datapath');
    const web = topo.cluster.services.find((s) => s.name === 'web')!;
    t.deepEqual(web.endpoints.sort(), ['web-5d4f8c7b9-7xk2p', 'web-5d4f8c7b9-q2m9z']);
    const scenario = topo.scenarios.find((s) => s.id === 'svc-web')!;
    t.truthy(scenario);
    const report = await runScenario(topo, scenario, { runner: TEST_RUNNER, timeoutMs: 5 * 60_000 });
    t.log(`svc-web: ${report.runner} ${report.kernel}`);
    if (!report.passed) t.log(renderScenario(report, true));
    t.falsy(report.error, report.error);
    t.true(report.probes.length > 0);
    const answeredBy = report.probes[0]!.answeredBy;
    t.true(answeredBy === 'web-5d4f8c7b9-7xk2p' || answeredBy === 'web-5d4f8c7b9-q2m9z', `answered by ${answeredBy}`);
    for (const p of report.probes) for (const c of p.checks) t.true(c.passed, `${c.name}: expected ${c.expected}, observed ${c.observed}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
