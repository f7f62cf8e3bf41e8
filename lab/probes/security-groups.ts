// Security-group verdicts from evidence: which rule of which group admitted or dropped a packet
// at an ENI's vSwitch port, read from the kernel's own packet counters (iptables-save -c in the
// vSwitch namespace, after this probe minus after the previous one) and from the captures in
// that namespace. The rules' comments (lab/fabric/security-groups.ts) name group and rule.
import type { ProbeSpec } from '../contract.ts';
import type { SgVerdictExpect } from '../model.ts';
import { describePacket, type Packet } from './capture.ts';

/** The shape of lab/probes/analyze.ts's Check (kept structural to avoid an import cycle). */
export interface SgCheck {
  name: string;
  expected: string;
  observed: string;
  passed: boolean;
  evidence: string[];
}

export interface CountedRule {
  chain: string;
  pkts: number;
  bytes: number;
  key: string; // chain + rule text without counters, with an occurrence suffix
  text: string; // the rule as iptables-save prints it, without counters
  comment?: string;
  target?: string;
}

export interface PortJump {
  port: string;
  dir: 'ingress' | 'egress'; // -o port: towards the ENI (its ingress); -i port: from the ENI
  chain: string;
}

/** Parses `iptables-save -c` (filter table): counted rules, and FORWARD's per-port jumps. */
export function parseIptablesCounters(text: string): { rules: CountedRule[]; jumps: PortJump[] } {
  const rules: CountedRule[] = [];
  const jumps: PortJump[] = [];
  const seen = new Map<string, number>();
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    const m = /^\[(\d+):(\d+)\]\s+(-A\s+(\S+)\s+.*)$/.exec(line);
    if (!m || table !== 'filter') continue;
    const text = m[3]!;
    const chain = m[4]!;
    const n = (seen.get(text) ?? 0) + 1;
    seen.set(text, n);
    const comment = /--comment\s+(?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(text);
    const target = /\s-j\s+(\S+)/.exec(text)?.[1];
    rules.push({ chain, pkts: Number(m[1]), bytes: Number(m[2]), key: `${text}#${n}`, text, comment: comment ? (comment[1] ?? comment[2]) : undefined, target });
    if (chain === 'FORWARD' && target) {
      const o = /\s-o\s+(\S+)/.exec(text);
      const i = /\s-i\s+(\S+)/.exec(text);
      if (o) jumps.push({ port: o[1]!, dir: 'ingress', chain: target });
      else if (i) jumps.push({ port: i[1]!, dir: 'egress', chain: target });
    }
  }
  return { rules, jumps };
}

export function groupOfComment(comment: string | undefined): string | undefined {
  return comment ? /^security group ([a-z0-9+-]+?)(?:,|:)/.exec(comment)?.[1] : undefined;
}

const isGroupRule = (r: CountedRule) => !!r.comment && /^security group /.test(r.comment) && !/\(stateful\)|is remembered/.test(r.comment) && r.target !== 'CONNMARK';

/** The latest iptables dump of `ns` taken after an earlier probe (its counters are this probe's baseline). */
export function baselineDump(dumps: Map<string, string>, probes: ProbeSpec[], spec: ProbeSpec, ns: string): string | undefined {
  for (let i = spec.index - 1; i >= 1; i--) {
    const prev = probes.find((p) => p.index === i);
    const text = prev && dumps.get(`${prev.id}.iptables.${ns}.txt`);
    if (text) return text;
  }
  return undefined;
}

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
}): SgCheck {
  const { verdict, x, vswitch, port } = a;
  const packetWord = x.packet === 'reply' ? 'reply' : 'request';
  const name = `${verdict} by security group ${x.group} at ${x.at} (${packetWord})`;
  if (a.after === undefined) {
    return { name, expected: `a rule of ${x.group} counts the ${packetWord}`, observed: `no iptables dump of ${vswitch} after the probe`, passed: false, evidence: [] };
  }
  const after = parseIptablesCounters(a.after);
  const before = parseIptablesCounters(a.before ?? '');
  const was = new Map(before.rules.map((r) => [r.key, r.pkts]));
  const moved = after.rules.map((r) => ({ r, d: r.pkts - (was.get(r.key) ?? 0) })).filter((m) => m.d > 0 && isGroupRule(m.r));
  const myChains = after.jumps.filter((j) => j.port === port);
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
    ...[...hits, ...elsewhere].slice(0, 6).map((m) => `${vswitch}: [${m.r.pkts}:${m.r.bytes}] ${m.r.text}  (+${m.d} in this probe)`),
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

/** Every probe of a scenario dumps the filter counters of every vSwitch a verdict names, so
 *  that each probe has the previous probe's counters as its baseline. */
export function securityGroupDumps(probes: ProbeSpec[]): void {
  const objects = new Set<string>();
  for (const p of probes) {
    const e = p.probe.expect;
    for (const v of [...(e.droppedBy ? [e.droppedBy] : []), ...(e.admittedBy ?? [])]) objects.add(v.at.split(':')[0]!);
  }
  for (const p of probes) {
    for (const o of objects) if (!p.dumps.some((d) => d.kind === 'iptables' && d.object === o)) p.dumps.push({ kind: 'iptables', object: o });
  }
}
