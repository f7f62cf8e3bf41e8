// The kproxy family (kube-proxy iptables mode + Calico BGP peered with top-of-rack routers), end to
// end on a real kernel: UML by default; DL_TEST_RUNNER=native on a host kernel with veth, bridge,
// iptables (nat, statistic) and conntrack. Every run starts BIRD in the node, ToR and core
// namespaces and waits, bounded, for BGP to converge before the probes.
import test from 'ava';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { assertScenario } from '../helpers/scenario.ts';

const topo = loadTopology(`${TOPOLOGY_DIR}/kproxy.yaml`);

test('the kproxy catalogue has the scenarios of SCENARIOS.md', (t) => {
  const ids = topo.scenarios.map((s) => s.id);
  for (const id of ['kproxy-1', 'kproxy-2', 'kproxy-3', 'kproxy-4', 'kproxy-5', 'calico-1']) t.true(ids.includes(id), `${id} missing`);
  // The topology pins the article's kube-proxy (1.18); variants show the 1.23 and current rules.
  t.is(topo.cluster.serviceProxy.version, '1.18');
  t.true(topo.scenarios.some((s) => s.serviceProxy.version === '1.23'), 'a scenario shows the last KUBE-XLB release');
  t.true(topo.scenarios.some((s) => s.serviceProxy.version === '1.31'), 'a scenario shows a current release');
  // IPVS mode on the same cluster: loadBalancerSourceRanges filtered in the filter table.
  const ipvs = topo.scenarios.find((s) => s.id === 'kproxy-ipvs-1');
  t.is(ipvs?.serviceProxy.kind, 'ipvs');
  t.deepEqual(topo.cluster.services.find((s) => s.name === 'nginx-demo-3')?.loadBalancerSourceRanges, ['203.0.113.0/28']);
});

for (const s of topo.scenarios) {
  test.serial(`${s.id}: ${s.title}`, async (t) => {
    const report = await assertScenario(t, s.id);
    // The routing daemons reported on their sessions in every run (the build waited for them).
    t.false(report.probes.some((p) => p.checks.some((c) => /^BGP sessions/.test(c.name) && !c.passed)));
    if (s.id === 'kproxy-5') {
      // UDP end to end: the datagrams were captured as UDP, and conntrack's entry is a udp one.
      const [udp, , tcp] = report.probes;
      const seen = udp!.checks.find((c) => c.name.startsWith('seen: request'))!;
      t.true(seen.evidence.length > 0 && seen.evidence.every((e) => e.endsWith('[UDP]')), seen.evidence.join('; '));
      const ct = udp!.checks.find((c) => c.name.startsWith('conntrack'))!;
      t.regex(ct.evidence[0] ?? '', /\budp\s+17\b.*\bdport=53\b/, 'a udp conntrack entry for port 53');
      t.true(udp!.attempts.some((a) => /^pod=coredns-/.test(a.reply.trim())), 'the answering datagram names a CoreDNS pod');
      t.true(tcp!.checks.some((c) => c.name.includes('KUBE-SVC-ERIFXISQEP7F7OF4') && c.passed), 'TCP to the same ClusterIP and port takes the dns-tcp chain');
    }
  });
}
