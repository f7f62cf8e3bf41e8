/**
 * IPVS mode by release and from a topology: what lab/services/iptables/release.ts says changed
 * (the mark's form before 1.19, KUBE-IPVS-FILTER from 1.26, KUBE-IPVS-OUT-FILTER from 1.29), and the
 * kproxy topology's LoadBalancer with loadBalancerSourceRanges as its nodes would be programmed.
 */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { readManifests } from '../../lab/kubernetes/manifests.ts';
import { readClusterObjects } from '../../lab/kubernetes/objects.ts';
import { kubeProxyServices } from '../../lab/kubernetes/kube-proxy.ts';
import { buildIpvs, ipvsTablesForNode } from '../../lab/services/ipvs/index.ts';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { parseIpvsadm } from '../../lab/evidence/ipvsadm.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/k8s/', import.meta.url));

function atVersion(version: string, nodeIP?: string) {
  const services = kubeProxyServices(readClusterObjects(readManifests(`${FIXTURES}ipvs-TestLoadBalancerSourceRanges.yaml`)));
  return buildIpvs({ nodeName: 'test-node', nodeIPs: nodeIP ? [nodeIP] : [], version, jumps: 'none', randomFully: false, services });
}

const chains = (payload: string) => payload.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]);

test('by release: KUBE-IPVS-FILTER and its set from 1.26, KUBE-IPVS-OUT-FILTER from 1.29, the old mark before 1.19', (t) => {
  const v18 = atVersion('1.18');
  const v25 = atVersion('1.25');
  const v26 = atVersion('1.26');
  const v28 = atVersion('1.28');
  const v29 = atVersion('1.29');
  t.false(chains(v25.iptables).includes('KUBE-IPVS-FILTER'));
  t.false(v25.sets.has('KUBE-IPVS-IPS'));
  t.true(chains(v26.iptables).includes('KUBE-IPVS-FILTER'));
  t.deepEqual([...v26.sets.get('KUBE-IPVS-IPS')!.entries], ['10.20.30.41', '1.2.3.4']);
  t.regex(v26.iptables, /^-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT$/m);
  t.false(chains(v28.iptables).includes('KUBE-IPVS-OUT-FILTER'));
  t.notRegex(v28.iptables, /-m ipvs/);
  // No primary node IP inside 10.0.0.0/8: the node itself may not reach its load balancer (issue 119656).
  t.true(chains(v29.iptables).includes('KUBE-IPVS-OUT-FILTER'));
  t.regex(v29.iptables, /^-A KUBE-IPVS-OUT-FILTER -s 1\.2\.3\.4 -m ipvs --vaddr 1\.2\.3\.4 --vproto tcp --vport 80 -j DROP$/m);
  t.regex(v18.iptables, /^-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark 0x00004000\/0x00004000 -j MASQUERADE$/m);
  t.regex(v18.iptables, /^-A KUBE-MARK-MASQ -j MARK --set-xmark 0x00004000\/0x00004000$/m);
  t.regex(v29.iptables, /^-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000$/m);
  // The sets, virtual servers and VIPs do not depend on these releases.
  t.deepEqual(v18.virtualServers, v29.virtualServers);
});

test('loadBalancerSourceRanges holding the node IP: the LB IP may reach itself (KUBE-LOAD-BALANCER-SOURCE-IP), no OUT-FILTER drop', (t) => {
  const r = atVersion('1.31', '10.1.2.3');
  t.deepEqual([...r.sets.get('KUBE-LOAD-BALANCER-SOURCE-IP')!.entries], ['1.2.3.4,tcp:80,1.2.3.4']);
  t.notRegex(r.iptables, /-A KUBE-IPVS-OUT-FILTER/);
  t.regex(r.iptables, /^-A KUBE-SOURCE-RANGES-FIREWALL -m comment --comment "Kubernetes service load balancer ip \+ port \+ source IP for packet filter purpose" -m set --match-set KUBE-LOAD-BALANCER-SOURCE-IP dst,dst,src -j RETURN$/m);
});

test('kproxy topology in IPVS mode: worker A holds the LB address (no VIP), worker B binds it; both filter the source ranges', (t) => {
  const topo = loadTopology(`${TOPOLOGY_DIR}/kproxy.yaml`);
  const s = topo.scenarios.find((x) => x.id === 'kproxy-ipvs-1')!;
  const cluster = { ...topo.cluster, serviceProxy: { ...topo.cluster.serviceProxy, ...s.serviceProxy } };
  const [a, b] = cluster.nodes.map((n) => ipvsTablesForNode({ cluster }, n));
  t.false(a!.vips.includes('192.168.64.57'));
  t.true(b!.vips.includes('192.168.64.57'));
  for (const x of [a!, b!]) {
    t.deepEqual([...x.sets.get('KUBE-LOAD-BALANCER-SOURCE-CIDR')!.entries], ['192.168.64.57,tcp:8090,203.0.113.0/28']);
    t.regex(x.iptables, /^-A KUBE-SOURCE-RANGES-FIREWALL -j DROP$/m);
    t.regex(x.iptables, /^-I INPUT 1 -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL$/m);
  }
  // --cluster-cidr: pod sources are not masqueraded; everything else to a cluster IP is.
  t.regex(a!.iptables, /--match-set KUBE-CLUSTER-IP dst,dst ! -s 10\.217\.0\.0\/16 -j KUBE-MARK-MASQ$/m);
  t.regex(a!.ipvsadm, /^-A -t 192\.168\.64\.57:8090 -s rr$/m);
  t.regex(a!.ipvsadm, /^-A -t 192\.168\.64\.57:31756 -s rr$/m);
});

test('ipvsadm -Ln evidence: a persistent virtual server keeps its timeout', (t) => {
  const text = ['TCP  10.96.20.20:80 rr persistent 600', '  -> 10.244.1.5:80                Masq    1      0          0', 'UDP  10.96.0.10:53 rr'].join('\n');
  const got = parseIpvsadm(text);
  t.is(got[0]!.persistent, 600);
  t.is(got[0]!.backends[0]!.ip, '10.244.1.5');
  t.is(got[1]!.persistent, undefined);
});
