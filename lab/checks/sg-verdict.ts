// expect.droppedBy / expect.admittedBy: which rule of which security group admitted or dropped
// a packet at an ENI's vSwitch port, read from the kernel's own packet counters (iptables-save -c
// in the vSwitch namespace, after this probe minus after the previous one) and from the captures
// in that namespace. The rules' comments (lab/fabric/security-groups.ts) name group and rule.
import { parseIptablesSaveCounters, withDeltas, type CountedRule } from '../evidence/iptables-save.ts';
import { earlierDump, probeDump } from '../evidence/read.ts';
import { describePacket, type Packet } from '../evidence/tcpdump.ts';
import type { Expect, SgVerdictExpect } from '../model.ts';
import type { Check, CheckKind, RefUse } from './types.ts';
import { resolveIfaceRef } from './walk.ts';

export interface PortJump {
  port: string;
  dir: 'ingress' | 'egress'; // -o port: towards the ENI (its ingress); -i port: from the ENI
  chain: string;
}

/** FORWARD's per-port jumps of the filter table: the chain that holds each port's rules. */
export function portJumps(rules: CountedRule[]): PortJump[] {
  const jumps: PortJump[] = [];
  for (const r of rules) {
    if (r.table !== 'filter' || r.chain !== 'FORWARD' || !r.target) continue;
    const o = /\s-o\s+(\S+)/.exec(r.text);
    const i = /\s-i\s+(\S+)/.exec(r.text);
    if (o) jumps.push({ port: o[1]!, dir: 'ingress', chain: r.target });
    else if (i) jumps.push({ port: i[1]!, dir: 'egress', chain: r.target });
  }
  return jumps;
}

function groupOfComment(comment: string | undefined): string | undefined {
  return comment ? /^security group ([a-z0-9+-]+?)(?:,|:)/.exec(comment)?.[1] : undefined;
}

const isGroupRule = (r: CountedRule) => !!r.comment && /^security group /.test(r.comment) && !/\(stateful\)|is remembered/.test(r.comment) && r.target !== 'CONNMARK';

/**
 * One check: the packet was `verdict` (admitted / dropped) by a rule of `x.group` at the port
 * `port` of vSwitch `vswitch`. Passes when a rule of that group, in a chain FORWARD sends that
 * port's traffic to, counted this probe's packet(s) with that verdict, and the captures agree
 * (admitted towards the ENI: seen leaving by the port; dropped there: seen entering the
 * vSwitch, never leaving by the port; for the ENI's own egress: seen entering by the port).
 */
export function sgVerdictCheck(a: {
  verdict: 'admitted' | 'dropped';
  x: SgVerdictExpect;
  vswitch: string;
  port: string;
  before?: string;
  after?: string;
  pool: Packet[];
}): Check {
  const { verdict, x, vswitch, port } = a;
  const packetWord = x.packet === 'reply' ? 'reply' : 'request';
  const name = `${verdict} by security group ${x.group} at ${x.at} (${packetWord})`;
  if (a.after === undefined) {
    return { name, expected: `a rule of ${x.group} counts the ${packetWord}`, observed: `no iptables dump of ${vswitch} after the probe`, passed: false, evidence: [] };
  }
  const filter = (text: string) => parseIptablesSaveCounters(text).filter((r) => r.table === 'filter');
  const after = filter(a.after);
  const moved = withDeltas(after, a.before === undefined ? undefined : filter(a.before)).map((r) => ({ r, d: r.delta })).filter((m) => m.d > 0 && isGroupRule(m.r));
  const myChains = portJumps(after).filter((j) => j.port === port);
  const dirOf = (chain: string) => myChains.find((j) => j.chain === chain)?.dir;
  const wantTarget = verdict === 'dropped' ? 'DROP' : 'RETURN';
  const atPort = moved.filter((m) => dirOf(m.r.chain) !== undefined);
  const hits = atPort.filter((m) => m.r.target === wantTarget && (groupOfComment(m.r.comment) ?? '').split('+').includes(x.group));
  // Sum per rule (a group reference is one line per member address, all with the rule's comment).
  const perRule = new Map<string, { comment: string; chain: string; pkts: number }>();
  for (const m of hits) {
    const k = `${m.r.chain}|${m.r.comment}`;
    const cur = perRule.get(k) ?? { comment: m.r.comment!, chain: m.r.chain, pkts: 0 };
    cur.pkts += m.d;
    perRule.set(k, cur);
  }
  const dir = hits[0] ? dirOf(hits[0].r.chain)! : undefined;

  const inNs = a.pool.filter((p) => p.object === vswitch);
  const outAtPort = inNs.filter((p) => p.ifname === port && p.dir === 'Out');
  const inAtPort = inNs.filter((p) => p.ifname === port && p.dir === 'In');
  const inVsw = inNs.filter((p) => p.dir === 'In');
  const outVsw = inNs.filter((p) => p.dir === 'Out');
  let capOk: boolean;
  let capText: string;
  if (dir === undefined) {
    capOk = false;
    capText = inNs.length ? `${packetWord} captured in ${vswitch} on ${[...new Set(inNs.map((p) => `${p.ifname} ${p.dir}`))].join(', ')}` : `${packetWord} never captured in ${vswitch}`;
  } else if (verdict === 'dropped' && dir === 'ingress') {
    capOk = inVsw.length > 0 && outAtPort.length === 0;
    capText = `${packetWord} captured entering ${vswitch} (${[...new Set(inVsw.map((p) => p.ifname))].join(', ') || 'nowhere'}), ${outAtPort.length ? `but also leaving by ${port}` : `never leaving by ${port}`}`;
  } else if (verdict === 'dropped') {
    capOk = inAtPort.length > 0 && outVsw.length === 0;
    capText = `${packetWord} captured entering by ${port}: ${inAtPort.length ? 'yes' : 'no'}; leaving ${vswitch}: ${outVsw.length ? [...new Set(outVsw.map((p) => p.ifname))].join(', ') : 'never'}`;
  } else if (dir === 'ingress') {
    capOk = outAtPort.length > 0;
    capText = `${packetWord} captured leaving ${vswitch} by ${port}: ${outAtPort.length ? 'yes' : 'no'}`;
  } else {
    capOk = inAtPort.length > 0;
    capText = `${packetWord} captured entering ${vswitch} by ${port}: ${inAtPort.length ? 'yes' : 'no'}`;
  }
  const ruleText = [...perRule.values()].map((r) => `"${r.comment}" (chain ${r.chain}): +${r.pkts} packet${r.pkts > 1 ? 's' : ''}`).join('; ');
  const elsewhere = moved.filter((m) => !hits.includes(m) && (m.r.target === 'DROP' || atPort.includes(m)));
  const observed = perRule.size
    ? `${verdict} at ${port} (${dir === 'ingress' ? `FORWARD -o ${port}, the ENI's inbound` : `FORWARD -i ${port}, the ENI's outbound`}) by ${ruleText}; ${capText}`
    : `no rule of ${x.group} at ${port} counted a packet with verdict ${wantTarget}${elsewhere.length ? `; counters that moved: ${[...new Set(elsewhere.map((m) => `"${m.r.comment}" in ${m.r.chain}`))].join(', ')}` : ''}; ${capText}`;
  const evidence = [
    ...[...hits, ...elsewhere].slice(0, 6).map((m) => `${vswitch}: [${m.r.packets}:${m.r.bytes}] ${m.r.text}  (+${m.d} in this probe)`),
    ...inNs.slice(0, 6).map(describePacket),
  ];
  return {
    name,
    expected: `${verdict === 'dropped' ? 'DROP' : 'accept'} rule of ${x.group} counts the ${packetWord} at ${port}; captures agree`,
    observed,
    passed: perRule.size > 0 && capOk,
    evidence,
  };
}

const verdictsOf = (e: Expect) => [
  ...(e.droppedBy ? [{ verdict: 'dropped' as const, x: e.droppedBy, path: ['droppedBy'] }] : []),
  ...e.admittedBy.map((x, m) => ({ verdict: 'admitted' as const, x, path: ['admittedBy', m] })),
];

export const sgVerdict: CheckKind = {
  fields: ['droppedBy', 'admittedBy'],
  references: (e) => verdictsOf(e).flatMap(({ x, path }): RefUse[] => [
    { path: ['expect', ...path, 'at'], kind: 'vswitchPort', ref: x.at },
    { path: ['expect', ...path, 'group'], kind: 'securityGroup', ref: x.group },
  ]),
  // Every probe of a scenario dumps the filter counters of every vSwitch a verdict names, so
  // that each probe has the previous probe's counters as its baseline.
  everyProbe: (probes) => probes.flatMap((p) => verdictsOf(p.expect).map((v) => ({ kind: 'iptables', object: v.x.at.split(':')[0]! }))),
  judge: (c, t) => verdictsOf(c.spec.probe.expect).map(({ verdict, x }) => {
    const r = resolveIfaceRef(c.plan, x.at)[0]!;
    return sgVerdictCheck({
      verdict, x, vswitch: r.object, port: r.ifname ?? '', pool: x.packet === 'reply' ? t.reply : t.request,
      before: earlierDump(c.ev, c.plan, c.probes, c.spec, 'iptables', r.object), after: probeDump(c.ev, c.plan, c.spec.id, 'iptables', r.object),
    });
  }),
};
