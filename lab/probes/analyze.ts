// From raw evidence (captures, probe results, table dumps) to checks: each expectation of the
// scenario file becomes a check with what was expected, what was observed, pass/fail and the
// evidence (packet lines, table lines) that decided it. Nothing here decides reachability or a
// path by itself: it reads what the kernel did.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Compiled, ProbeSpec } from '../contract.ts';
import { sourcePort } from '../contract.ts';
import type { CaptureExpect, ObjectKind, Topology } from '../model.ts';
import type { IfaceDecl, Plan } from '../plan.ts';
import { resolveAddress } from '../topology/load.ts';
import { describePacket, isSyn, isSynAck, parseTcpdump, type Packet } from './capture.ts';
import { parseConntrack, parseIpvsadm } from './tables.ts';
import { baselineDump, sgVerdictCheck } from './security-groups.ts';
import { stateChecks } from './state-checks.ts';
import { checksumCheck, ebpfLbCheck } from './ebpf-checks.ts';
import { packetsFromPcapng } from '../evidence/pcapng.ts';

export interface Check {
  name: string;
  expected: string;
  observed: string;
  passed: boolean;
  evidence: string[];
}

export interface Attempt {
  n: number;
  t0: number;
  t1: number;
  rc: number;
  reply: string;
  sport: number;
}

export interface Hop {
  object: string;
  kind: ObjectKind | 'unknown';
  ifname: string;
  dir: 'In' | 'Out';
  src: string;
  dst: string;
  vlan?: number;
  label: string; // "obj:ifname" with the alias when there is one
}

export interface ProbeResult {
  id: string;
  name: string;
  from: string;
  to: string;
  target: string;
  reachable: boolean;
  answeredBy?: string;
  attempts: Attempt[];
  path: Hop[];
  replyPath: Hop[];
  /** Every packet captured during the probe, per interface (for reports; at most 200 each). */
  captures?: { iface: string; lines: string[] }[];
  stacks: number;
  checks: Check[];
  bulk?: { total: number; answered: number; perBackend: Record<string, number> };
}

export interface Evidence {
  packets: Packet[];
  probesOut: string;
  dumps: Map<string, string>; // file name → text
  bulk: Map<string, string>;
  events: string;
}

export function readEvidence(jobDir: string, plan: Plan): Evidence {
  const out = path.join(jobDir, 'out');
  const read = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const packets: Packet[] = [];
  const pcapng = path.join(out, 'capture.pcapng');
  if (existsSync(pcapng)) packets.push(...packetsFromPcapng(readFileSync(pcapng)));
  else for (const n of plan.namespaces) packets.push(...parseTcpdump(read(path.join(out, 'capture', `${n.ns}.txt`)), n.object));
  packets.sort((a, b) => a.ts - b.ts);
  const dumps = new Map<string, string>();
  const dumpDir = path.join(out, 'dump');
  if (existsSync(dumpDir)) for (const f of readdirSync(dumpDir)) dumps.set(f, read(path.join(dumpDir, f)));
  const bulk = new Map<string, string>();
  if (existsSync(out)) for (const f of readdirSync(out).filter((x) => x.startsWith('bulk-'))) bulk.set(f, read(path.join(out, f)));
  return { packets, probesOut: read(path.join(out, 'probes.out')), dumps, bulk, events: read(path.join(out, 'events.tsv')) };
}

function attemptsOf(ev: Evidence, spec: ProbeSpec): Attempt[] {
  return ev.probesOut.split('\n').map((l) => l.split('\t')).filter((f) => f[0] === spec.id && f[1] !== 'bulk').map((f) => ({
    n: Number(f[1]), t0: Number(f[2]), t1: Number(f[3]), rc: Number(f[4]), reply: f[5] ?? '', sport: sourcePort(spec.index, Number(f[1])),
  }));
}

/**
 * The capture window of a probe: from its start to half a second after its end (late FIN/ACKs),
 * but never into the next probe's window, so that probes need no pause between them.
 */
function probeWindow(ev: Evidence, spec: ProbeSpec): [number, number] {
  let a = 0;
  let z = Number.MAX_SAFE_INTEGER;
  let next = Number.MAX_SAFE_INTEGER;
  for (const line of ev.events.split('\n')) {
    const f = line.split('\t');
    if (f[1] === 'probe-start' && f[2] === spec.id) a = Number(f[0]);
    else if (f[1] === 'probe-start' && a && z !== Number.MAX_SAFE_INTEGER && next === Number.MAX_SAFE_INTEGER) next = Number(f[0]);
    if (f[1] === 'probe-end' && f[2] === spec.id) z = Number(f[0]);
  }
  return [a, Math.min(z + 0.5, next)];
}

// ---- interface references ------------------------------------------------------------------
export function fabricKind(k: ObjectKind | undefined): boolean {
  return k === 'vswitch' || k === 'router' || k === 'slb';
}

function kindOf(plan: Plan, object: string): ObjectKind | 'unknown' {
  return plan.namespaces.find((n) => n.object === object)?.kind ?? 'unknown';
}

function ifaceLabel(plan: Plan, object: string, ifname: string): string {
  const d = plan.interfaces.find((x) => x.object === object && x.name === ifname);
  // All the names it answers to: an ENI carrying two pods is eni(a) and eni(b).
  return d?.aliases.length ? `${object}:${ifname} [${d.aliases.join(', ')}]` : `${object}:${ifname}`;
}

/** The (object, ifname) pairs a reference stands for; null = any interface of the object. */
export function resolveIfaceRef(plan: Plan, ref: string): { object: string; ifname: string | null }[] {
  if (ref === 'vpc') return plan.namespaces.filter((n) => fabricKind(n.kind)).map((n) => ({ object: n.object, ifname: null }));
  const i = ref.indexOf(':');
  const object = ref.slice(0, i);
  const name = ref.slice(i + 1);
  if (name === '*') return [{ object, ifname: null }];
  const byAlias = plan.interfaces.filter((d: IfaceDecl) => d.object === object && d.aliases.includes(name));
  if (byAlias.length) return byAlias.map((d) => ({ object, ifname: d.name }));
  if (/\(|^primary$/.test(name)) return [{ object, ifname: `<no interface answers to ${name}>` }];
  return [{ object, ifname: name }];
}

function matchesRef(plan: Plan, ref: string, p: { object: string; ifname: string }): boolean {
  return resolveIfaceRef(plan, ref).some((r) => r.object === p.object && (r.ifname === null || r.ifname === p.ifname));
}

// ---- the capture walk ---------------------------------------------------------------------
/**
 * Follows one packet (all captures share its TCP sequence number, which NAT keeps) from where
 * it first left, hop by hop: after an Out, only across a wire (veth peer, ipvlan/vlan parent,
 * an explicit redirect edge); after an In, anywhere in the same namespace (forwarding,
 * local delivery then a new transmit by IPVS, a VLAN child). The earliest candidate wins.
 */
export function walk(plan: Plan, pkts: Packet[], start: Packet): Packet[] {
  const key = (p: { object: string; ifname: string; dir: string }) => `${p.object}|${p.ifname}|${p.dir}`;
  const edges = new Map<string, string[]>();
  for (const e of plan.edges) {
    const k = `${e.from.object}|${e.from.name}|${e.from.dir}`;
    edges.set(k, [...(edges.get(k) ?? []), `${e.to.object}|${e.to.name}|${e.to.dir}`]);
  }
  const seen = new Set<string>([key(start)]);
  const path = [start];
  let cur = start;
  for (;;) {
    const targets = new Set(edges.get(key(cur)) ?? []);
    const next = pkts
      .filter((p) => p.ts >= cur.ts - 1e-6 && !seen.has(key(p)))
      .filter((p) => targets.has(key(p)) || (cur.dir === 'In' && p.object === cur.object))
      .sort((a, b) => a.ts - b.ts || (targets.has(key(b)) ? 1 : 0) - (targets.has(key(a)) ? 1 : 0))[0];
    if (!next) return path;
    seen.add(key(next));
    path.push(next);
    cur = next;
  }
}

function toHops(plan: Plan, pkts: Packet[]): Hop[] {
  const hops: Hop[] = pkts.map((p) => ({
    object: p.object, kind: kindOf(plan, p.object), ifname: p.ifname, dir: p.dir, src: p.src, dst: p.dst, vlan: p.vlan,
    label: ifaceLabel(plan, p.object, p.ifname),
  }));
  // tcpdump -i any (LINUX_SLL2) prints no 802.1Q tag: a hop on a VLAN parent (a trunk ENI or its
  // vSwitch port) takes the VID of the VLAN child the packet came from (Out) or goes to (In).
  hops.forEach((h, i) => {
    const nb = h.dir === 'Out' ? hops[i - 1] : hops[i + 1];
    const d = nb && plan.interfaces.find((x) => x.object === nb.object && x.name === nb.ifname && x.kind === 'vlan');
    if (h.vlan === undefined && d?.vid !== undefined && d.lower === `${h.object}/${h.ifname}`) h.vlan = d.vid;
  });
  return hops;
}

/** Cluster hops as "obj:ifname", fabric runs collapsed to "vpc"; consecutive repeats merged. */
export function pathTokens(hops: Hop[]): { token: string; hop?: Hop }[] {
  const out: { token: string; hop?: Hop }[] = [];
  for (const h of hops) {
    // A BGP router (top-of-rack, core: any router but the VPC's) is one hop, named "ROUTER:*".
    const bgpRouter = h.kind === 'router' && h.object !== 'vpc';
    const t = bgpRouter ? `${h.object}:*` : fabricKind(h.kind as ObjectKind) ? 'vpc' : `${h.object}:${h.ifname}`;
    if (out.at(-1)?.token !== t) out.push({ token: t, hop: fabricKind(h.kind as ObjectKind) && !bgpRouter ? undefined : h });
  }
  return out;
}

/**
 * The nodes and pods whose IP stack handled the packet: where it started or ended, and every
 * namespace in which it went from one interface to another through the stack rather than over a
 * wire edge. An ipvlan or VLAN parent hands frames to and from its slaves below the IP layer, so
 * a node the packet only crossed on such a parent (ENI in, pod slave in) is not a stack it went
 * through; with veths every intermediate node has an In and an Out joined by its stack.
 */
export function stackObjects(plan: Plan, hops: Hop[]): Set<string> {
  const wire = new Set(plan.edges.map((e) => `${e.from.object}|${e.from.name}|${e.from.dir}>${e.to.object}|${e.to.name}|${e.to.dir}`));
  const out = new Set<string>();
  hops.forEach((h, i) => {
    if (h.kind !== 'node' && h.kind !== 'pod') return;
    const next = hops[i + 1];
    if (i === 0 || i === hops.length - 1) out.add(h.object);
    else if (next && next.object === h.object && !wire.has(`${h.object}|${h.ifname}|${h.dir}>${next.object}|${next.ifname}|${next.dir}`)) out.add(h.object);
  });
  return out;
}

// ---- checks ---------------------------------------------------------------------------------
export function analyzeProbe(topo: Topology, compiled: Compiled, ev: Evidence, spec: ProbeSpec): ProbeResult {
  const { plan } = compiled;
  const e = spec.probe.expect;
  const checks: Check[] = [];
  const addr = (ref: string) => resolveAddress(ref, topo).ip;
  const podByIp = new Map(topo.cluster.pods.map((p) => [p.ip, p.name]));
  const result: ProbeResult = {
    id: spec.id, name: spec.probe.name, from: spec.from, to: spec.probe.to, target: `${spec.dstIp}:${spec.dstPort}`,
    reachable: false, attempts: [], path: [], replyPath: [], stacks: 0, checks,
  };

  if (spec.mode === 'bulk') {
    const text = ev.bulk.get(`bulk-${spec.id}.tsv`) ?? '';
    const per: Record<string, number> = {};
    let answered = 0;
    let total = 0;
    for (const line of text.split('\n')) {
      const f = line.split('\t');
      if (f.length < 2) continue;
      total++;
      const who = /pod=([a-z0-9-]+)/.exec(f[2] ?? '')?.[1];
      if (f[1] === '0' && who) {
        answered++;
        per[who] = (per[who] ?? 0) + 1;
      }
    }
    result.bulk = { total, answered, perBackend: per };
    result.reachable = answered > 0;
    if (e.reachable !== undefined) {
      checks.push({ name: 'reachable', expected: e.reachable ? 'yes' : 'no', observed: `${answered}/${total} connections answered`, passed: (answered === total && total > 0) === e.reachable, evidence: [] });
    }
    if (e.distribution) {
      for (const bk of e.distribution.backends) {
        const pct = total ? (100 * (per[bk] ?? 0)) / total : 0;
        checks.push({
          name: `share of ${bk}`, expected: `${e.distribution.minPercent}–${e.distribution.maxPercent} %`, observed: `${pct.toFixed(1)} % (${per[bk] ?? 0}/${total})`,
          passed: pct >= e.distribution.minPercent && pct <= e.distribution.maxPercent, evidence: Object.entries(per).map(([k, v]) => `${k}: ${v}`),
        });
      }
    }
    checks.push(...stateChecks(topo, compiled, ev, spec)); // iptables counters, BGP, routes, veth pairs
    return result;
  }

  const attempts = attemptsOf(ev, spec);
  result.attempts = attempts;
  const ok = attempts.filter((a) => a.rc === 0 && a.reply.trim() !== '');
  const chosen = (spec.want === '-' ? ok[0] : ok.find((a) => a.reply.includes(spec.want))) ?? ok.at(-1) ?? attempts.at(-1);
  result.reachable = ok.length > 0;
  result.answeredBy = chosen ? /pod=([a-z0-9-]+)/.exec(chosen.reply)?.[1] : undefined;
  const attemptLines = attempts.map((a) => `attempt ${a.n} from port ${a.sport}: ${a.rc === 0 ? (a.reply.trim() ? `answer "${a.reply.trim().slice(-60)}"` : 'connected, no answer') : `failed (status ${a.rc})`}`);

  // The request of the chosen attempt: its SYN leaving the client namespace.
  const [w0, w1] = probeWindow(ev, spec);
  const windowPkts = ev.packets.filter((p) => p.ts >= w0 && p.ts < w1);
  const perIface = new Map<string, string[]>();
  for (const p of windowPkts) {
    const k = ifaceLabel(plan, p.object, p.ifname);
    const l = perIface.get(k) ?? [];
    if (l.length < 200) l.push(`${p.ts.toFixed(6)} ${describePacket(p)}${p.seq !== undefined ? ` seq ${p.seq}` : ''}${p.ack !== undefined ? ` ack ${p.ack}` : ''}`);
    perIface.set(k, l);
  }
  result.captures = [...perIface].map(([iface, lines]) => ({ iface, lines }));
  const first = chosen && windowPkts.find((p) => p.object === spec.from && p.dir === 'Out' && isSyn(p) && p.sport === chosen.sport);
  const isn = first?.seq;
  const request = isn === undefined ? [] : windowPkts.filter((p) => isSyn(p) && p.seq === isn && p.ts <= first!.ts + 0.9);
  const reply = isn === undefined ? [] : windowPkts.filter((p) => isSynAck(p) && p.ack === (isn + 1) % 2 ** 32);
  if (first) {
    result.path = toHops(plan, walk(plan, request, first));
    const replyStart = reply[0];
    if (replyStart) result.replyPath = toHops(plan, walk(plan, reply, replyStart));
  }
  const stackObjs = stackObjects(plan, result.path);
  // The client's own namespace counts when it is part of the cluster (a pod or a node).
  result.stacks = stackObjs.size;
  const pathEvidence = result.path.map((h) => `${h.label} ${h.dir} ${h.src} > ${h.dst}${h.vlan !== undefined ? ` vlan ${h.vlan}` : ''}`);
  if (!first && chosen) pathEvidence.push(`no SYN from ${spec.from} with source port ${chosen.sport} was captured`);

  if (e.reachable !== undefined) {
    checks.push({ name: 'reachable', expected: e.reachable ? 'yes' : 'no', observed: result.reachable ? 'yes' : 'no', passed: result.reachable === e.reachable, evidence: attemptLines });
  }
  if (e.answeredBy ?? spec.probe.backend) {
    const want = (e.answeredBy ?? spec.probe.backend)!;
    checks.push({ name: 'answered by', expected: want, observed: result.answeredBy ?? '(nobody)', passed: result.answeredBy === want, evidence: attemptLines });
  }
  const captureCheck = (ce: CaptureExpect, want: boolean) => {
    const isReply = ce.packet === 'reply';
    const pool = isReply ? reply : request;
    const at = pool.filter((p) => matchesRef(plan, ce.at, p));
    const src = ce.src ? addr(ce.src) : undefined;
    const dst = ce.dst ? addr(ce.dst) : undefined;
    const hits = at.filter((p) => (!src || p.src === src) && (!dst || p.dst === dst));
    const what = `${isReply ? 'reply' : 'request'}${src || dst ? ` ${src ?? '*'} > ${dst ?? '*'}` : ''} at ${ce.at}`;
    checks.push({
      name: `${want ? 'seen' : 'not seen'}: ${what}`,
      expected: want ? 'captured' : 'not captured',
      observed: hits.length ? `captured ${hits.length}×` : at.length ? `captured only as ${[...new Set(at.map((p) => `${p.src} > ${p.dst}`))].join(', ')}` : 'not captured',
      passed: want ? hits.length > 0 : hits.length === 0,
      evidence: (hits.length ? hits : at).slice(0, 6).map(describePacket),
    });
  };
  for (const ce of e.seen) captureCheck(ce, true);
  for (const ce of e.notSeen) captureCheck(ce, false);
  for (const a of e.addressNeverSeen) {
    const ip = addr(a);
    const hits = windowPkts.filter((p) => p.src === ip || p.dst === ip);
    checks.push({
      name: `address ${a} (${ip}) on no interface`, expected: 'never captured', observed: hits.length ? `captured ${hits.length}× on ${[...new Set(hits.map((p) => `${p.object}:${p.ifname}`))].join(', ')}` : `never captured (${windowPkts.length} packets in the probe's window)`,
      passed: hits.length === 0 && windowPkts.length > 0, evidence: hits.slice(0, 6).map(describePacket),
    });
  }
  if (e.path) {
    const obs = pathTokens(result.path);
    const exp = e.path;
    const same = obs.length === exp.length && exp.every((ref, i) => (ref === 'vpc' ? obs[i]!.token === 'vpc' : !!obs[i]!.hop && matchesRef(plan, ref, obs[i]!.hop!)));
    checks.push({ name: 'path', expected: exp.join(' → '), observed: obs.map((o) => (o.hop ? (o.token.endsWith(':*') ? o.token : o.hop.label) : 'vpc')).join(' → ') || '(no capture)', passed: same, evidence: pathEvidence });
  }
  if (e.stacks !== undefined) {
    checks.push({ name: 'stacks crossed (nodes and pods)', expected: String(e.stacks), observed: `${result.stacks} (${[...stackObjs].join(', ')})`, passed: result.stacks === e.stacks, evidence: pathEvidence });
  }
  if (e.serverSees) {
    const want = addr(e.serverSees.src);
    const at = result.answeredBy ? request.filter((p) => p.object === result.answeredBy && p.dir === 'In') : [];
    checks.push({ name: `server ${result.answeredBy ?? '?'} sees source`, expected: want, observed: at[0]?.src ?? '(request not captured at the server)', passed: at[0]?.src === want, evidence: at.slice(0, 3).map(describePacket) });
  }
  for (const ct of e.conntrack) {
    const text = ev.dumps.get(`${spec.id}.conntrack.${plan.namespaces.find((n) => n.object === ct.node)!.ns}.txt`) ?? '';
    const entries = parseConntrack(text).filter((x) => x.proto === 'tcp');
    const dst = addr(ct.orig.dst);
    const dport = ct.orig.dport ?? (ct.orig.dst.startsWith('svc/') || ct.orig.dst.startsWith('slb/') ? resolveAddress(ct.orig.dst, topo).port : undefined) ?? spec.dstPort;
    const src = ct.orig.src ? addr(ct.orig.src) : undefined;
    const cands = entries.filter((x) => x.orig.dst === dst && (!src || x.orig.src === src) && (x.orig.dport === dport || ct.orig.dport === undefined));
    const pick = cands.find((x) => x.orig.sport === chosen?.sport) ?? cands.at(-1);
    const name = `conntrack on ${ct.node}: ${ct.orig.src ?? '*'} → ${ct.orig.dst}`;
    if (ct.absent) {
      checks.push({ name, expected: 'no entry', observed: cands.length ? `${cands.length} entr${cands.length > 1 ? 'ies' : 'y'}` : 'no entry', passed: cands.length === 0, evidence: cands.slice(0, 4).map((x) => x.raw) });
      continue;
    }
    const rs = ct.reply?.src ? addr(ct.reply.src) : undefined;
    const rd = ct.reply?.dst ? addr(ct.reply.dst) : undefined;
    const label = (ip: string) => (podByIp.get(ip) ? `${ip} (${podByIp.get(ip)})` : ip);
    checks.push({
      name,
      expected: `entry${rs || rd ? `, reply ${rs ? label(rs) : '*'} → ${rd ? label(rd) : '*'}` : ''}`,
      observed: pick ? `entry ${pick.orig.src}:${pick.orig.sport} → ${pick.orig.dst}:${pick.orig.dport}, reply ${label(pick.reply.src)} → ${label(pick.reply.dst)}` : 'no entry',
      passed: !!pick && (!rs || pick.reply.src === rs) && (!rd || pick.reply.dst === rd),
      evidence: (pick ? [pick.raw] : []).concat(cands.filter((x) => x !== pick).slice(0, 2).map((x) => x.raw)),
    });
  }
  for (const v of e.ipvs) {
    const text = ev.dumps.get(`${spec.id}.ipvs.${plan.namespaces.find((n) => n.object === v.node)!.ns}.txt`) ?? '';
    const r = resolveAddress(v.service, topo);
    const svc = parseIpvsadm(text).find((s) => s.vip === r.ip && s.port === r.port);
    const got = svc ? svc.backends.map((bk) => podByIp.get(bk.ip) ?? bk.ip).sort() : [];
    const want = [...v.backends].sort();
    checks.push({
      name: `IPVS on ${v.node}: ${v.service} (${r.ip}:${r.port})`,
      expected: want.length ? `real servers ${want.join(', ')}` : 'virtual server with no real server',
      observed: svc ? (got.length ? `real servers ${got.join(', ')}` : 'virtual server with no real server') : 'no virtual server',
      passed: !!svc && got.join(',') === want.join(','),
      evidence: svc ? svc.raw.split('\n') : text.split('\n').slice(0, 8),
    });
  }
  for (const x of e.ebpfLb ?? []) checks.push(ebpfLbCheck(topo, plan, ev, spec.id, x));
  if (e.checksums) checks.push(checksumCheck(request, reply, spec.from, result.answeredBy));
  checks.push(...stateChecks(topo, compiled, ev, spec, result.answeredBy)); // iptables counters, BGP, routes, veth pairs
  // Security-group verdicts: the kernel's rule counters in the vSwitch namespace + captures.
  const verdicts = [...(e.droppedBy ? [['dropped', e.droppedBy] as const] : []), ...(e.admittedBy ?? []).map((x) => ['admitted', x] as const)];
  for (const [verdict, x] of verdicts) {
    const r = resolveIfaceRef(plan, x.at)[0]!;
    const ns = plan.namespaces.find((n) => n.object === r.object)?.ns ?? r.object;
    checks.push(sgVerdictCheck({
      verdict, x, vswitch: r.object, port: r.ifname ?? '', pool: x.packet === 'reply' ? reply : request,
      before: baselineDump(ev.dumps, compiled.probes, spec, ns), after: ev.dumps.get(`${spec.id}.iptables.${ns}.txt`),
    }));
  }
  return result;
}

export function analyze(topo: Topology, compiled: Compiled, jobDir: string): ProbeResult[] {
  const ev = readEvidence(jobDir, compiled.plan);
  return compiled.probes.map((p) => analyzeProbe(topo, compiled, ev, p));
}
