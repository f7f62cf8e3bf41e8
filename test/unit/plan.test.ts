// Plan contents for the ENIIP family, without root: what Terway and kube-proxy would program.
import test from 'ava';
import path from 'node:path';
import { compileScenario } from '../../lab/compile.ts';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { renderJob } from '../../lab/runners/job.ts';
import { renderPlan } from '../../lab/report/plan.ts';
import { mergeRestoreTables, type Plan } from '../../lab/plan.ts';

const topo = loadTopology(path.join(TOPOLOGY_DIR, 'eniip.yaml'));
const scenario = (id: string) => topo.scenarios.find((s) => s.id === id)!;
const lines = (plan: Plan, object: string, tool: string) => plan.steps.filter((s) => s.object === object && s.tool === tool).flatMap((s) => s.lines ?? []);

test('pod wiring: /32, default via 169.254.1.1 onlink, permanent neighbour to the cali MAC', (t) => {
  const { plan } = compileScenario(topo, scenario('eniip-3'), 'test01');
  const ip = lines(plan, 'centos', 'ip');
  t.true(ip.includes('address add 10.0.1.91/32 dev eth0'));
  t.true(ip.includes('route add default via 169.254.1.1 dev eth0 onlink'));
  const cali = plan.interfaces.find((i) => i.object === 'ecs1' && i.aliases.includes('cali(centos)'))!;
  t.is(cali.name, 'calie6451f39401');
  t.true(ip.includes(`neigh replace 169.254.1.1 lladdr ${cali.mac} dev eth0 nud permanent`));
});

test('host side: /32 scope link route, rules 512 and 2048 (legacy iif), table 1000+ifindex', (t) => {
  const { plan } = compileScenario(topo, scenario('eniip-3'), 'test01');
  const ip = lines(plan, 'ecs1', 'ip');
  const eth1 = plan.interfaces.find((i) => i.object === 'ecs1' && i.name === 'eth1')!;
  t.is(eth1.ifindex, 3);
  t.true(ip.includes('route add 10.0.1.91/32 dev calie6451f39401 scope link'));
  t.true(ip.includes('rule add to 10.0.1.91 lookup main pref 512'));
  t.true(ip.includes('rule add from 10.0.1.91 iif calie6451f39401 lookup 1003 pref 2048'));
  t.true(ip.includes('route add default via 10.0.1.253 dev eth1 onlink table 1003'));
  t.true(ip.includes('address add 10.0.1.82/32 dev eth1'));
  t.true(ip.includes('address add 10.0.1.82/24 dev eth0'));
});

test('current Terway rule: no iif when legacyIifRule is off', (t) => {
  const { plan } = compileScenario(topo, scenario('eniip-4-current'), 'test01');
  t.true(lines(plan, 'ecs1', 'ip').includes('rule add from 10.0.1.91 lookup 1003 pref 2048'));
});

test('kube-proxy IPVS: VIPs on a DOWN kube-ipvs0, Local ExternalIP lists only local endpoints', (t) => {
  const { plan } = compileScenario(topo, scenario('eniip-2'), 'test01');
  const link = lines(plan, 'ecs1', 'ip');
  t.true(link.some((l) => /^link add kube-ipvs0 index \d+ type dummy$/.test(l)));
  t.false(link.some((l) => l === 'link set kube-ipvs0 up'), 'kube-proxy never sets kube-ipvs0 up');
  for (const v of ['192.168.2.115', '192.168.2.253', '10.0.3.62', '10.0.3.63']) t.true(link.includes(`address add ${v}/32 dev kube-ipvs0`), v);
  const ipvs = lines(plan, 'ecs1', 'ipvs').join('\n');
  t.regex(ipvs, /-A -t 10\.0\.3\.62:80 -s rr\n-a -t 10\.0\.3\.62:80 -r 10\.0\.1\.104:80 -m -w 1\n-A/);
  t.regex(ipvs, /-a -t 10\.0\.3\.63:80 -r 10\.0\.3\.58:80 -m -w 1/);
  const ipsets = lines(plan, 'ecs1', 'ipset').join('\n');
  t.regex(ipsets, /add KUBE-EXTERNAL-IP 10\.0\.3\.63,tcp:80/);
  t.regex(ipsets, /add KUBE-EXTERNAL-IP-LOCAL 10\.0\.3\.62,tcp:80/);
  const ipt = lines(plan, 'ecs1', 'iptables').join('\n');
  t.regex(ipt, /-A KUBE-SERVICES .*--match-set KUBE-EXTERNAL-IP dst,dst -j KUBE-MARK-MASQ/);
  t.regex(ipt, /-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000/);
});

test('a Local VIP with no local endpoint has no real server (before k8s 1.21)', (t) => {
  const { plan } = compileScenario(topo, scenario('eniip-6'), 'test01');
  const ipvs = lines(plan, 'ecs1', 'ipvs').join('\n');
  t.regex(ipvs, /-A -t 10\.0\.3\.62:80 -s rr\n(?!-a -t 10\.0\.3\.62)/);
  t.notRegex(ipvs, /-a -t 10\.0\.3\.62:80/);
});

test('one batch per namespace per tool: no per-rule processes', (t) => {
  const { plan } = compileScenario(topo, scenario('eniip-2'), 'test01');
  const keys = plan.steps.filter((s) => s.lines).map((s) => `${s.phase}|${s.object}|${s.tool}`);
  t.is(new Set(keys).size, keys.length);
  t.true(plan.steps.length < 80, `${plan.steps.length} steps`);
});

test('nothing is created in the root namespace: every link command runs inside a lab namespace', (t) => {
  const { plan } = compileScenario(topo, scenario('eniip-7'), 'test01');
  const root = plan.steps.filter((s) => s.object === null);
  t.deepEqual([...new Set(root.map((s) => s.tool))], ['netns']);
  t.true(root.flatMap((s) => s.lines!).every((l) => /^netns add dl-test01-[a-z0-9-]+$/.test(l)));
  for (const s of plan.steps.filter((x) => x.phase === 'link')) {
    for (const l of s.lines ?? []) if (/type veth/.test(l)) t.regex(l, /peer name \S+ netns dl-test01-/);
  }
});

test('the job manifest is TAB-separated argv with no shell syntax', (t) => {
  const files = renderJob(compileScenario(topo, scenario('eniip-5'), 'test01'));
  const manifest = files['manifest.tsv']!.trim().split('\n');
  t.true(manifest.length > 10);
  for (const l of manifest) t.notRegex(l, /[;&|`$<>]/, l);
  // The expectations' dumps, then what explain needs: every rule-holding namespace's counters
  // after the probe, and (after the last probe) the IPVS tables and — '?': only once a probe went
  // unanswered — the routing tables as built.
  t.regex(files['probes.tsv']!, /^p1\tdl-test01-centos\t10\.0\.3\.63\t80\t12\t2\tpod=nginx-b \tsingle\tconntrack:dl-test01-ecs1,conntrack:dl-test01-ecs2,iptables:dl-test01-slb,iptables:dl-test01-ecs1,iptables:dl-test01-ecs2,iptables:dl-test01-ecs3,ipvs:dl-test01-ecs1,ipvs:dl-test01-ecs2,ipvs:dl-test01-ecs3,\?route:dl-test01-vpc,\?route:dl-test01-vsw-a,\?route:dl-test01-vsw-b,\?route:dl-test01-slb,\?route:dl-test01-ecs1,\?route:dl-test01-ecs2,\?route:dl-test01-ecs3\t40100\ttcp\n$/);
});

test('plan output shows namespaces, batches and the probes', (t) => {
  const out = renderPlan(compileScenario(topo, scenario('eniip-5'), 'LABID'));
  t.regex(out, /## phase link/);
  t.regex(out, /### ip -n dl-LABID-ecs1 -batch -/);
  t.regex(out, /ipvsadm -R/);
  t.regex(out, /## probes\n### p1 .*from centos to 10\.0\.3\.63:80/);
});

test('two payloads writing one table of a namespace become one iptables-restore section', (t) => {
  const a = '*nat\n:POSTROUTING ACCEPT [0:0]\n:terway-masq - [0:0]\n-A POSTROUTING ! -o lo -j terway-masq\n-A terway-masq -j MASQUERADE\nCOMMIT';
  const b = '*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -j KUBE-POSTROUTING\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT';
  const merged = mergeRestoreTables([a, b]);
  t.is(merged.length, 2);
  t.is(merged[0], '*nat\n:POSTROUTING ACCEPT [0:0]\n:terway-masq - [0:0]\n:PREROUTING ACCEPT [0:0]\n-A POSTROUTING ! -o lo -j terway-masq\n-A terway-masq -j MASQUERADE\n-A POSTROUTING -j KUBE-POSTROUTING\nCOMMIT');
  t.is(merged[1], '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT');
  t.deepEqual(mergeRestoreTables([b]), [b], 'a table written once is left as it was');
});
