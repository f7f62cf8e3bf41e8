// Security groups: stateful allow-lists bound to ENIs (a node's primary ENI, a pod's member ENI),
// enforced where the VPC meets the ENI — at the ENI's port in its vSwitch namespace — with
// iptables: filter FORWARD, one chain per (port, direction) named after the port's groups, one
// iptables-restore per vSwitch.
//
// Semantics (Alibaba Cloud's): rules have a direction, a protocol, a port range and a peer (a
// CIDR or another group, which stands for the addresses of every ENI bound to that group);
// rules are evaluated by priority (1 first), a drop rule before an accept rule of the same
// priority, then in file order; inbound is denied by default, outbound allowed by default.
// Every rule line carries a comment "security group G, <direction> rule N: …" (the default
// verdicts "security group G: default …"), so that iptables-save -c names the group and rule
// whose kernel counter moved — that is how a probe report says who dropped a packet.
//
// State is per ENI, not per vSwitch. All ports of a vSwitch share one conntrack table, so a
// plain `--ctstate ESTABLISHED -j ACCEPT` would let a reply through an ENI that never saw the
// request (the asymmetric paths of IPVS: a request leaves a node by eth0, its reply comes
// back to the pod's member ENI). The connmark therefore records which ENI port opened a flow
// (bits 16-31, the port's id) and which admitted it (bits 0-15): an established packet is
// let through statefully only by those ports; anywhere else the rules decide again, as the
// cloud's per-ENI state does. Ids are per vSwitch, 1…65535.
import { createHash } from 'node:crypto';
import type { BuildContext, EniRecord } from '../context.ts';
import type { SecurityGroup, SecurityGroupRule } from '../model.ts';

/** A port that has security groups: its interface in the vSwitch namespace and its ENI. */
export interface SgPort {
  port: string;
  id: number; // 1…65535, unique in the vSwitch
  groups: string[];
  eni: string; // label for comments: "ecs2/eth1.1005 (member ENI of nginx)"
}

type SgDirection = 'ingress' | 'egress';

/** One rule of a group, with its 1-based index in the group's rule list (the "rule N"). */
interface RankedRule {
  group: string;
  index: number;
  rule: SecurityGroupRule;
}

const MAX_CHAIN = 28; // XT_EXTENSION_MAXNAMELEN - 1
const STATE_ORIG_SHIFT = 16;

/** The rules of `groups` for one direction, in evaluation order. */
export function rankRules(groups: SecurityGroup[], names: string[], dir: SgDirection): RankedRule[] {
  const out: (RankedRule & { gi: number })[] = [];
  names.forEach((name, gi) => {
    const g = groups.find((x) => x.name === name);
    if (!g) throw new Error(`unknown security group "${name}"`);
    g.rules.forEach((rule, i) => {
      if (rule.direction === dir) out.push({ group: g.name, index: i + 1, rule, gi });
    });
  });
  // Stable: priority, then drop before accept, then group order, then file order.
  return out
    .map((r, k) => ({ r, k }))
    .sort((a, b) => a.r.rule.priority - b.r.rule.priority
      || (a.r.rule.action === b.r.rule.action ? 0 : a.r.rule.action === 'drop' ? -1 : 1)
      || a.r.gi - b.r.gi || a.k - b.k)
    .map(({ r }) => ({ group: r.group, index: r.index, rule: r.rule }));
}

/** Addresses of every ENI bound to each group (primary ENI: the node IP; member ENI: the pod IP). */
export function groupMembers(enis: Pick<EniRecord, 'ips' | 'securityGroups'>[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const e of enis) {
    for (const g of e.securityGroups) {
      const list = m.get(g) ?? [];
      for (const ip of e.ips) if (!list.includes(ip)) list.push(ip);
      m.set(g, list);
    }
  }
  for (const list of m.values()) list.sort(ipOrder);
  return m;
}

function ipOrder(a: string, b: string): number {
  const n = (s: string) => s.split(/[./]/).map(Number);
  const x = n(a);
  const y = n(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? -1) !== (y[i] ?? -1)) return (x[i] ?? -1) - (y[i] ?? -1);
  return 0;
}

/**
 * `<groups>.in.<port>` / `<groups>.out.<port>`; `.i.` / `.o.` when that exceeds 28 bytes; then
 * `<groups>.in.p<id>` (the FORWARD jump names the port); else the groups cut short with a hash.
 */
export function chainName(groups: string[], dir: SgDirection, port: string, id: number): string {
  const g = groups.join('+');
  const [long, short] = dir === 'ingress' ? ['in', 'i'] : ['out', 'o'];
  for (const want of [`${g}.${long}.${port}`, `${g}.${short}.${port}`, `${g}.${long}.p${id}`]) {
    if (want.length <= MAX_CHAIN) return want;
  }
  const tail = `.${short}.p${id}`;
  const h = createHash('sha1').update(g).digest('hex').slice(0, 6);
  return `${g.slice(0, MAX_CHAIN - tail.length - 7)}~${h}${tail}`;
}

function describeRule(r: RankedRule, dir: SgDirection): string {
  const x = r.rule;
  const proto = x.protocol === 'all' ? 'all' : `${x.protocol}${x.ports && x.protocol !== 'icmp' ? ` ${x.ports[0] === x.ports[1] ? x.ports[0] : `${x.ports[0]}-${x.ports[1]}`}` : ''}`;
  const peer = 'group' in x.peer ? `group ${x.peer.group}` : x.peer.cidr;
  return `security group ${r.group}, ${dir} rule ${r.index}: ${x.action} ${proto} ${dir === 'ingress' ? 'from' : 'to'} ${peer}`;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}`;
}

function q(s: string): string {
  if (/["\\\n]/.test(s)) throw new Error(`comment contains a quote or newline: ${s}`);
  return `"${s}"`;
}

/** The match part of one rule for one peer address (without the comment and target). */
function ruleMatch(x: SecurityGroupRule, dir: SgDirection, peer: string): string {
  const parts: string[] = [];
  const cidr = peer.includes('/') ? peer : `${peer}/32`;
  if (cidr !== '0.0.0.0/0') parts.push(`${dir === 'ingress' ? '-s' : '-d'} ${cidr}`);
  if (x.protocol !== 'all') {
    parts.push(`-p ${x.protocol}`);
    if (x.ports && x.protocol !== 'icmp') {
      const [a, b] = x.ports;
      parts.push(`-m ${x.protocol} --dport ${a === b ? a : `${a}:${b}`}`);
    }
  }
  return parts.join(' ');
}

/**
 * The iptables-restore payload (filter table) for one vSwitch: the FORWARD jumps to each port's
 * chains and the chains themselves. Pure: unit-tested without a kernel.
 */
export function vswitchFilter(groups: SecurityGroup[], ports: SgPort[], members: Map<string, string[]>): string {
  const heads = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  const jumps: string[] = [];
  const body: string[] = [];
  const ids = new Set<number>();
  for (const p of ports) {
    if (p.id < 1 || p.id > 0xffff || ids.has(p.id)) throw new Error(`security-group port id ${p.id} of ${p.port} must be unique in 1…65535`);
    ids.add(p.id);
  }
  // Egress of every ENI first (the packet leaves the ENI into the vSwitch), then ingress (it
  // leaves the vSwitch towards an ENI): a packet between two ENIs passes both.
  for (const dir of ['egress', 'ingress'] as const) {
    for (const p of ports) {
      const chain = chainName(p.groups, dir, p.port, p.id);
      const g = p.groups.join('+');
      heads.push(`:${chain} - [0:0]`);
      const flag = dir === 'ingress' ? '-o' : '-i';
      jumps.push(`-A FORWARD ${flag} ${p.port} -m comment --comment ${q(`${p.eni} ${dir === 'ingress' ? 'receives' : 'sends'}: security group ${g}`)} -j ${chain}`);
      // connmark: bits 16-31 = the port that opened the flow, bits 0-15 = the port that admitted it.
      const opened = `${hex(p.id << STATE_ORIG_SHIFT)}/${hex(0xffff0000)}`;
      const admitted = `${hex(p.id)}/${hex(0xffff)}`;
      // Stateful first: packets of a flow this ENI opened or admitted, in either direction.
      body.push(dir === 'ingress'
        ? `-A ${chain} -m conntrack --ctstate ESTABLISHED,RELATED --ctdir REPLY -m connmark --mark ${opened} -m comment --comment ${q(`security group ${g}: reply to a flow this ENI opened (stateful)`)} -j RETURN`
        : `-A ${chain} -m conntrack --ctstate ESTABLISHED,RELATED --ctdir ORIGINAL -m connmark --mark ${opened} -m comment --comment ${q(`security group ${g}: a flow this ENI opened (stateful)`)} -j RETURN`);
      body.push(dir === 'ingress'
        ? `-A ${chain} -m conntrack --ctstate ESTABLISHED,RELATED --ctdir ORIGINAL -m connmark --mark ${admitted} -m comment --comment ${q(`security group ${g}: a flow this ENI admitted (stateful)`)} -j RETURN`
        : `-A ${chain} -m conntrack --ctstate ESTABLISHED,RELATED --ctdir REPLY -m connmark --mark ${admitted} -m comment --comment ${q(`security group ${g}: reply of a flow this ENI admitted (stateful)`)} -j RETURN`);
      // A new flow is marked as this port's before the rules decide; if they drop it, the
      // unconfirmed conntrack entry (and its mark) goes with the packet.
      body.push(`-A ${chain} -m conntrack --ctstate NEW -m comment --comment ${q(`security group ${g}: a new flow ${dir === 'ingress' ? 'admitted' : 'opened'} here is remembered as this ENI's`)} -j CONNMARK --set-xmark ${dir === 'ingress' ? admitted : opened}`);
      for (const r of rankRules(groups, p.groups, dir)) {
        const comment = describeRule(r, dir);
        const target = r.rule.action === 'accept' ? 'RETURN' : 'DROP';
        const peers = 'group' in r.rule.peer ? members.get(r.rule.peer.group) ?? [] : [r.rule.peer.cidr];
        if (!peers.length) {
          body.push(`# ${comment}: group ${(r.rule.peer as { group: string }).group} has no member ENI, the rule matches nothing`);
          continue;
        }
        for (const peer of peers) {
          const m = ruleMatch(r.rule, dir, peer);
          body.push(`-A ${chain}${m ? ` ${m}` : ''} -m comment --comment ${q(comment)} -j ${target}`);
        }
      }
      body.push(dir === 'ingress'
        ? `-A ${chain} -m comment --comment ${q(`security group ${g}: default deny ingress`)} -j DROP`
        : `-A ${chain} -m comment --comment ${q(`security group ${g}: default allow egress`)} -j RETURN`);
    }
  }
  return [...heads, ...jumps, ...body, 'COMMIT'].join('\n') + '\n';
}

function eniLabel(ctx: BuildContext, e: EniRecord): string {
  if (e.kind === 'member') {
    const pod = ctx.cluster.pods.find((p) => p.node === e.node && p.memberEni && e.ips.includes(p.ip));
    return `${e.node}/${e.name}${pod ? ` (member ENI of ${pod.name})` : ''}`;
  }
  return `${e.node}/${e.name} (${e.kind} ENI)`;
}

/** Compiles every vSwitch's security-group filter; a no-op when no ENI has a group. */
export function buildSecurityGroups(ctx: BuildContext): void {
  const { b, cluster } = ctx;
  const bound = ctx.enis.filter((e) => e.securityGroups.length > 0);
  if (!bound.length) return;
  const members = groupMembers(ctx.enis);
  const byVswitch = new Map<string, SgPort[]>();
  for (const e of bound) {
    const ns = e.portVswitch ?? e.vswitch;
    const list = byVswitch.get(ns) ?? [];
    list.push({ port: e.port, id: list.length + 1, groups: e.securityGroups, eni: eniLabel(ctx, e) });
    byVswitch.set(ns, list);
  }
  for (const [ns, ports] of byVswitch) {
    b.iptables(ns, vswitchFilter(cluster.securityGroups, ports, members));
  }
  b.module('nf_conntrack', 'iptable_filter', 'xt_conntrack', 'xt_connmark', 'xt_comment', 'xt_tcpudp');
  b.feature('iptables');
  b.note(`security groups: ${[...byVswitch].map(([ns, ports]) => `${ns}: ${ports.map((p) => `${p.port}=${p.groups.join('+')}`).join(', ')}`).join('; ')}`);
}
