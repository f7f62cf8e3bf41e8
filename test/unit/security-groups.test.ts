// The security-group compiler (lab/fabric/security-groups.ts) and the verdict analysis
// (lab/checks/sg-verdict.ts), without a kernel.
import test from 'ava';
import { compileScenario } from '../../lab/compile.ts';
import { locateScenario } from '../../lab/catalog.ts';
import { chainName, groupMembers, rankRules, vswitchFilter, type SgPort } from '../../lab/fabric/security-groups.ts';
import type { SecurityGroup, SecurityGroupRule } from '../../lab/model.ts';
import { portJumps, sgVerdictCheck } from '../../lab/checks/sg-verdict.ts';
import { parseIptablesSaveCounters } from '../../lab/evidence/iptables-save.ts';
import type { Packet } from '../../lab/evidence/tcpdump.ts';

const rule = (r: Partial<SecurityGroupRule> & Pick<SecurityGroupRule, 'direction'>): SecurityGroupRule => ({
  action: 'accept', protocol: 'all', peer: { cidr: '0.0.0.0/0' }, priority: 1, ...r,
});

const web: SecurityGroup = {
  name: 'sg-web',
  rules: [
    rule({ direction: 'ingress', protocol: 'tcp', ports: [80, 80], peer: { group: 'sg-client' }, priority: 5 }),
    rule({ direction: 'ingress', protocol: 'tcp', ports: [8000, 8080], peer: { cidr: '10.9.0.0/16' }, priority: 5 }),
    rule({ direction: 'ingress', action: 'drop', protocol: 'tcp', ports: [8000, 8080], peer: { cidr: '10.9.9.0/24' }, priority: 5 }),
    rule({ direction: 'ingress', protocol: 'icmp', peer: { cidr: '10.0.0.0/8' }, priority: 1 }),
    rule({ direction: 'egress', action: 'drop', protocol: 'udp', ports: [53, 53], peer: { cidr: '8.8.8.8/32' } }),
    rule({ direction: 'ingress', protocol: 'udp', peer: { group: 'sg-empty' }, priority: 7 }),
  ],
};
const client: SecurityGroup = { name: 'sg-client', rules: [rule({ direction: 'ingress', peer: { group: 'sg-web' } })] };
const empty: SecurityGroup = { name: 'sg-empty', rules: [] };
const groups = [web, client, empty];
const enis = [
  { ips: ['10.0.5.35'], securityGroups: ['sg-web'] },
  { ips: ['10.0.4.27'], securityGroups: ['sg-client'] },
  { ips: ['10.0.4.29', '10.0.4.31'], securityGroups: ['sg-client'] },
];
const ports: SgPort[] = [
  { port: 'ecs2-eth1.1003', id: 1, groups: ['sg-web'], eni: 'ecs2/eth1.1003 (member ENI of nginx)' },
  { port: 'ecs1-eth1.1001', id: 2, groups: ['sg-client'], eni: 'ecs1/eth1.1001 (member ENI of centos)' },
];
const payload = vswitchFilter(groups, ports, groupMembers(enis));
const lines = payload.trimEnd().split('\n');
const chainLines = (chain: string) => lines.filter((l) => l.startsWith(`-A ${chain} `));

test('rule order: priority first, a drop before an accept of the same priority, then file order', (t) => {
  const r = rankRules(groups, ['sg-web'], 'ingress').map((x) => `${x.index}:${x.rule.action}`);
  t.deepEqual(r, ['4:accept', '3:drop', '1:accept', '2:accept', '6:accept']);
  const ch = chainLines('sg-web.in.ecs2-eth1.1003').filter((l) => / rule \d+:/.test(l)).map((l) => / rule (\d+):/.exec(l)![1]);
  t.deepEqual([...new Set(ch)], ['4', '3', '1', '2']); // rule 6's group is empty: no line
});

test('stateful: ESTABLISHED,RELATED of this ENI first, then NEW is marked, then the rules', (t) => {
  const ing = chainLines('sg-web.in.ecs2-eth1.1003');
  t.regex(ing[0]!, /--ctstate ESTABLISHED,RELATED --ctdir REPLY -m connmark --mark 0x10000\/0xffff0000 .* -j RETURN$/);
  t.regex(ing[1]!, /--ctstate ESTABLISHED,RELATED --ctdir ORIGINAL -m connmark --mark 0x1\/0xffff .* -j RETURN$/);
  t.regex(ing[2]!, /--ctstate NEW .* -j CONNMARK --set-xmark 0x1\/0xffff$/);
  const eg = chainLines('sg-client.out.ecs1-eth1.1001');
  t.regex(eg[0]!, /--ctdir ORIGINAL -m connmark --mark 0x20000\/0xffff0000 /);
  t.regex(eg[1]!, /--ctdir REPLY -m connmark --mark 0x2\/0xffff /);
  t.regex(eg[2]!, /--ctstate NEW .* -j CONNMARK --set-xmark 0x20000\/0xffff0000$/);
  // FORWARD: every ENI's egress before any ENI's ingress (a packet between two ENIs passes both).
  const fwd = lines.filter((l) => l.startsWith('-A FORWARD '));
  t.deepEqual(fwd.map((l) => / (-[io]) (\S+)/.exec(l)!.slice(1).join(' ')), ['-i ecs2-eth1.1003', '-i ecs1-eth1.1001', '-o ecs2-eth1.1003', '-o ecs1-eth1.1001']);
});

test('default deny inbound, default allow outbound: the last rule of each chain, with a comment', (t) => {
  t.is(chainLines('sg-web.in.ecs2-eth1.1003').at(-1), '-A sg-web.in.ecs2-eth1.1003 -m comment --comment "security group sg-web: default deny ingress" -j DROP');
  t.is(chainLines('sg-web.out.ecs2-eth1.1003').at(-1), '-A sg-web.out.ecs2-eth1.1003 -m comment --comment "security group sg-web: default allow egress" -j RETURN');
  // accept = RETURN (the packet goes on to the other port's chain), drop = DROP.
  t.true(chainLines('sg-web.out.ecs2-eth1.1003').some((l) => l === '-A sg-web.out.ecs2-eth1.1003 -d 8.8.8.8/32 -p udp -m udp --dport 53 -m comment --comment "security group sg-web, egress rule 5: drop udp 53 to 8.8.8.8/32" -j DROP'));
});

test('every rule line names its group and rule in a comment', (t) => {
  for (const l of lines.filter((x) => x.startsWith('-A ') && !x.startsWith('-A FORWARD'))) {
    t.regex(l, /-m comment --comment "security group sg-[a-z]+(, (ingress|egress) rule \d+|: )/, l);
  }
  t.true(lines.every((l) => !l.startsWith('-A') || l.includes('--comment')));
});

test('group-to-group references expand to every member ENI address; an empty group matches nothing', (t) => {
  const fromClient = chainLines('sg-web.in.ecs2-eth1.1003').filter((l) => l.includes('from group sg-client'));
  t.deepEqual(fromClient.map((l) => /-s (\S+)/.exec(l)![1]), ['10.0.4.27/32', '10.0.4.29/32', '10.0.4.31/32']);
  t.true(fromClient.every((l) => l.includes('-p tcp -m tcp --dport 80 ')));
  t.true(chainLines('sg-client.in.ecs1-eth1.1001').some((l) => l.includes('-s 10.0.5.35/32 -m comment --comment "security group sg-client, ingress rule 1: accept all from group sg-web" -j RETURN')));
  t.true(lines.some((l) => l.startsWith('# security group sg-web, ingress rule 6') && l.includes('no member ENI')));
});

test('port ranges: a:b for a range, a single port alone; icmp and all carry no port', (t) => {
  const ch = chainLines('sg-web.in.ecs2-eth1.1003');
  t.true(ch.some((l) => l.includes('-s 10.9.0.0/16 -p tcp -m tcp --dport 8000:8080 ')));
  t.true(ch.some((l) => l.includes('-s 10.9.9.0/24 -p tcp -m tcp --dport 8000:8080 ') && l.endsWith('-j DROP')));
  t.true(ch.some((l) => l.includes('-s 10.0.0.0/8 -p icmp -m comment')));
  t.false(chainLines('sg-client.in.ecs1-eth1.1001').some((l) => / -p /.test(l)));
});

test('chain names: named after the groups, at most 28 bytes, unique', (t) => {
  t.is(chainName(['sg-web'], 'ingress', 'ecs2-eth1.1003', 1), 'sg-web.in.ecs2-eth1.1003');
  t.is(chainName(['sg-cluster'], 'egress', 'ecs1-eth1.1002', 3), 'sg-cluster.o.ecs1-eth1.1002');
  t.is(chainName(['sg-web-closed'], 'ingress', 'ecs2-eth1.1003', 5), 'sg-web-closed.in.p5');
  const long = chainName(['a-very-long-security-group-name-indeed'], 'ingress', 'ecs2-eth1.1003', 12);
  t.true(long.length <= 28 && long.startsWith('a-very') && long.endsWith('.i.p12'));
  t.throws(() => vswitchFilter(groups, [ports[0]!, { ...ports[1]!, id: 1 }], new Map()), { message: /unique/ });
});

test('trunk-8: one iptables-restore per vSwitch, VLANs and group rules in the plan', (t) => {
  const { topo, scenario } = locateScenario('trunk-8');
  const { plan } = compileScenario(topo, scenario, 'T');
  const ipt = plan.steps.filter((s) => s.tool === 'iptables' && (s.object === 'vsw-a' || s.object === 'vsw-b'));
  t.is(ipt.length, 1);
  t.is(ipt[0]!.object, 'vsw-a'); // every ENI port, nginx's member of vsw-b included, is in the trunks' vSwitch
  const text = ipt[0]!.lines!.join('\n');
  t.regex(text, /-A FORWARD -o ecs2-eth1\.1003 .* -j sg-web\.in\.ecs2-eth1\.1003/);
  t.regex(text, /-A FORWARD -o ecs1-eth1\.1001 .* -j sg-client\.in\.ecs1-eth1\.1001/);
  t.regex(text, /sg-web, ingress rule 2: accept tcp 80 from group sg-cluster/);
  const all = plan.steps.flatMap((s) => s.lines ?? []).join('\n');
  t.regex(all, /link add link eth1 name eth1\.1003 index \d+ address \S+ type vlan id 1003/);
  t.regex(all, /link add link ecs2-eth1 name ecs2-eth1\.1003 index \d+ address ee:ff:ff:ff:ff:ff type vlan id 1003/);
  t.regex(all, /route replace 10\.0\.5\.35\/32 via 169\.254\.0\.2 dev vsw-a onlink/); // member of vsw-b, via the trunk's vSwitch
  t.true(plan.interfaces.some((i) => i.object === 'vsw-a' && i.aliases.includes('vlan(nginx)') && i.vid === 1003));
});

// ---- verdicts from counters ---------------------------------------------------------------
const dump = (deny: number, accept: number) => `# Generated by iptables-save
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [9:540]
:OUTPUT ACCEPT [0:0]
:sg-web.in.ecs2-eth1.1003 - [0:0]
[${deny + accept}:0] -A FORWARD -o ecs2-eth1.1003 -m comment --comment "ecs2/eth1.1003 (member ENI of nginx) receives: security group sg-web" -j sg-web.in.ecs2-eth1.1003
[${accept}:${accept * 60}] -A sg-web.in.ecs2-eth1.1003 -s 10.0.4.27/32 -p tcp -m tcp --dport 80 -m comment --comment "security group sg-web, ingress rule 1: accept tcp 80 from group sg-client" -j RETURN
[${deny}:${deny * 60}] -A sg-web.in.ecs2-eth1.1003 -m comment --comment "security group sg-web: default deny ingress" -j DROP
COMMIT
`;
const pkt = (ifname: string, dir: 'In' | 'Out'): Packet => ({
  object: 'vsw-a', ts: 1, ifname, dir, src: '10.0.4.20', sport: 40101, dst: '10.0.5.35', dport: 80, flags: 'S', seq: 7, raw: '',
});

test('counters: rules, comments and the per-port jumps of iptables-save -c', (t) => {
  const rules = parseIptablesSaveCounters(dump(2, 1));
  const jumps = portJumps(rules);
  t.deepEqual(jumps, [{ port: 'ecs2-eth1.1003', dir: 'ingress', chain: 'sg-web.in.ecs2-eth1.1003' }]);
  t.is(rules.find((r) => r.target === 'DROP')!.comment, 'security group sg-web: default deny ingress');
  t.is(rules.find((r) => r.target === 'DROP')!.packets, 2);
});

test('droppedBy: the deny rule counted this probe and the request never left by the port', (t) => {
  const c = sgVerdictCheck({
    verdict: 'dropped', x: { group: 'sg-web', at: 'vsw-a:vlan(nginx)' }, vswitch: 'vsw-a', port: 'ecs2-eth1.1003',
    before: dump(1, 1), after: dump(3, 1), pool: [pkt('ecs1-eth0', 'In')],
  });
  t.true(c.passed, c.observed);
  t.regex(c.observed, /"security group sg-web: default deny ingress" \(chain sg-web\.in\.ecs2-eth1\.1003\): \+2 packets/);
  t.regex(c.observed, /entering vsw-a \(ecs1-eth0\), never leaving by ecs2-eth1\.1003/);
});

test('droppedBy fails when the counter did not move in this probe, or the packet left by the port', (t) => {
  const still = sgVerdictCheck({ verdict: 'dropped', x: { group: 'sg-web', at: 'x' }, vswitch: 'vsw-a', port: 'ecs2-eth1.1003', before: dump(3, 1), after: dump(3, 2), pool: [pkt('ecs1-eth0', 'In')] });
  t.false(still.passed);
  const left = sgVerdictCheck({ verdict: 'dropped', x: { group: 'sg-web', at: 'x' }, vswitch: 'vsw-a', port: 'ecs2-eth1.1003', after: dump(1, 0), pool: [pkt('ecs1-eth0', 'In'), pkt('ecs2-eth1.1003', 'Out')] });
  t.false(left.passed);
  const other = sgVerdictCheck({ verdict: 'dropped', x: { group: 'sg-other', at: 'x' }, vswitch: 'vsw-a', port: 'ecs2-eth1.1003', after: dump(1, 0), pool: [pkt('ecs1-eth0', 'In')] });
  t.false(other.passed);
});

test('admittedBy: an accept rule of the group counted the request, seen leaving by the port', (t) => {
  const c = sgVerdictCheck({ verdict: 'admitted', x: { group: 'sg-web', at: 'x' }, vswitch: 'vsw-a', port: 'ecs2-eth1.1003', before: dump(0, 0), after: dump(0, 1), pool: [pkt('ecs1-eth0', 'In'), pkt('ecs2-eth1.1003', 'Out')] });
  t.true(c.passed, c.observed);
  t.regex(c.observed, /ingress rule 1: accept tcp 80 from group sg-client/);
});
