// `lab import` round trip: a cluster dump (test/fixtures/k8s/cluster-dump.yaml) becomes a starter
// topology that loads, builds and answers its probe on a real kernel (UML by default), the dump's
// Services and EndpointSlices programmed by kube-proxy's rules at the dump's kube-proxy release —
// for every datapath family: each one's topology loads and compiles, and the calico, eniip and
// trunk ones run their probe; a dump the datapath's model cannot hold is exit 2.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { compileScenario } from '../../lab/compile.ts';
import { InputError } from '../../lab/errors.ts';
import { importDumpFile, IMPORT_DATAPATHS, type ImportDatapath } from '../../lab/kubernetes/import.ts';
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

/** The dump imported for one datapath into a temporary folder; fn gets the topology file. */
async function imported<T>(datapath: ImportDatapath, fn: (file: string) => Promise<T> | T, dump = DUMP): Promise<T> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-import-'));
  try {
    const file = path.join(dir, `${datapath}.yaml`);
    importDumpFile(dump, { output: file, datapath });
    return await fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const datapath of IMPORT_DATAPATHS) {
  test(`lab import --datapath ${datapath}: the topology loads and its scenario compiles (lab plan)`, async (t) => {
    await imported(datapath, (file) => {
      const topo = loadTopology(file);
      t.is(topo.cluster.datapath.kind, datapath);
      t.deepEqual(topo.cluster.pods.map((p) => p.name).sort(), ['toolbox', 'web-5d4f8c7b9-7xk2p', 'web-5d4f8c7b9-q2m9z']);
      const web = topo.cluster.pods.find((p) => p.name === 'web-5d4f8c7b9-7xk2p')!;
      t.is(web.namespace, 'shop', 'the pod keeps its namespace');
      t.deepEqual(web.listen, [8080], 'container ports are its listeners');
      // Where each family puts a pod address: a node block (calico), a secondary ENI (eniip, ipvlan),
      // its own ENI (eni), a member ENI on the trunk (trunk), each in the vSwitch of its /24.
      const node = topo.cluster.nodes.find((n) => n.name === web.node)!;
      if (datapath === 'calico') t.is(node.podCIDR, '10.244.1.0/24');
      else if (datapath === 'trunk') {
        t.like(web.memberEni, { vlan: 1001, vswitch: topo.cluster.vswitches.find((v) => v.cidr === '10.244.1.0/24')!.name });
        t.true(node.enis.some((e) => e.trunk));
      } else {
        const eni = node.enis.find((e) => e.name === web.eni)!;
        t.false(eni.primary);
        t.is(topo.cluster.vswitches.find((v) => v.name === eni.vswitch)!.cidr, '10.244.1.0/24');
      }
      if (datapath === 'eni') t.not(topo.cluster.pods.find((p) => p.name === 'toolbox')!.eni, web.eni, 'an exclusive ENI per pod');
      t.is(topo.cluster.serviceProxy.kind, datapath === 'ipvlan' ? 'ebpf' : 'iptables');
      const compiled = compileScenario(topo, topo.scenarios.find((s) => s.id === 'svc-web'), 'imp001');
      t.true(compiled.plan.steps.length > 0);
      t.is(compiled.probes[0]!.dstIp, '10.96.20.20');
    });
  });
}

for (const datapath of ['eniip', 'trunk'] as const) {
  test.serial(`lab import --datapath ${datapath}: the Service answers its probe`, async (t) => {
    await imported(datapath, async (file) => {
      const topo = loadTopology(file);
      const report = await runScenario(topo, topo.scenarios.find((s) => s.id === 'svc-web')!, { runner: TEST_RUNNER, timeoutMs: 5 * 60_000 });
      t.log(`${datapath} svc-web: ${report.runner} ${report.kernel}`);
      if (!report.passed) t.log(renderScenario(report, true));
      t.falsy(report.error, report.error);
      t.true(report.probes.length > 0);
      t.regex(report.probes[0]!.answeredBy ?? '', /^web-5d4f8c7b9-(7xk2p|q2m9z)$/);
      for (const p of report.probes) for (const c of p.checks) t.true(c.passed, `${c.name}: expected ${c.expected}, observed ${c.observed}`);
    });
  });
}

test('lab import --datapath eni: a node with more pods than it can have ENIs is exit 2, naming the node', async (t) => {
  // 16 more pods on node-a: with toolbox and web, 18 exclusive ENIs, the model holds 15 per node.
  const doc = parse(readFileSync(DUMP, 'utf8')) as { items: Record<string, unknown>[] };
  for (let i = 0; i < 16; i++) {
    doc.items.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `batch-${i}`, namespace: 'shop' }, spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'busybox' }] }, status: { podIP: `10.244.1.${100 + i}` } });
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-import-'));
  try {
    const dump = path.join(dir, 'big.yaml');
    writeFileSync(dump, stringify(doc));
    const e = t.throws(() => importDumpFile(dump, { datapath: 'eni' }), { instanceOf: InputError }) as InputError;
    t.is(e.exitCode, 2);
    t.regex(e.message, /node node-a has 18 pods, each with its own ENI: the eni datapath gives a node at most 15 secondary ENIs/);
    t.regex(e.message, /big\.yaml:\d+/, 'located in the dump');
    // The same dump fits the shared-ENI datapath: its pods are in one vSwitch, one ENI.
    t.notThrows(() => importDumpFile(dump, { datapath: 'eniip' }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('lab import: a UDP Service (cluster DNS) gets a UDP starter probe, which its endpoint answers', async (t) => {
  // The dump plus a CoreDNS pod on node-b serving 53/UDP, the kube-dns Service and its EndpointSlice.
  const doc = parse(readFileSync(DUMP, 'utf8')) as { items: Record<string, unknown>[] };
  doc.items.push(
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'coredns-7db6d8ff4d-2xk9l', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } }, spec: { nodeName: 'node-b', containers: [{ name: 'coredns', image: 'coredns', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }] }] }, status: { podIP: '10.244.2.30' } },
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'kube-dns', namespace: 'kube-system' }, spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', selector: { 'k8s-app': 'kube-dns' }, ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }] } },
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'kube-dns-x7k2p', namespace: 'kube-system', labels: { 'kubernetes.io/service-name': 'kube-dns' } }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.2.30'], conditions: { ready: true }, nodeName: 'node-b' }], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
  );
  const dir = mkdtempSync(path.join(tmpdir(), 'dl-import-'));
  try {
    const dump = path.join(dir, 'dns.yaml');
    writeFileSync(dump, stringify(doc));
    await imported('calico', async (file) => {
      const topo = loadTopology(file);
      t.deepEqual(topo.cluster.pods.find((p) => p.name === 'coredns-7db6d8ff4d-2xk9l')!.listenUdp, [53], 'the UDP container port is a UDP listener');
      const scenario = topo.scenarios.find((s) => s.id === 'svc-kube-dns')!;
      t.is(scenario.probes[0]!.protocol, 'udp');
      const report = await runScenario(topo, scenario, { runner: TEST_RUNNER, timeoutMs: 5 * 60_000 });
      if (!report.passed) t.log(renderScenario(report, true));
      t.falsy(report.error, report.error);
      t.is(report.probes[0]!.answeredBy, 'coredns-7db6d8ff4d-2xk9l');
      for (const c of report.probes[0]!.checks) t.true(c.passed, `${c.name}: expected ${c.expected}, observed ${c.observed}`);
    }, dump);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
