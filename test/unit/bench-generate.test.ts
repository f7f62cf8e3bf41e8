// Generated benchmark clusters (scripts/bench/generate.ts) load and compile for every datapath.
import test from 'ava';
import { compileScenario } from '../../lab/compile.ts';
import { parseTopology } from '../../lab/topology/load.ts';
import { defaultNodes, generateCluster, podIp, serviceIp, type DatapathKind } from '../../scripts/bench/generate.ts';

test('nodes: one per 100 pods, between 2 and 50', (t) => {
  t.deepEqual([10, 100, 1000, 5000, 9000].map(defaultNodes), [2, 2, 10, 50, 50]);
});

for (const kind of ['eniip', 'trunk', 'calico'] as DatapathKind[]) {
  test(`${kind}: 120 pods load and compile, one pod namespace each`, (t) => {
    const topo = parseTopology(generateCluster({ kind, pods: 120 }), `g-${kind}.yaml`);
    t.is(topo.cluster.pods.length, 120);
    t.is(topo.cluster.nodes.length, 2);
    const c = compileScenario(topo, undefined, 'gen001');
    t.is(c.plan.namespaces.filter((n) => n.kind === 'pod').length, 120);
    t.is(c.probes.length, 0);
  });
}

test('services select the backends and their pods listen on every service port', (t) => {
  const topo = parseTopology(generateCluster({ kind: 'eniip', pods: 3, nodes: 2, serviceProxy: 'iptables', services: 5, backends: [2], servicePorts: [80, 11111], listen: [80, 11111], listeners: [2] }), 'g.yaml');
  t.is(topo.cluster.services.length, 5);
  t.true(topo.cluster.services.every((s) => s.endpoints.length === 1 && s.endpoints[0] === 'p2'));
  t.is(topo.cluster.services[4]!.clusterIP, serviceIp(4));
  t.is(topo.cluster.pods.find((p) => p.name === 'p1')!.ip, podIp('eniip', 1, 1, 2));
  t.is(topo.cluster.pods.find((p) => p.name === 'p2')!.ip, podIp('eniip', 2, 0, 2));
});

test('calico pods stay inside their node\'s block', (t) => {
  const topo = parseTopology(generateCluster({ kind: 'calico', pods: 7, nodes: 3 }), 'g.yaml');
  for (const p of topo.cluster.pods) {
    const n = topo.cluster.nodes.find((x) => x.name === p.node)!;
    t.is(p.ip.split('.').slice(0, 3).join('.'), n.podCIDR!.split('.').slice(0, 3).join('.'));
  }
});
