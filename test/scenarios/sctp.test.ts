// SCTP end to end on a kernel that serves it (UML's has the sctp and xt_sctp modules; a host kernel
// without them is refused by the native runner, naming the feature): the cluster dump with an SCTP
// Service and container port, imported for the eniip datapath, probed over SCTP through the
// ClusterIP — kube-proxy's `-m sctp -p sctp` DNAT, conntrack's sctp entry, the INIT followed to the
// endpoint and the INIT ACK back.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { importDumpFile } from '../../lab/kubernetes/import.ts';
import { runScenario } from '../../lab/run.ts';
import { renderScenario } from '../../lab/report/terminal.ts';
import { loadTopology } from '../../lab/topology/load.ts';
import { TEST_RUNNER } from '../helpers/scenario.ts';

const DUMP = fileURLToPath(new URL('../fixtures/k8s/cluster-dump.yaml', import.meta.url));
// The dump and the topology as plain YAML trees, edited in place.
type Obj = Record<string, any>;

test.serial('an SCTP Service: the INIT is DNATed to an endpoint, which answers; conntrack holds an sctp entry', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-sctp-'));
  try {
    const doc = parse(readFileSync(DUMP, 'utf8')) as { items: Obj[] };
    for (const o of doc.items) {
      if (o.kind === 'Pod' && o.metadata.labels?.app === 'web') o.spec.containers[0].ports.push({ name: 'assoc', containerPort: 9000, protocol: 'SCTP' });
    }
    doc.items.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'assoc', namespace: 'shop' }, spec: { type: 'ClusterIP', clusterIP: '10.96.20.30', selector: { app: 'web' }, ports: [{ name: 'assoc', port: 9000, protocol: 'SCTP', targetPort: 9000 }] } });
    writeFileSync(path.join(dir, 'dump.yaml'), stringify(doc));
    const file = path.join(dir, 'topology.yaml');
    importDumpFile(path.join(dir, 'dump.yaml'), { output: file, datapath: 'eniip' });
    const topo = parse(readFileSync(file, 'utf8')) as Obj;
    topo.scenarios = [{
      id: 'sctp-svc', title: 'toolbox → shop/assoc ClusterIP over SCTP',
      probes: [{
        from: 'toolbox', to: 'svc/assoc:clusterIP', protocol: 'sctp',
        expect: {
          reachable: true,
          seen: [{ at: 'toolbox:eth0', dst: 'svc/assoc:clusterIP' }, { at: 'toolbox:eth0', packet: 'reply', src: 'svc/assoc:clusterIP' }],
          serverSees: { src: 'toolbox' },
          conntrack: [{ node: 'node-a', orig: { src: 'toolbox', dst: 'svc/assoc:clusterIP' }, reply: { dst: 'toolbox' } }],
        },
      }],
    }];
    writeFileSync(file, stringify(topo));
    const loaded = loadTopology(file);
    t.deepEqual(loaded.cluster.pods.find((p) => p.name === 'web-5d4f8c7b9-7xk2p')!.listenSctp, [9000], 'the SCTP container port is a listener');
    const report = await runScenario(loaded, loaded.scenarios[0]!, { runner: TEST_RUNNER, timeoutMs: 5 * 60_000 });
    t.log(`sctp-svc: ${report.runner} ${report.kernel}`);
    if (!report.passed) t.log(renderScenario(report, true));
    t.falsy(report.error, report.error);
    // SCTP's modules (lab/features.ts) are loaded at boot: the kernel asked for none during the run.
    if (report.runner === 'uml') t.deepEqual(report.moduleRequests, [], 'the kernel asked for modules missing from the plan\'s list');
    const probe = report.probes[0]!;
    t.regex(probe.answeredBy ?? '', /^web-5d4f8c7b9-(7xk2p|q2m9z)$/);
    for (const c of probe.checks) t.true(c.passed, `${c.name}: expected ${c.expected}, observed ${c.observed}`);
    const seen = probe.checks.find((c) => c.name.startsWith('seen: request'))!;
    t.true(seen.evidence.length > 0 && seen.evidence.every((e) => e.endsWith('[INIT]')), seen.evidence.join('; '));
    t.regex(probe.checks.find((c) => c.name.startsWith('conntrack'))!.evidence[0] ?? '', /\bsctp\s+132\b.*\bdport=9000\b/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
