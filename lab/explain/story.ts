// A probe's story, built once from its evidence and used by `explain` and by every picture:
// each captured hop with how the packet got there (wire, ipvlan or VLAN switching, a tc redirect,
// forwarding through a stack), every address rewrite before → after with the object that did it
// (an IPVS entry, an iptables rule whose counter this probe moved, the tc eBPF program and its
// map entry), and one verdict (lab/explain/verdict.ts). Nothing here decides a packet's fate: it
// reads captures, counters and tables the agent took.
import type { Compiled } from '../compile.ts';
import type { Topology } from '../model.ts';
import type { Plan } from '../plan.ts';
import type { Hop, ProbeResult } from '../checks/analyze.ts';
import { stackObjects } from '../checks/walk.ts';
import { readEvidence, type Evidence } from '../evidence/read.ts';
import { ebpfFrontend, ipvsTable, movedRules, quoteRule, type ProbeEvidence } from './evidence.ts';
import { tcOn } from './tc.ts';
import { verdictOf, type Verdict } from './verdict.ts';

export type RewriteBy = 'IPVS' | 'DNAT' | 'SNAT' | 'MASQUERADE' | 'eBPF' | 'unknown';

export interface Rewrite {
  object: string;
  field: 'src' | 'dst';
  before: string;
  after: string;
  by: RewriteBy;
  /** The table entry or rule that did it, quoted from the dumps (or why none could be named). */
  rule: string;
  /** Where the capture cannot see it: "before the tap on centos:eth0 (tc egress)". */
  note?: string;
}

export interface Step {
  hop: Hop;
  /** How the packet got to this hop from the previous one. */
  how: string;
  /** The object that decided it (a wire, a tc filter, a security-group rule), when one is named. */
  decidedBy?: string;
  rewrites: Rewrite[];
}

export interface Story {
  probe: string;
  from: string;
  to: string;
  target: string;
  reachable: boolean;
  verdict: Verdict;
  request: Step[];
  reply: Step[];
  /** The reply crossed interfaces the request did not (or the other way round). */
  replyDiffers: boolean;
  stacks: string[];
}

const ifaceOf = (plan: Plan, h: { object: string; ifname: string }) => plan.interfaces.find((i) => i.object === h.object && i.name === h.ifname);
const isEdge = (plan: Plan, a: Hop, b: Hop) => plan.edges.some((e) => e.from.object === a.object && e.from.name === a.ifname && e.from.dir === a.dir && e.to.object === b.object && e.to.name === b.ifname && e.to.dir === b.dir);

/** The parent (object/ifname) an ipvlan slave transmits through, from the plan's wire edges. */
export function ipvlanParent(plan: Plan, object: string, ifname: string): string | undefined {
  const d = ifaceOf(plan, { object, ifname });
  if (d?.kind === 'vlan') return d.lower;
  if (d?.kind !== 'ipvlan') return undefined;
  if (d.parent) return `${object}/${d.parent}`;
  const e = plan.edges.find((x) => x.from.object === object && x.from.name === ifname && x.from.dir === 'Out' && x.to.dir === 'Out');
  return e ? `${e.to.object}/${e.to.name}` : undefined;
}

/** How the packet went from hop a to hop b. */
function transition(plan: Plan, a: Hop, b: Hop): { how: string; decidedBy?: string } {
  const da = ifaceOf(plan, a);
  const db = ifaceOf(plan, b);
  const at = (h: Hop) => `${h.object}:${h.ifname}`;
  if (a.dir === 'Out' && b.dir === 'In' && a.object !== b.object) {
    if (da?.kind === 'veth' && da.peer?.object === b.object) return { how: `over the veth pair ${at(a)} ⇄ ${at(b)}`, decidedBy: 'veth pair' };
    if (da?.kind === 'ipvlan' && db?.kind === 'ipvlan') return { how: `ipvlan switched it between slaves of ${ipvlanParent(plan, a.object, a.ifname) ?? 'one parent'}, below IP`, decidedBy: 'ipvlan (L2) switching by destination address' };
    if (da?.kind === 'ipvlan' || db?.kind === 'ipvlan') return { how: 'ipvlan slave ⇄ its parent', decidedBy: 'ipvlan' };
    return { how: `wire ${at(a)} → ${at(b)}` };
  }
  if (a.dir === 'Out' && b.dir === 'Out') {
    if (da?.kind === 'vlan') return { how: `802.1Q: ${at(a)} tags it VID ${da.vid} and sends it out through its parent ${da.lower?.replace('/', ':')}`, decidedBy: `VLAN sub-interface (VID ${da.vid})` };
    if (da?.kind === 'ipvlan') return { how: `the ipvlan slave ${at(a)} transmits through its parent ${at(b)}`, decidedBy: 'ipvlan slave → parent' };
    return { how: `${at(a)} → ${at(b)}` };
  }
  if (a.dir === 'Out' && b.dir === 'In' && a.object === b.object) {
    const red = tcOn(plan, a.object, a.ifname, 'egress', 'u32').find((f) => f.what.includes(`redirect to ${b.ifname} `));
    if (red) return { how: `tc on ${at(a)} (egress) redirected it into ${at(b)}`, decidedBy: `tc u32 filter: ${red.what}` };
    return { how: `looped back from ${at(a)} into ${at(b)}` };
  }
  if (a.dir === 'In' && b.dir === 'In') {
    if (db?.kind === 'vlan') return { how: `802.1Q: VID ${db.vid} demultiplexed from ${at(a)} to the sub-interface ${at(b)}`, decidedBy: `VLAN sub-interface (VID ${db.vid})` };
    if (db?.kind === 'ipvlan') return { how: `the ipvlan parent ${at(a)} handed it to its slave ${at(b)}, below IP`, decidedBy: 'ipvlan (L2) switching by destination address' };
    return { how: `${at(a)} → ${at(b)}` };
  }
  // In → Out in one namespace: a forwarding decision of that IP stack (or a wire edge such as a
  // bridge port or a redirect).
  if (isEdge(plan, a, b)) return { how: `${at(a)} → ${at(b)} below IP` };
  return { how: `forwarded by ${a.object}'s IP stack (route lookup), in by ${a.ifname}, out by ${b.ifname}` };
}

/** Who rewrote the destination inside OBJECT: IPVS, a DNAT rule whose counter moved, or unknown. */
function dstRewrite(pe: ProbeEvidence, object: string, before: string, after: string, port: number): Rewrite {
  const base = { object, field: 'dst' as const, before, after };
  const vs = ipvsTable(pe, object)?.find((s) => s.vip === before && s.backends.some((b) => b.ip === after));
  if (vs) return { ...base, by: 'IPVS', rule: `IPVS ${vs.raw.split('\n').map((l) => l.trim()).join(' | ')}` };
  const moved = movedRules(pe, object);
  const dnat = moved?.filter((r) => r.table === 'nat' && r.target === 'DNAT' && new RegExp(`--to-destination ${after.replace(/\./g, '\\.')}(:|\\s|$)`).test(r.text));
  if (dnat?.length) return { ...base, by: 'DNAT', rule: dnat.map(quoteRule).join(' | ') };
  return { ...base, by: 'unknown', rule: moved ? `no IPVS entry or DNAT counter of ${object} names ${before}${port ? `:${port}` : ''} → ${after}` : `no table dump of ${object} was taken after this probe` };
}

function srcRewrite(pe: ProbeEvidence, object: string, before: string, after: string): Rewrite {
  const base = { object, field: 'src' as const, before, after };
  const moved = movedRules(pe, object);
  const nat = moved?.filter((r) => r.table === 'nat' && (r.target === 'MASQUERADE' || r.target === 'SNAT'));
  if (nat?.length) return { ...base, by: nat[0]!.target as 'MASQUERADE' | 'SNAT', rule: nat.map(quoteRule).join(' | ') };
  return { ...base, by: 'unknown', rule: moved ? `no MASQUERADE or SNAT counter of ${object} moved` : `no iptables dump of ${object} was taken after this probe` };
}

/** A translation the client's own tc egress eBPF program made before the capture tap. */
function ebpfRewrite(pe: ProbeEvidence, topo: Topology, first: Hop, targetIp: string, port: number): Rewrite | undefined {
  if (first.dst === targetIp) return undefined;
  const prog = tcOn(pe.plan, first.object, first.ifname, 'egress', 'ebpf')[0];
  if (!prog) return undefined;
  const node = topo.cluster.pods.find((p) => p.name === first.object)?.node;
  const fe = ebpfFrontend(pe, [...(node ? [node] : []), first.object], targetIp, port);
  const be = fe?.backends.find((b) => b.ip === first.dst);
  const rule = fe
    ? `tc egress ${prog.what} on ${first.object}:${first.ifname}: lb4_services_v2 ${targetIp}:${port} (rev-NAT id ${fe.revNatId}) → ${be ? `lb4_backends #${be.id ?? '?'} ${be.ip}:${be.port}` : `none of its ${fe.backends.length} backend(s) is ${first.dst}`} (maps dumped on ${fe.dumpedOn})`
    : `tc egress ${prog.what} on ${first.object}:${first.ifname} (no dump of the service maps holds ${targetIp}:${port})`;
  return { object: first.object, field: 'dst', before: targetIp, after: first.dst, by: 'eBPF', rule, note: `tc egress runs before the capture tap on ${first.object}:${first.ifname}` };
}

/** The reply's source as the client's socket saw it, restored after the tap by tc ingress eBPF. */
function ebpfReverse(pe: ProbeEvidence, topo: Topology, last: Hop, targetIp: string, port: number): Rewrite | undefined {
  if (last.src === targetIp) return undefined;
  const prog = tcOn(pe.plan, last.object, last.ifname, 'ingress', 'ebpf')[0];
  if (!prog) return undefined;
  const node = topo.cluster.pods.find((p) => p.name === last.object)?.node;
  const fe = ebpfFrontend(pe, [...(node ? [node] : []), last.object], targetIp, port);
  return {
    object: last.object, field: 'src', before: last.src, after: targetIp, by: 'eBPF',
    rule: `tc ingress ${prog.what} on ${last.object}:${last.ifname}: lb4_reverse_nat${fe ? ` id ${fe.revNatId}` : ''} → ${targetIp}:${port}`,
    note: `tc ingress runs after the capture tap on ${last.object}:${last.ifname}`,
  };
}

/** A reply rewrite that undoes one of the request's: the connection's own NAT entry reversed. */
function reverseOf(done: Rewrite[], object: string, field: 'src' | 'dst', before: string, after: string): Rewrite | undefined {
  const orig = done.find((w) => w.object === object && w.field !== field && w.after === before && w.before === after);
  if (!orig) return undefined;
  const how = orig.by === 'IPVS' ? 'IPVS connection entry' : orig.by === 'eBPF' ? 'eBPF reverse-NAT entry' : 'conntrack entry';
  return { object, field, before, after, by: orig.by, rule: `the ${how} of this connection reverses the request's ${orig.by} (${orig.before} → ${orig.after})` };
}

function steps(pe: ProbeEvidence, hops: Hop[], port: number, requestRewrites: Rewrite[] = []): Step[] {
  return hops.map((h, i) => {
    const prev = hops[i - 1];
    const s: Step = { hop: h, how: prev ? '' : 'sent', rewrites: [] };
    if (!prev) return s;
    Object.assign(s, transition(pe.plan, prev, h));
    if (prev.object === h.object && prev.dir === 'In' && h.dir === 'Out') {
      if (prev.dst !== h.dst) s.rewrites.push(reverseOf(requestRewrites, h.object, 'dst', prev.dst, h.dst) ?? dstRewrite(pe, h.object, prev.dst, h.dst, port));
      if (prev.src !== h.src) s.rewrites.push(reverseOf(requestRewrites, h.object, 'src', prev.src, h.src) ?? srcRewrite(pe, h.object, prev.src, h.src));
      const admitted = (movedRules(pe, h.object) ?? []).filter((r) => r.table === 'filter' && /^security group /.test(r.comment ?? '') && r.target === 'RETURN' && !/stateful/.test(r.comment ?? ''));
      if (admitted.length) s.decidedBy = `admitted by ${[...new Set(admitted.map((r) => `"${r.comment}"`))].join(', ')} (counter +${admitted[0]!.delta})`;
    }
    return s;
  });
}

const ifaceSet = (hs: Hop[]) => new Set(hs.map((h) => `${h.object}:${h.ifname}`));

export function storyOf(topo: Topology, compiled: Compiled, ev: Evidence, r: ProbeResult): Story {
  const spec = compiled.probes.find((p) => p.id === r.id)!;
  const pe: ProbeEvidence = { ev, plan: compiled.plan, probes: compiled.probes, spec };
  const request = steps(pe, r.path, spec.dstPort);
  const first = request[0];
  if (first) {
    const bpf = ebpfRewrite(pe, topo, first.hop, spec.dstIp, spec.dstPort);
    if (bpf) first.rewrites.push(bpf);
    else if (first.hop.dst !== spec.dstIp) first.rewrites.push(dstRewrite(pe, first.hop.object, spec.dstIp, first.hop.dst, spec.dstPort));
  }
  const reply = steps(pe, r.replyPath, spec.dstPort, request.flatMap((x) => x.rewrites));
  const last = reply.at(-1);
  if (last && last.hop.object === spec.from && last.hop.dir === 'In' && r.reachable) {
    const back = ebpfReverse(pe, topo, last.hop, spec.dstIp, spec.dstPort);
    if (back) last.rewrites.push(back);
  }
  const a = ifaceSet(r.path);
  const b = ifaceSet(r.replyPath);
  return {
    probe: r.name, from: r.from, to: r.to, target: r.target, reachable: r.reachable,
    verdict: verdictOf(topo, pe, r),
    request, reply,
    replyDiffers: r.replyPath.length > 0 && ([...a].some((x) => !b.has(x)) || [...b].some((x) => !a.has(x))),
    stacks: [...stackObjects(compiled.plan, r.path)],
  };
}

/** Every probe's story from a job directory's evidence. */
export function stories(topo: Topology, compiled: Compiled, jobDir: string, results: ProbeResult[]): Story[] {
  const ev = readEvidence(jobDir, compiled.plan);
  return results.map((r) => storyOf(topo, compiled, ev, r));
}
