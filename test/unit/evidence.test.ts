// Parsers of the raw evidence and the capture walk, on text in the exact formats the tools print.
import test from 'ava';
import { parseTcpdump } from '../../lab/evidence/tcpdump.ts';
import { parseConntrack } from '../../lab/evidence/conntrack.ts';
import { parseIpvsadm } from '../../lab/evidence/ipvsadm.ts';
import { pathTokens, walk } from '../../lab/checks/walk.ts';
import { PlanBuilder } from '../../lab/plan.ts';

const TCPDUMP_POD = `1795303245.264886 eth0  Out ifindex 2 7e:0a:60:ba:eb:7a ethertype IPv4 (0x0800), length 80: (tos 0x0, ttl 64, id 7653, offset 0, flags [DF], proto TCP (6), length 60)
    10.0.1.91.40101 > 192.168.2.115.80: Flags [S], cksum 0x1443 (incorrect -> 0x1363), seq 77582719, win 64240, options [mss 1460,sackOK,TS val 1369137385 ecr 0,nop,wscale 6], length 0
1795303245.264907 eth0  In  ifindex 2 4e:0d:fb:b3:01:38 ethertype IPv4 (0x0800), length 80: (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto TCP (6), length 60)
    192.168.2.115.80 > 10.0.1.91.40101: Flags [S.], cksum 0x1443 (correct), seq 1939741229, ack 77582720, win 65160, options [mss 1460], length 0
`;
const TCPDUMP_NODE = `1795303245.264950 calie6451f39401 In  ifindex 5 7e:0a:60:ba:eb:7a ethertype IPv4 (0x0800), length 80: (tos 0x0, ttl 64, id 7653, offset 0, flags [DF], proto TCP (6), length 60)
    10.0.1.91.40101 > 192.168.2.115.80: Flags [S], cksum 0x1443 (incorrect -> 0x1363), seq 77582719, win 64240, length 0
1795303245.265010 eth1  Out ifindex 3 00:16:3e:f5:e0:c3 ethertype 802.1Q (0x8100), vlan 1005, p 0, ethertype IPv4 (0x0800), length 84: (tos 0x0, ttl 63, id 7653, offset 0, flags [DF], proto TCP (6), length 60)
    10.0.1.91.40101 > 10.0.3.58.80: Flags [S], cksum 0x9999 (incorrect -> 0x1363), seq 77582719, win 64240, length 0
`;

test('tcpdump -i any -e -v: interface, direction, VLAN, addresses, flags, sequence numbers, checksum verdict', (t) => {
  const p = parseTcpdump(TCPDUMP_POD, 'centos');
  t.is(p.length, 2);
  t.like(p[0], { object: 'centos', ifname: 'eth0', dir: 'Out', src: '10.0.1.91', sport: 40101, dst: '192.168.2.115', dport: 80, flags: 'S', seq: 77582719, ttl: 64, ipId: 7653, cksumOk: false });
  t.like(p[1], { dir: 'In', flags: 'S.', ack: 77582720, cksumOk: true });
  const n = parseTcpdump(TCPDUMP_NODE, 'ecs1');
  t.is(n[1]!.vlan, 1005);
  t.is(n[1]!.dst, '10.0.3.58');
});

test('conntrack -L -o extended: original and reply tuples', (t) => {
  const e = parseConntrack('ipv4     2 tcp      6 119 TIME_WAIT src=10.0.1.91 dst=192.168.2.115 sport=40101 dport=80 src=10.0.3.58 dst=10.0.1.91 sport=80 dport=40101 [ASSURED] mark=0 use=1\nconntrack v1.4.7 (conntrack-tools): 1 flow entries have been shown.\n');
  t.is(e.length, 1);
  t.deepEqual(e[0]!.orig, { src: '10.0.1.91', dst: '192.168.2.115', sport: 40101, dport: 80 });
  t.deepEqual(e[0]!.reply, { src: '10.0.3.58', dst: '10.0.1.91', sport: 80, dport: 40101 });
  t.is(e[0]!.state, 'TIME_WAIT');
});

test('ipvsadm -Ln: virtual servers and their real servers, including none', (t) => {
  const s = parseIpvsadm(`IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.3.62:80 rr
TCP  192.168.2.115:80 rr
  -> 10.0.1.104:80                Masq    1      0          1
  -> 10.0.3.58:80                 Masq    1      0          0
`);
  t.is(s.length, 2);
  t.deepEqual(s[0]!.backends, []);
  t.deepEqual(s[1]!.backends.map((b) => b.ip), ['10.0.1.104', '10.0.3.58']);
  t.is(s[1]!.backends[0]!.forward, 'Masq');
});

test('/proc/net/ip_vs (as a UML 6.1 guest printed it): the same fields as ipvsadm -Ln, addresses decoded', (t) => {
  const s = parseIpvsadm(`IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A090003:01BB sh  
TCP  0A090001:0050 rr  
  -> 0A000003:1F90      Masq    3      1          0         
  -> 0A000002:1F90      Masq    1      0          1         
UDP  0A090002:0035 wrr  
  -> 0A000002:0035      Masq    2      0          0         
`);
  t.deepEqual(s.map((v) => [v.proto, v.vip, v.port, v.scheduler]), [['TCP', '10.9.0.3', 443, 'sh'], ['TCP', '10.9.0.1', 80, 'rr'], ['UDP', '10.9.0.2', 53, 'wrr']]);
  t.deepEqual(s[1]!.backends, [
    { ip: '10.0.0.3', port: 8080, forward: 'Masq', weight: 3, active: 1, inactive: 0 },
    { ip: '10.0.0.2', port: 8080, forward: 'Masq', weight: 1, active: 0, inactive: 1 },
  ]);
  t.is(s[1]!.raw, 'TCP  10.9.0.1:80 rr\n-> 10.0.0.3:8080                Masq    3      1          0\n-> 10.0.0.2:8080                Masq    1      0          1');
  t.is(s[0]!.persistent, undefined);
});

test('the capture walk follows the sequence number across NAT and namespaces, wires first', (t) => {
  const b = new PlanBuilder('t');
  b.namespace('centos', 'pod');
  b.namespace('ecs1', 'node');
  b.namespace('vsw', 'vswitch');
  b.namespace('nginx', 'pod');
  b.veth({ object: 'centos', name: 'eth0' }, { object: 'ecs1', name: 'cali1' });
  b.veth({ object: 'ecs1', name: 'eth1' }, { object: 'vsw', name: 'p1' });
  b.veth({ object: 'vsw', name: 'p2' }, { object: 'nginx', name: 'eth0' });
  const plan = b.build();
  const mk = (object: string, ifname: string, dir: 'In' | 'Out', ts: number, dst: string) =>
    ({ object, ifname, dir, ts, src: '10.0.1.91', sport: 40101, dst, dport: 80, flags: 'S', seq: 5, raw: '' });
  // Equal timestamps on purpose: the walk must not depend on clock resolution.
  const pkts = [
    mk('centos', 'eth0', 'Out', 1, '192.168.2.115'),
    mk('ecs1', 'cali1', 'In', 1, '192.168.2.115'),
    mk('ecs1', 'eth1', 'Out', 1, '10.0.3.58'),
    mk('vsw', 'p1', 'In', 1, '10.0.3.58'),
    mk('vsw', 'p2', 'Out', 1, '10.0.3.58'),
    mk('nginx', 'eth0', 'In', 1, '10.0.3.58'),
  ];
  const path = walk(plan, [...pkts].reverse(), pkts[0]!);
  t.deepEqual(path.map((p) => `${p.object}:${p.ifname}:${p.dir}`), ['centos:eth0:Out', 'ecs1:cali1:In', 'ecs1:eth1:Out', 'vsw:p1:In', 'vsw:p2:Out', 'nginx:eth0:In']);
  const hops = path.map((p) => ({ object: p.object, kind: plan.namespaces.find((n) => n.object === p.object)!.kind, ifname: p.ifname, dir: p.dir, src: p.src, dst: p.dst, label: '' }));
  t.deepEqual(pathTokens(hops).map((x) => x.token), ['centos:eth0', 'ecs1:cali1', 'ecs1:eth1', 'vpc', 'nginx:eth0']);
});
