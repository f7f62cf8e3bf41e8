// Plan contents for the Terway IPVLAN + eBPF family, without root: the ipvlan wiring Terway
// writes, the eBPF load/attach/fill steps, and the pure evidence helpers of the family (eBPF
// table dump, checksum classification, stacks over ipvlan parents).
import test from 'ava';
import path from 'node:path';
import { compileScenario } from '../../lab/compile.ts';
import { loadTopology, TOPOLOGY_DIR } from '../../lab/topology/load.ts';
import { renderJob } from '../../lab/runners/job.ts';
import type { Plan } from '../../lab/plan.ts';
import { ebpfServiceTable, localEndpoints, nodeMapsDir } from '../../lab/services/ebpf-lb.ts';
import { checksumCheck, classifyChecksum, pseudoHeaderSum } from '../../lab/checks/checksum.ts';
import { lbListLinesFor } from '../../lab/checks/ebpf-lb.ts';
import type { Hop } from '../../lab/checks/types.ts';
import { stackObjects } from '../../lab/checks/walk.ts';
import { parseBpfDump } from '../../lab/evidence/bpftool.ts';
import { parseTcpdump } from '../../lab/evidence/tcpdump.ts';
import { encodeServiceTable, formatLbList, hexTokens, lbMapPaths } from '../../lab/services/ebpf/maps.ts';

const topo = loadTopology(path.join(TOPOLOGY_DIR, 'ipvlan.yaml'));
const scenario = (id: string) => topo.scenarios.find((s) => s.id === id)!;
const lines = (plan: Plan, object: string | null, tool: string) => plan.steps.filter((s) => s.object === object && s.tool === tool).flatMap((s) => s.lines ?? []);
const compile = (id: string) => compileScenario(topo, scenario(id), 'abc123');

test('the ipvlan catalogue has the eleven scenarios of the article', (t) => {
  const ids = topo.scenarios.map((s) => s.id);
  for (let i = 1; i <= 11; i++) t.true(ids.includes(`ipvlan-${i}`), `ipvlan-${i} missing`);
});

test("pod: eth0 an ipvlan L2 slave of its ENI, vSwitch prefix, gateway onlink, node IP /32 and neighbour = the ENI's MAC", (t) => {
  const { plan } = compile('ipvlan-2');
  const link = lines(plan, 'ecs1', 'ip');
  t.true(link.includes(`link add link eth1 name centos.ipvl netns dl-abc123-centos type ipvlan mode l2`));
  const ip = lines(plan, 'centos', 'ip');
  t.deepEqual(ip.slice(0, 2), ['link set lo up', 'link set centos.ipvl name eth0']);
  t.true(ip.includes('address add 10.0.3.5/24 dev eth0'));
  t.true(ip.includes('route add default via 10.0.3.253 dev eth0 onlink'));
  t.true(ip.includes('route add 10.0.3.15/32 dev eth0 scope link'));
  t.true(ip.includes('neigh replace 10.0.3.15 lladdr 00:16:3e:04:08:3a dev eth0 nud permanent'));
  const eth0 = plan.interfaces.find((i) => i.object === 'centos' && i.name === 'eth0')!;
  t.is(eth0.kind, 'ipvlan');
  t.is(eth0.ifindex, 2);
});

test('node: the ENIs carry the article MACs and no address; ipvl_<ENI ifindex> NOARP, node IP scope host, a /32 per local pod', (t) => {
  const { plan } = compile('ipvlan-1');
  const link = lines(plan, 'ecs1', 'ip');
  t.true(link.some((l) => l.startsWith('link add eth1 index 3 address 00:16:3e:04:08:3a type veth')));
  t.true(link.some((l) => l.startsWith('link add eth2 index 5 address 00:16:3e:01:b7:bd type veth')));
  t.true(lines(plan, 'ecs2', 'ip').some((l) => l.startsWith('link add eth1 index 3 address 00:16:3e:02:20:f5 type veth')));
  t.false(link.some((l) => / dev eth1$/.test(l) && l.startsWith('address add')), 'the ENI has no address');
  t.true(link.includes('link add link eth1 name ipvl_3 index 4 type ipvlan mode l2'));
  t.true(link.includes('link add link eth2 name ipvl_5 index 6 type ipvlan mode l2'));
  for (const l of ['link set ipvl_3 arp off', 'address add 10.0.3.15/32 dev ipvl_3 scope host', 'route add 10.0.3.38/32 dev ipvl_3 scope link',
    'route add 10.0.3.5/32 dev ipvl_3 scope link', 'route add 10.0.3.22/32 dev ipvl_5 scope link']) t.true(link.includes(l), l);
  t.true(link.indexOf('link set ipvl_3 up') < link.indexOf('link set ipvl_3 arp off'), 'NOARP after up: ipvlan_open() clears it in L2 mode');
  const slave = plan.interfaces.find((i) => i.object === 'ecs1' && i.name === 'ipvl_3')!;
  t.deepEqual(slave.aliases, ['ipvl(nginx)', 'ipvl(centos)']);
});

test("ENI egress: Terway's u32 service-CIDR redirect to ipvl_x, and a capture-walk edge for it", (t) => {
  const { plan } = compile('ipvlan-5-host');
  const tc = lines(plan, 'ecs1', 'tc');
  t.true(tc.includes('qdisc add dev eth1 clsact'));
  t.true(tc.includes('filter add dev eth1 egress prio 40000 protocol ip u32 match ip dst 192.168.0.0/16 action tunnel_key unset pipe action skbedit ptype host pipe action mirred ingress redirect dev ipvl_3'));
  t.true(plan.edges.some((e) => e.from.object === 'ecs1' && e.from.name === 'eth1' && e.from.dir === 'Out' && e.to.name === 'ipvl_3' && e.to.dir === 'In'));
  for (const m of ['ipvlan', 'sch_ingress', 'cls_u32', 'cls_bpf', 'act_mirred', 'act_skbedit', 'act_tunnel_key']) t.true(plan.modules.includes(m), m);
  for (const f of ['bpf', 'clsact', 'ipvlan']) t.true(plan.features.has(f), f);
});

test('eBPF: one load per pod (service maps shared per node), attach through nsenter tc -batch, one bpftool batch for every map', (t) => {
  const c = compile('ipvlan-5');
  const { plan } = c;
  const host = plan.steps.filter((s) => s.tool === 'host').map((s) => s.argv!.join(' '));
  t.true(host.some((l) => l === 'mkdir -p /sys/fs/bpf/dl-abc123/ecs1/maps /sys/fs/bpf/dl-abc123/ecs2/maps'));
  const loads = host.filter((l) => l.startsWith('bpftool prog loadall'));
  t.is(loads.length, 4);
  t.regex(loads[0]!, /lb4\.o \/sys\/fs\/bpf\/dl-abc123\/nginx type classifier pinmaps \/sys\/fs\/bpf\/dl-abc123\/nginx\/maps$/);
  t.regex(loads[1]!, /centos type classifier map name lb4_services_v2 pinned \/sys\/fs\/bpf\/dl-abc123\/nginx\/maps\/lb4_services_v2 .* pinmaps \/sys\/fs\/bpf\/dl-abc123\/centos\/maps$/);
  t.regex(loads[3]!, /centos-b type classifier pinmaps/);
  const attach = plan.steps.filter((s) => s.tool === 'nsenter');
  t.deepEqual(attach.map((s) => s.object), ['nginx', 'centos', 'busybox', 'centos-b']);
  const files = renderJob(c);
  t.deepEqual(files['files/ebpf-tc-centos']!.trim().split('\n'), [
    'qdisc replace dev eth0 clsact',
    'filter replace dev eth0 egress prio 1 handle 1 bpf da pinned /sys/fs/bpf/dl-abc123/centos/from_container',
    'filter replace dev eth0 ingress prio 1 handle 1 bpf da pinned /sys/fs/bpf/dl-abc123/centos/to_container',
  ]);
  const batch = files['files/ebpf-maps.batch']!.trim().split('\n');
  t.true(batch.includes('map pin pinned /sys/fs/bpf/dl-abc123/nginx/maps/lb4_services_v2 /sys/fs/bpf/dl-abc123/ecs1/maps/lb4_services_v2'));
  t.true(batch.includes('map pin pinned /sys/fs/bpf/dl-abc123/centos-b/maps/lb4_backends /sys/fs/bpf/dl-abc123/ecs2/maps/lb4_backends'));
  // centos and nginx share eth1: each knows the other as a local endpoint with the ENI's MAC.
  const mac = hexTokens(Buffer.from([0x00, 0x16, 0x3e, 0x04, 0x08, 0x3a, 0, 0])).slice(1).join(' ');
  t.true(batch.includes(`map update pinned /sys/fs/bpf/dl-abc123/centos/maps/lb4_local_ep key hex 0a 00 03 26 value hex ${mac}`));
  t.false(batch.some((l) => l.includes('/busybox/maps/lb4_local_ep')), 'busybox is alone on eth2');
  const steps = plan.steps.map((s) => s.argv?.join(' ') ?? '');
  t.true(steps.findIndex((l) => l.startsWith('bpftool batch file')) > steps.findIndex((l) => l.includes('centos-b type classifier')), 'filled after every load');
  t.deepEqual(plan.dumps, [{ kind: 'bpf', object: 'ecs1' }]);
});

test('service table: the ClusterIP always, the ExternalIP only with in-cluster load balancing', (t) => {
  const cur = compile('ipvlan-5').ctx.cluster;
  const t1 = ebpfServiceTable(cur, cur.nodes[0]!);
  t.deepEqual(t1.map((s) => `${s.vip}:${s.port} ${s.type} ${s.backends.map((b) => `${b.ip}:${b.port}`).join(',')} #${s.revNatId}`), [
    '192.168.27.242:80 ClusterIP 10.0.3.38:80 #1', '203.0.113.83:80 ExternalIPs 10.0.3.38:80 #2',
  ]);
  const old = compile('ipvlan-8').ctx.cluster;
  t.false(old.datapath.inClusterLoadBalance);
  t.deepEqual(ebpfServiceTable(old, old.nodes[0]!).map((s) => s.vip), ['192.168.27.242']);
  const ctx = compile('ipvlan-5').ctx;
  t.deepEqual(localEndpoints(ctx, 'centos'), [{ ip: '10.0.3.38', mac: '00:16:3e:04:08:3a' }]);
  t.deepEqual(localEndpoints(ctx, 'busybox'), []);
  t.is(nodeMapsDir('abc123', 'ecs1'), '/sys/fs/bpf/dl-abc123/ecs1/maps');
});

test("the agent's bpf dump parses back to the table and to lb list lines", (t) => {
  const table = [{ vip: '192.168.27.242', port: 80, proto: 'TCP' as const, revNatId: 1, backends: [{ ip: '10.0.3.38', port: 80 }] }];
  // What `bpftool -j map dump` prints for the entries encodeServiceTable writes.
  const argv = encodeServiceTable(table, lbMapPaths('/m'));
  const entries = (map: string) => argv.filter((a) => a[4] === `/m/${map}`).map((a) => {
    const v = a.indexOf('value');
    return { key: a.slice(a.indexOf('key') + 2, v).map((x) => `0x${x}`), value: a.slice(v + 2).map((x) => `0x${x}`) };
  });
  const text = ['lb4_services_v2', 'lb4_backends', 'lb4_reverse_nat'].map((m) => `# ${m}\n${JSON.stringify(entries(m))}\n`).join('\n');
  const dump = parseBpfDump(text);
  t.is(dump.services.length, 2);
  t.deepEqual(lbListLinesFor(formatLbList(dump), '192.168.27.242', 80), [
    'SERVICE ADDRESS     BACKEND ADDRESS (REVNAT_ID) (SLOT)',
    '192.168.27.242:80   0.0.0.0:0 (1) (0) [ClusterIP, non-routable]',
    '                    10.0.3.38:80/TCP (1) (1)',
  ]);
  t.throws(() => parseBpfDump('# lb4_services_v2\n[]\n'), { message: /no dump of lb4_backends/ });
});

// tcpdump -v lines as the lab captures them (UML, ipvlan-5).
const CAP = `1795305027.707723 eth0  Out ifindex 2 00:16:3e:04:08:3a ethertype IPv4 (0x0800), length 80: (tos 0x0, ttl 64, id 22401, offset 0, flags [DF], proto TCP (6), length 60)
    10.0.3.5.40101 > 10.0.3.38.80: Flags [S], cksum 0x1a59 (incorrect -> 0x098b), seq 3140501811, win 64240, options [mss 1460,sackOK,TS val 1851531684 ecr 0,nop,wscale 7], length 0
1795305027.707789 eth0  In  ifindex 2 00:16:3e:04:08:3a ethertype IPv4 (0x0800), length 80: (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto TCP (6), length 60)
    10.0.3.38.80 > 10.0.3.5.40101: Flags [S.], cksum 0x1a59 (incorrect -> 0x9aec), seq 3555928886, ack 3140501812, win 65160, options [mss 1460,sackOK,TS val 3208555660 ecr 1851531684,nop,wscale 7], length 0
1795305027.707790 eth0  In  ifindex 2 00:16:3e:04:08:3a ethertype IPv4 (0x0800), length 80: (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto TCP (6), length 60)
    10.0.3.38.80 > 10.0.3.5.40101: Flags [S.], cksum 0x9aec (correct), seq 3555928886, ack 3140501812, win 65160, length 0
`;

test('checksums: CHECKSUM_PARTIAL is the pseudo-header sum of the captured addresses; a stale one is bad', (t) => {
  t.is(pseudoHeaderSum('10.0.3.5', '10.0.3.38', 40), 0x1a59);
  t.is(pseudoHeaderSum('10.0.1.91', '10.0.3.58', 40), 0x18c3); // an eniip capture
  const [syn, synack, full] = parseTcpdump(CAP, 'centos');
  t.is(classifyChecksum(syn!).kind, 'partial');
  t.is(classifyChecksum(full!).kind, 'full');
  // The same SYN as if the DNAT had not updated the pseudo-header part (field still for the ClusterIP).
  const stale = { ...syn!, cksum: pseudoHeaderSum('10.0.3.5', '192.168.27.242', 40) };
  t.is(classifyChecksum(stale).kind, 'bad');
  const server = { ...syn!, object: 'nginx', dir: 'In' as const };
  t.true(checksumCheck([syn!, server], [synack!], 'centos', 'nginx').passed);
  const c = checksumCheck([syn!, { ...stale, object: 'nginx', dir: 'In' as const }], [synack!], 'centos', 'nginx');
  t.false(c.passed);
  t.regex(c.observed, /request at nginx:eth0 bad/);
  t.false(checksumCheck([syn!], [synack!], 'centos', 'nginx').passed, 'no capture at the server: nothing asserted, so no pass');
});

test('stacks: a node crossed only on an ipvlan parent is not a stack; one that forwards is', (t) => {
  const { plan } = compile('ipvlan-4');
  const hop = (object: string, ifname: string, dir: 'In' | 'Out', kind: Hop['kind']): Hop => ({ object, ifname, dir, kind, src: '', dst: '', label: '' });
  const across = [hop('centos-b', 'eth0', 'Out', 'pod'), hop('ecs2', 'eth1', 'Out', 'node'), hop('vsw', 'ecs2-eth1', 'In', 'vswitch'),
    hop('vsw', 'ecs1-eth1', 'Out', 'vswitch'), hop('ecs1', 'eth1', 'In', 'node'), hop('nginx', 'eth0', 'In', 'pod')];
  t.deepEqual([...stackObjects(plan, across)], ['centos-b', 'nginx']);
  const viaHost = [hop('centos', 'eth0', 'Out', 'pod'), hop('ecs1', 'ipvl_3', 'In', 'node'), hop('ecs1', 'eth0', 'Out', 'node'), hop('vsw', 'ecs1-eth0', 'In', 'vswitch')];
  t.deepEqual([...stackObjects(plan, viaHost)], ['centos', 'ecs1']);
});
