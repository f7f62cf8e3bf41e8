// Plan contents for the kproxy family (Calico BGP + kube-proxy iptables), without root: what
// Calico's CNI, Felix, BIRD and kube-proxy would program, and the parsers the state checks use.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileScenario } from '../../lab/compile.ts';
import { portProtoHash } from '../../lab/services/iptables/hash.ts';
import type { Plan } from '../../lab/plan.ts';
import type { ProbeSpec } from '../../lab/contract.ts';
import { iptablesChecks } from '../../lab/checks/iptables.ts';
import { CHECK_KINDS } from '../../lab/checks/registry.ts';
import type { ProbeContext } from '../../lab/checks/types.ts';
import { parseIpLink } from '../../lab/evidence/ip-link.ts';
import { parseIpRouteText } from '../../lab/evidence/ip-route.ts';
import { parseIptablesSaveCounters } from '../../lab/evidence/iptables-save.ts';
import type { Evidence } from '../../lab/evidence/read.ts';
import { renderJob } from '../../lab/runners/job.ts';
import { renderPlan } from '../../lab/report/plan.ts';
import { loadTopology, parseTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { InputError } from '../../lab/errors.ts';
import { readFileSync } from 'node:fs';

const file = path.join(TOPOLOGY_DIR, 'kproxy.yaml');
const topo = loadTopology(file);
const scenario = (id: string) => topo.scenarios.find((s) => s.id === id)!;
const compiled = (id: string) => compileScenario(topo, scenario(id), 'test01');
const lines = (plan: Plan, object: string, tool: string, phase?: string) =>
  plan.steps.filter((s) => s.object === object && s.tool === tool && (!phase || s.phase === phase)).flatMap((s) => s.lines ?? []);
const POD = 'nginx-demo-1-7f67f8bdd8-fxptt';

test('the kproxy catalogue has the SCENARIOS.md ids', (t) => {
  const ids = topo.scenarios.map((s) => s.id);
  for (const id of ['kproxy-1', 'kproxy-2', 'kproxy-3', 'kproxy-4', 'calico-1']) t.true(ids.includes(id), id);
});

test('Calico pod wiring: /32, 169.254.1.1 scope link, default via 169.254.1.1, no static neighbour', (t) => {
  const { plan } = compiled('calico-1');
  const ip = lines(plan, POD, 'ip', 'config');
  t.deepEqual(ip, [
    'link set lo up',
    'address add 10.217.120.72/32 dev eth0',
    'link set eth0 up',
    'route add 169.254.1.1 dev eth0 scope link',
    'route add default via 169.254.1.1 dev eth0',
  ]);
  t.false(ip.some((l) => l.startsWith('neigh')), 'Calico writes no neighbour: proxy ARP answers 169.254.1.1');
});

test('host side: the article\'s cali1087c975dd9, MAC ee:ee:ee:ee:ee:ee, Felix sysctls, /32 scope link', (t) => {
  const { plan } = compiled('calico-1');
  const cali = plan.interfaces.find((i) => i.object === 'worker-b' && i.aliases.includes(`cali(${POD})`))!;
  t.is(cali.name, 'cali1087c975dd9', 'sha1("default.nginx-demo-1-7f67f8bdd8-fxptt")[:11], as in the article');
  t.is(cali.mac, 'ee:ee:ee:ee:ee:ee');
  t.deepEqual(cali.peer, { object: POD, name: 'eth0' });
  const ip = lines(plan, 'worker-b', 'ip');
  t.true(ip.includes('route add 10.217.120.72/32 dev cali1087c975dd9 scope link'));
  const sysctl = lines(plan, 'worker-b', 'sysctl', 'sysctl-if');
  for (const l of [
    'net.ipv4.conf.cali1087c975dd9.proxy_arp = 1',
    'net.ipv4.neigh.cali1087c975dd9.proxy_delay = 0',
    'net.ipv4.conf.cali1087c975dd9.forwarding = 1',
    'net.ipv4.conf.cali1087c975dd9.route_localnet = 1',
  ]) t.true(sysctl.includes(l), l);
});

test('underlay: the ToR is a bridge with the rack gateway; nodes plugged in; no pod route written by the harness', (t) => {
  const { plan } = compiled('calico-1');
  t.true(lines(plan, 'tor1', 'ip', 'link').some((l) => /^link add br-rack1 index \d+ address \S+ type bridge$/.test(l)));
  const tor = lines(plan, 'tor1', 'ip');
  t.true(tor.includes('address add 192.168.64.1/24 dev br-rack1'));
  t.true(tor.includes('link set worker-a-eth0 master br-rack1'));
  t.true(tor.includes('link set worker-b-eth0 master br-rack1'));
  t.true(tor.includes('address add 192.168.64.1/32 peer 10.255.0.1/32 dev core'), 'unnumbered point-to-point link to the core');
  t.true(lines(plan, 'core', 'ip').includes('address add 10.255.0.1/32 peer 192.168.64.1/32 dev tor1'));
  t.true(lines(plan, 'worker-a', 'ip').includes('route add default via 192.168.64.1 dev eth0'));
  for (const obj of ['tor1', 'core', 'worker-a', 'worker-b']) {
    const routes = lines(plan, obj, 'ip').filter((l) => /^route (add|replace) 10\.217\./.test(l) && !/ dev cali\w+ scope link$/.test(l));
    t.deepEqual(routes, [], `${obj}: pod routes come from BGP only`);
  }
  t.false(plan.namespaces.some((n) => n.object === 'vpc'), 'no VPC router: the rack segment is the ToR\'s');
});

test('BIRD configs: node blocks as blackholes, Node_<ToR> peers, ToR as route reflector, core eBGP', (t) => {
  const { plan } = compiled('calico-1');
  const conf = (o: string) => plan.files[`files/bird-${o}.conf`]!;
  const b = conf('worker-b');
  t.regex(b, /route 10\.217\.120\.64\/26 blackhole;/);
  t.regex(b, /if \( net = 10\.217\.120\.64\/26 \) then \{ accept; \}/);
  t.regex(b, /protocol bgp Node_192_168_64_1 from bgp_template \{\n\s+neighbor 192\.168\.64\.1 as 65001;/);
  t.regex(b, /source address 192\.168\.64\.58;/);
  t.regex(b, /# Node-to-node mesh disabled/);
  const tor = conf('tor1');
  t.regex(tor, /protocol bgp worker_b from fabric_peer \{[^}]*neighbor 192\.168\.64\.58 as 65001;\n\s+rr client;/);
  t.regex(tor, /protocol bgp core from fabric_peer \{[^}]*neighbor 10\.255\.0\.1 as 65000;/);
  t.regex(tor, /source = RTS_DEVICE && net ~ \[ 192\.168\.64\.0\/24 \]/, 'the ToR announces its rack subnet');
  const core = conf('core');
  t.regex(core, /protocol bgp tor1 from fabric_peer \{[^}]*neighbor 192\.168\.64\.1 as 65001;/);
  t.regex(core, /route 203\.0\.113\.10\/32 blackhole;/, 'the core originates its client');
});

test('BIRD configs parse (bird -p)', (t) => {
  const { plan } = compiled('calico-1');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dl-bird-p-'));
  try {
    for (const o of ['tor1', 'core', 'worker-a', 'worker-b']) {
      const f = path.join(dir, `${o}.conf`);
      writeFileSync(f, plan.files[`files/bird-${o}.conf`]!);
      const r = spawnSync('bird', ['-p', '-c', f], { encoding: 'utf8' });
      if (r.error) return void t.fail('bird not found: install the Debian package bird2');
      t.is(r.status, 0, `${o}: ${r.stderr}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('daemons and the bounded convergence wait: routers first, short control sockets, one wait per speaker', (t) => {
  const c = compiled('calico-1');
  const { plan } = c;
  const birds = plan.steps.filter((s) => s.tool === 'daemon' && s.name?.startsWith('bird-'));
  t.deepEqual(birds.map((s) => s.object), ['tor1', 'core', 'worker-a', 'worker-b']);
  for (const s of birds) {
    t.deepEqual(s.argv!.slice(0, 2), ['bird', '-f']);
    const sock = s.argv![s.argv!.indexOf('-s') + 1]!;
    t.is(sock, `/run/dl-test01-${s.object}.ctl`);
    t.true(Buffer.byteLength(sock) < 108);
  }
  const waits = plan.steps.filter((s) => s.tool === 'waitbgp');
  t.deepEqual(waits.map((s) => s.object), ['tor1', 'core', 'worker-a', 'worker-b']);
  t.true(plan.steps.indexOf(waits[0]!) > plan.steps.indexOf(birds.at(-1)!));
  const manifest = renderJob(c)['manifest.tsv']!.split('\n');
  t.true(manifest.includes(['waitbgp', 'dl-test01-core', '/run/dl-test01-core.ctl', '45', '10.217.120.0/26', '10.217.120.64/26', '192.168.64.0/24', '203.0.113.10/32', '198.51.100.20/32'].join('\t')));
  t.true(plan.features.has('bgp') && plan.features.has('bridge'));
});

test('kube-proxy iptables: one restore per node with kube-proxy\'s chain names, shown by `lab plan`', (t) => {
  const c = compiled('kproxy-1-today');
  const { plan } = c;
  const steps = plan.steps.filter((s) => s.tool === 'iptables');
  t.deepEqual(steps.map((s) => s.object), ['worker-a', 'worker-b']);
  const ipt = lines(plan, 'worker-a', 'iptables').join('\n');
  t.regex(ipt, /-A KUBE-SERVICES -m comment --comment "default\/nginx-demo-1 cluster IP" -m tcp -p tcp -d 10\.196\.52\.1 --dport 8088 -j KUBE-SVC-ZY4BE2BR2EQQGD2J/);
  t.regex(ipt, /-A KUBE-SVC-ZY4BE2BR2EQQGD2J -m comment --comment "default\/nginx-demo-1 -> 10\.217\.120\.5:80" -m statistic --mode random --probability 0\.5000000000 -j KUBE-SEP-/);
  t.regex(ipt, /-j DNAT --to-destination 10\.217\.120\.72:80/);
  t.regex(ipt, /-A KUBE-SERVICES -m comment --comment "default\/nginx-demo-1 external IP" -m tcp -p tcp -d 192\.168\.64\.57 --dport 8088 -j KUBE-EXT-ZY4BE2BR2EQQGD2J/);
  t.regex(ipt, /-A KUBE-NODEPORTS -m comment --comment default\/nginx-demo-2 -m tcp -p tcp --dport 31755 -j KUBE-EXT-ZOX6RBMDHRTFI74F/);
  t.regex(ipt, /! -s 10\.217\.0\.0\/16 -j KUBE-MARK-MASQ/);
  const text = renderPlan(c);
  for (const chain of ['KUBE-SERVICES', 'KUBE-SVC-ZY4BE2BR2EQQGD2J', 'KUBE-MARK-MASQ', 'KUBE-POSTROUTING', 'KUBE-NODEPORTS', 'KUBE-EXT-ZY4BE2BR2EQQGD2J']) t.true(text.includes(chain), chain);
});

test('xlb flavour (≤ 1.23): the externalIP jumps straight to KUBE-SVC, as in the article', (t) => {
  const ipt = lines(compiled('kproxy-2-xlb').plan, 'worker-a', 'iptables').join('\n');
  t.false(/KUBE-EXT-/.test(ipt));
  t.regex(ipt, /"default\/nginx-demo-1 external IP" -m tcp -p tcp -d 192\.168\.64\.57 --dport 8088 -j KUBE-SVC-ZY4BE2BR2EQQGD2J/);
});

test('kproxy-1 at the article\'s kube-proxy (1.18): its chains, the masquerade jumps in KUBE-SERVICES, one KUBE-POSTROUTING rule', (t) => {
  const ipt = lines(compiled('kproxy-1').plan, 'worker-a', 'iptables').join('\n');
  t.regex(ipt, /-A KUBE-SERVICES -m comment --comment "default\/nginx-demo-1: cluster IP" -m tcp -p tcp -d 10\.196\.52\.1 --dport 8088 -j KUBE-SVC-JKOCBQALQGD3X3RT/);
  t.regex(ipt, /-A KUBE-SERVICES -m comment --comment "default\/nginx-demo-2: cluster IP" -m tcp -p tcp -d 10\.196\.89\.31 --dport 8089 -j KUBE-SVC-6JCCLZMUQSW27LLD/);
  t.regex(ipt, /-A KUBE-SERVICES -m comment --comment "default\/nginx-demo-1: cluster IP" -m tcp -p tcp -d 10\.196\.52\.1 --dport 8088 ! -s 10\.217\.0\.0\/16 -j KUBE-MARK-MASQ/);
  t.regex(ipt, /-A KUBE-NODEPORTS -m comment --comment default\/nginx-demo-2: -m tcp -p tcp --dport 31755 -j KUBE-MARK-MASQ/);
  t.regex(ipt, /-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -m mark --mark 0x00004000\/0x00004000 -j MASQUERADE/);
  t.regex(ipt, /-A KUBE-MARK-MASQ -j MARK --set-xmark 0x00004000\/0x00004000/);
  t.false(/KUBE-EXT-|ZY4BE2BR2EQQGD2J|--xor-mark/.test(ipt));
});

test('the article\'s chain names are kube-proxy < 1.19\'s: an unnamed port still added ":" to the service port name', (t) => {
  // Article: KUBE-SVC-JKOCBQALQGD3X3RT (nginx-demo-1), KUBE-SVC-6JCCLZMUQSW27LLD (nginx-demo-2).
  t.is(portProtoHash('default/nginx-demo-1:', 'tcp'), 'JKOCBQALQGD3X3RT');
  t.is(portProtoHash('default/nginx-demo-2:', 'tcp'), '6JCCLZMUQSW27LLD');
  // Since 1.19 (and in this lab's builder) the name is "default/nginx-demo-1".
  t.is(portProtoHash('default/nginx-demo-1', 'tcp'), 'ZY4BE2BR2EQQGD2J');
});

test('probes dump what their expectations read; counters are dumped after every probe of the scenario', (t) => {
  const c = compiled('calico-1');
  const kinds = c.probes[0]!.dumps.map((d) => `${d.kind}:${d.object}`).sort();
  for (const k of ['bird:tor1', 'bird:core', 'bird:worker-b', 'route:tor1', 'route:core', 'route:worker-b', 'link:worker-b', `link:${POD}`]) t.true(kinds.includes(k), k);
  t.true(compiled('kproxy-3').probes[0]!.dumps.some((d) => d.kind === 'iptables' && d.object === 'worker-a'));
});

test('loader: unknown router references are reported with their field', (t) => {
  const text = readFileSync(file, 'utf8').replace('router: core }', 'router: nowhere }').replace('rack: tor1\n      podCIDR: 10.217.120.64/26', 'rack: tor9\n      podCIDR: 10.217.120.64/26');
  const err = t.throws(() => parseTopology(text, 'bad.yaml'), { instanceOf: InputError }) as InputError;
  const msg = err.message;
  t.regex(msg, /clients\[0\]\.router.*unknown router "nowhere"/);
  t.regex(msg, /nodes\[1\]\.rack.*unknown router "tor9"/);
});

// ---- state parsers and checks on text in the tools' own formats ------------------------------------
const SAVE_BEFORE = `*nat
:PREROUTING ACCEPT [0:0]
[2:120] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
[0:0] -A KUBE-SERVICES -d 10.196.52.1/32 -p tcp -m comment --comment "default/nginx-demo-1 cluster IP" -m tcp --dport 8088 -j KUBE-SVC-ZY4BE2BR2EQQGD2J
[0:0] -A KUBE-SVC-ZY4BE2BR2EQQGD2J -m comment --comment "default/nginx-demo-1 -> 10.217.120.5:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-A
[0:0] -A KUBE-SVC-ZY4BE2BR2EQQGD2J -m comment --comment "default/nginx-demo-1 -> 10.217.120.72:80" -j KUBE-SEP-B
[0:0] -A KUBE-SEP-A -p tcp -m tcp -j DNAT --to-destination 10.217.120.5:80
[0:0] -A KUBE-SEP-B -p tcp -m tcp -j DNAT --to-destination 10.217.120.72:80
COMMIT
`;
const SAVE_AFTER = SAVE_BEFORE.replace('[2:120] -A PREROUTING', '[3:180] -A PREROUTING')
  .replace('[0:0] -A KUBE-SERVICES', '[1:60] -A KUBE-SERVICES')
  .replace('[0:0] -A KUBE-SVC-ZY4BE2BR2EQQGD2J -m comment --comment "default/nginx-demo-1 -> 10.217.120.72:80"', '[1:60] -A KUBE-SVC-ZY4BE2BR2EQQGD2J -m comment --comment "default/nginx-demo-1 -> 10.217.120.72:80"')
  .replace('[0:0] -A KUBE-SEP-B', '[1:60] -A KUBE-SEP-B');

test('iptables-save -c: counters per rule, and a probe\'s share is the difference to the previous dump', (t) => {
  const rules = parseIptablesSaveCounters(SAVE_AFTER);
  t.like(rules.find((r) => r.chain === 'KUBE-SEP-B'), { packets: 1, target: 'DNAT', table: 'nat', pos: 1 });
  const { plan } = compiled('kproxy-1');
  const ns = plan.namespaces.find((n) => n.object === 'worker-a')!.ns;
  const spec = (id: string, index: number, expectPath: string[]): ProbeSpec => ({
    id, index, probe: { ...scenario('kproxy-1').probes[0]!, expect: { ...scenario('kproxy-1').probes[0]!.expect, iptables: [{ node: 'worker-a', table: 'nat', path: expectPath }] } },
    from: 'toolbox', dstIp: '10.196.52.1', dstPort: 8088, protocol: 'tcp', want: '-', mode: 'single', attempts: 1, timeout: 2, dumps: [],
  });
  const p1 = spec('p1', 1, ['PREROUTING', 'KUBE-SERVICES', 'KUBE-SVC-ZY4BE2BR2EQQGD2J', 'KUBE-SEP-*', 'DNAT']);
  const p2 = spec('p2', 2, ['PREROUTING', 'KUBE-SERVICES', 'KUBE-SVC-ZY4BE2BR2EQQGD2J', 'KUBE-SEP-*', 'DNAT']);
  const ev: Evidence = { packets: [], probesOut: '', bulk: new Map(), events: '', dumps: new Map([[`p1.iptables.${ns}.txt`, SAVE_AFTER], [`p2.iptables.${ns}.txt`, SAVE_AFTER]]) };
  const [first] = iptablesChecks(topo, plan, [p1, p2], ev, p1, p1.probe.expect.iptables![0]!, POD);
  t.true(first!.passed, first!.observed);
  t.regex(first!.observed, /KUBE-SEP-B \+1 → DNAT \+1 to 10\.217\.120\.72:80 \(nginx-demo-1-7f67f8bdd8-fxptt\)/);
  // p2 saw no new packet: the same counters as p1's dump.
  const [second] = iptablesChecks(topo, plan, [p1, p2], ev, p2, p2.probe.expect.iptables![0]!);
  t.false(second!.passed);
  t.regex(second!.observed, /no packet counted by PREROUTING → KUBE-SERVICES/);
  // The counted DNAT must be the one of the pod that answered.
  const [wrong] = iptablesChecks(topo, plan, [p1, p2], ev, p1, p1.probe.expect.iptables![0]!, 'nginx-demo-1-7f67f8bdd8-k2x9p');
  t.false(wrong!.passed);
  // The state checks of p1 (those judged from dumps alone): its one iptables expectation.
  const ctx: ProbeContext = { topo, plan, probes: [p1], ev, spec: p1, answeredBy: POD };
  t.is(CHECK_KINDS.flatMap((k) => k.judgeState?.(ctx) ?? []).length, 1);
  void SAVE_BEFORE;
});

test('ip route (text) and ip -d link: prefixes, types, next hops, veth peers', (t) => {
  const r = parseIpRouteText(`blackhole 10.217.120.64/26 proto bird
10.217.120.0/26 via 192.168.64.57 dev eth0 proto bird
10.217.120.72 dev cali1087c975dd9 scope link
default via 192.168.64.1 dev eth0
local 192.168.64.58 dev eth0 table local proto kernel scope host src 192.168.64.58
`);
  t.like(r[0], { prefix: '10.217.120.64/26', type: 'blackhole', proto: 'bird', table: 'main' });
  t.like(r[1], { prefix: '10.217.120.0/26', via: '192.168.64.57', dev: 'eth0' });
  t.like(r[2], { prefix: '10.217.120.72/32', dev: 'cali1087c975dd9', scope: 'link' });
  t.like(r[3], { prefix: '0.0.0.0/0', via: '192.168.64.1' });
  t.like(r[4], { type: 'local', table: 'local' });
  const l = parseIpLink(`1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00 promiscuity 0
3: cali1087c975dd9@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000
    link/ether ee:ee:ee:ee:ee:ee brd ff:ff:ff:ff:ff:ff link-netns dl-x-nginx-demo-1-7f67f8bdd8-fxptt promiscuity 0
    veth addrgenmode eui64
`);
  t.like(l[1], { ifindex: 3, name: 'cali1087c975dd9', peerIndex: 2, linkNetns: 'dl-x-nginx-demo-1-7f67f8bdd8-fxptt' });
});
