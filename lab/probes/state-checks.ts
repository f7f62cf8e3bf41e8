// Checks on kernel and routing-daemon state read right after a probe: which iptables rules counted
// the probe's packets (iptables-save -c), BGP sessions and routes as BIRD reports them (birdc),
// kernel routes (ip route), and veth pairing (ip -d link: ifindex / @ifN). Each produces a Check
// with what was expected, what was observed and the dumped lines that decided it; nothing here
// reads the plan to decide an outcome.
import type { ProbeSpec } from '../contract.ts';
import { calicoGlobalPeerName, calicoMeshPeerName, calicoNodePeerName, birdSymbol, parseBirdProtocols, parseBirdRoutes } from '../families/calico/bgp/index.ts';
import type { BgpSessionExpect, IptablesExpect, Probe, RouteExpect, Topology, VethPeerExpect } from '../model.ts';
import type { Plan } from '../plan.ts';
import { resolveAddress } from '../topology/load.ts';
import type { Check, Evidence } from './analyze.ts';
import { resolveIfaceRef } from './analyze.ts';

type Dump = { kind: string; object: string };

/** The state dumps a probe's expectations need (taken by the agent right after the probe). */
export function stateDumps(p: Probe): Dump[] {
  const out: Dump[] = [];
  const add = (kind: string, object: string) => {
    if (!out.some((d) => d.kind === kind && d.object === object)) out.push({ kind, object });
  };
  for (const x of p.expect.iptables ?? []) add('iptables', x.node);
  for (const x of p.expect.bgpSessions ?? []) add('bird', x.router);
  for (const x of p.expect.routes ?? []) {
    if (x.learnedFrom || x.absent) add('bird', x.router);
    if (x.via || x.dev || x.type || x.proto || x.absent || !x.learnedFrom) add('route', x.router);
  }
  for (const x of p.expect.vethPeer ?? []) for (const ref of [x.at, x.peer]) add('link', ref.slice(0, ref.indexOf(':')));
  return out;
}

/**
 * Counters are cumulative: a probe's share is its dump minus the previous probe's dump of the same
 * node. So once any probe checks a node's counters, every probe of the scenario dumps them.
 */
export function withCounterBaselines(probes: ProbeSpec[]): void {
  const nodes = new Set(probes.flatMap((p) => (p.probe.expect.iptables ?? []).map((x) => x.node)));
  for (const p of probes) {
    for (const n of nodes) if (!p.dumps.some((d) => d.kind === 'iptables' && d.object === n)) p.dumps.push({ kind: 'iptables', object: n });
  }
}

function nsOf(plan: Plan, object: string): string {
  return plan.namespaces.find((n) => n.object === object)?.ns ?? `<no namespace ${object}>`;
}

/** The probe's dump of KIND in OBJECT, else the final one. */
function dumpText(ev: Evidence, plan: Plan, spec: ProbeSpec, kind: string, object: string): string | undefined {
  const ns = nsOf(plan, object);
  return ev.dumps.get(`${spec.id}.${kind}.${ns}.txt`) ?? ev.dumps.get(`final.${kind}.${ns}.txt`);
}

// ---- iptables counters ------------------------------------------------------------------------
export interface CountedRule {
  table: string;
  chain: string;
  pos: number; // 1-based within the chain
  packets: number;
  bytes: number;
  text: string; // "-A CHAIN …" without the counters
  target?: string;
}

/** Parses `iptables-save -c`: every rule with its packet and byte counters. */
export function parseIptablesSaveCounters(text: string): CountedRule[] {
  const out: CountedRule[] = [];
  let table = '';
  const pos = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1).trim();
      continue;
    }
    const m = /^\[(\d+):(\d+)\] (-A (\S+).*)$/.exec(line);
    if (!m) continue;
    const chain = m[4]!;
    const k = `${table}|${chain}`;
    const n = (pos.get(k) ?? 0) + 1;
    pos.set(k, n);
    const target = /\s-[jg] (\S+)/.exec(m[3]!)?.[1];
    out.push({ table, chain, pos: n, packets: Number(m[1]), bytes: Number(m[2]), text: m[3]!, target });
  }
  return out;
}

interface RuleDelta extends CountedRule {
  delta: number;
}

function withDeltas(now: CountedRule[], before: CountedRule[] | undefined): RuleDelta[] {
  const prev = new Map((before ?? []).map((r) => [`${r.table}|${r.chain}|${r.pos}|${r.text}`, r.packets]));
  return now.map((r) => ({ ...r, delta: r.packets - (prev.get(`${r.table}|${r.chain}|${r.pos}|${r.text}`) ?? 0) }));
}

const matchesName = (want: string, name: string | undefined) =>
  !!name && (want.endsWith('*') ? name.startsWith(want.slice(0, -1)) : name === want);

function previousIptables(ev: Evidence, plan: Plan, spec: ProbeSpec, probes: ProbeSpec[], object: string): string | undefined {
  const ns = nsOf(plan, object);
  const earlier = probes.filter((p) => p.index < spec.index).sort((a, b) => b.index - a.index);
  for (const p of earlier) {
    const t = ev.dumps.get(`${p.id}.iptables.${ns}.txt`);
    if (t !== undefined) return t;
  }
  return undefined; // the first probe: counters started at zero with the restore
}

const ruleLine = (r: RuleDelta) => `+${r.delta} [${r.packets}:${r.bytes}] ${r.text}`;

export function iptablesChecks(topo: Topology, plan: Plan, probes: ProbeSpec[], ev: Evidence, spec: ProbeSpec, x: IptablesExpect, answeredBy?: string): Check[] {
  const checks: Check[] = [];
  const name = `iptables on ${x.node} (${x.table}): ${x.path.join(' → ')}`;
  const text = ev.dumps.get(`${spec.id}.iptables.${nsOf(plan, x.node)}.txt`);
  if (text === undefined) {
    return [{ name, expected: 'counters of every hop increased', observed: 'no iptables-save -c dump after the probe', passed: false, evidence: [] }];
  }
  const prevText = previousIptables(ev, plan, spec, probes, x.node);
  const rules = withDeltas(parseIptablesSaveCounters(text), prevText === undefined ? undefined : parseIptablesSaveCounters(prevText)).filter((r) => r.table === x.table);
  const podByIp = new Map(topo.cluster.pods.map((p) => [p.ip, p.name]));
  let current = new Set([x.path[0]!]);
  const hops: string[] = [x.path[0]!];
  const evidence: string[] = [];
  const dnats: string[] = [];
  let failed: string | undefined;
  for (let i = 1; i < x.path.length && !failed; i++) {
    const want = x.path[i]!;
    const from = rules.filter((r) => current.has(r.chain));
    const hit = from.filter((r) => matchesName(want, r.target) && r.delta > 0);
    if (!hit.length) {
      const cands = from.filter((r) => matchesName(want, r.target));
      failed = cands.length
        ? `no packet counted by ${[...current].join('/')} → ${want} (${cands.length} such rule${cands.length > 1 ? 's' : ''}, counters unchanged)`
        : `${[...current].join('/')} has no rule jumping to ${want}`;
      evidence.push(...(cands.length ? cands : from).slice(0, 6).map(ruleLine));
      break;
    }
    evidence.push(...hit.map(ruleLine));
    const per = hit.map((r) => {
      const to = /--to-destination (\S+)/.exec(r.text)?.[1];
      if (to) {
        const pod = podByIp.get(to.split(':')[0]!);
        dnats.push(to);
        return `${r.target} +${r.delta}${to ? ` to ${to}${pod ? ` (${pod})` : ''}` : ''}${r.target !== 'DNAT' ? ` in ${r.chain}` : ''}`;
      }
      return `${r.target} +${r.delta}`;
    });
    hops.push(per.join(' | '));
    current = new Set(hit.map((r) => r.target!));
  }
  let passed = !failed;
  let observed = failed ?? hops.join(' → ');
  const answerIp = answeredBy ? topo.cluster.pods.find((p) => p.name === answeredBy)?.ip : undefined;
  if (passed && answerIp && dnats.length && spec.mode === 'single' && !dnats.some((d) => d.split(':')[0] === answerIp)) {
    passed = false;
    observed += `; but ${answeredBy} (${answerIp}) answered, which no counted DNAT chose`;
  }
  if (prevText === undefined) evidence.push('(counters since the rules were restored: this is the scenario\'s first probe)');
  checks.push({ name, expected: 'a counted packet on every hop', observed, passed, evidence });

  if (x.probabilities) {
    const sepAt = x.path.findIndex((p) => p.startsWith('KUBE-SEP-'));
    const chain = sepAt > 0 ? x.path[sepAt - 1]! : x.path.at(-2)!;
    const lb = rules.filter((r) => r.chain === chain && /--probability/.test(r.text));
    const got = lb.map((r) => Number(/--probability (\S+)/.exec(r.text)![1]));
    const want = [...x.probabilities];
    const ok = got.length === want.length && got.every((g, i) => Math.abs(g - want[i]!) < 1e-6);
    checks.push({
      name: `statistic probabilities in ${chain} on ${x.node}`,
      expected: want.join(', '),
      observed: got.length ? lb.map((r) => /--probability (\S+)/.exec(r.text)![1]).join(', ') : 'no statistic rule',
      passed: ok,
      evidence: rules.filter((r) => r.chain === chain).map(ruleLine),
    });
  }
  return checks;
}

// ---- BIRD: sessions and routes ------------------------------------------------------------------
function birdSections(text: string): { protocols: string; routes: string } {
  const i = text.indexOf('# show route all');
  return i < 0 ? { protocols: text, routes: '' } : { protocols: text.slice(0, i), routes: text.slice(i + '# show route all'.length) };
}

function bgpAddress(topo: Topology, object: string): string | undefined {
  return topo.cluster.nodes.find((n) => n.name === object)?.ip ?? topo.cluster.routers.find((r) => r.name === object)?.ip;
}

/** Protocol names a session with `peer` may carry: a router's label, or Calico's Node_/Global_/Mesh_<ip>. */
function peerProtocolNames(topo: Topology, peer: string): string[] {
  const ip = bgpAddress(topo, peer);
  return [birdSymbol(peer), ...(ip ? [calicoNodePeerName(ip), calicoGlobalPeerName(ip), calicoMeshPeerName(ip)] : [])];
}

/** First BIRD start and this speaker's convergence, from the agent's events. */
function convergence(ev: Evidence, ns: string): string | undefined {
  let first: number | undefined;
  let done: number | undefined;
  for (const line of ev.events.split('\n')) {
    const f = line.split('\t');
    if (f[1] === 'daemon-start' && f[2]?.startsWith('bird-')) first = Math.min(first ?? Infinity, Number(f[0]));
    if (f[1] === 'bgp-converged' && f[2] === ns) done = Number(f[0]);
  }
  if (first === undefined || done === undefined) return undefined;
  return `converged ${(done - first).toFixed(2)} s after the first BIRD started`;
}

export function bgpSessionChecks(topo: Topology, plan: Plan, ev: Evidence, spec: ProbeSpec, x: BgpSessionExpect): Check {
  const name = `BGP sessions of ${x.router}${x.peer ? ` with ${x.peer}` : ''}`;
  const text = dumpText(ev, plan, spec, 'bird', x.router);
  const expected = x.established ? 'Established' : 'not Established';
  if (text === undefined) return { name, expected, observed: 'no birdc dump', passed: false, evidence: [] };
  const { protocols } = birdSections(text);
  const bgp = parseBirdProtocols(protocols).filter((p) => p.proto === 'BGP');
  const names = x.peer ? peerProtocolNames(topo, x.peer) : undefined;
  const sel = names ? bgp.filter((p) => names.includes(p.name)) : bgp;
  const est = (p: (typeof bgp)[number]) => p.state === 'up' && /^Established\b/.test(p.info);
  const lines = protocols.split('\n').filter((l) => /\bBGP\b/.test(l)).map((l) => l.trim());
  const conv = convergence(ev, nsOf(plan, x.router));
  if (!sel.length) return { name, expected, observed: names ? `no BGP protocol named ${names.join(' / ')}` : 'no BGP protocol', passed: false, evidence: lines };
  const allEst = sel.every(est);
  const noneEst = sel.every((p) => !est(p));
  return {
    name,
    expected,
    observed: `${sel.map((p) => `${p.name} ${p.state} ${p.info}`.trim()).join('; ')}${conv ? ` (${conv})` : ''}`,
    passed: x.established ? allEst : noneEst,
    evidence: lines,
  };
}

/** The route block (header and detail lines) BIRD printed for `prefix`. */
function birdRouteLines(text: string, prefix: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  for (const line of text.split('\n')) {
    // Header lines start in column 0; details and further routes for the same prefix are indented.
    if (/^\S/.test(line)) inBlock = line.startsWith(`${prefix} `);
    if (inBlock && line.trim()) out.push(line.replace(/\t/g, '  ').trimEnd());
  }
  return out;
}

export interface KernelRouteLine {
  prefix: string;
  type: string;
  via?: string;
  dev?: string;
  proto?: string;
  scope?: string;
  table?: string;
  raw: string;
}

/** Parses `ip route show table all` (text): main-table routes and the table of the others. */
export function parseIpRouteText(text: string): KernelRouteLine[] {
  const out: KernelRouteLine[] = [];
  const TYPES = new Set(['unicast', 'blackhole', 'unreachable', 'prohibit', 'local', 'broadcast', 'throw', 'multicast', 'anycast', 'nat']);
  for (const raw of text.split('\n')) {
    const w = raw.trim().split(/\s+/);
    if (!w[0]) continue;
    let i = 0;
    const type = TYPES.has(w[0]) ? w[i++]! : 'unicast';
    const dst = w[i++];
    if (!dst) continue;
    const kv = (k: string) => {
      const j = w.indexOf(k, i);
      return j >= 0 ? w[j + 1] : undefined;
    };
    out.push({
      prefix: dst === 'default' ? '0.0.0.0/0' : dst.includes('/') ? dst : `${dst}/32`,
      type, via: kv('via'), dev: kv('dev'), proto: kv('proto'), scope: kv('scope'), table: kv('table') ?? 'main', raw: raw.trim(),
    });
  }
  return out;
}

export function routeChecks(topo: Topology, plan: Plan, ev: Evidence, spec: ProbeSpec, x: RouteExpect): Check[] {
  const checks: Check[] = [];
  const wantsKernel = !!(x.via || x.dev || x.type || x.proto || x.absent || !x.learnedFrom);
  if (x.learnedFrom || x.absent) {
    const name = `BIRD table of ${x.router}: ${x.prefix}${x.learnedFrom ? ` learned from ${x.learnedFrom}` : ''}`;
    const text = dumpText(ev, plan, spec, 'bird', x.router);
    if (text === undefined) {
      checks.push({ name, expected: x.absent ? 'no route' : 'a BGP route', observed: 'no birdc dump', passed: false, evidence: [] });
    } else {
      const { routes } = birdSections(text);
      const all = parseBirdRoutes(routes).filter((r) => r.prefix === x.prefix);
      const best = all.find((r) => r.primary) ?? all[0];
      const lines = birdRouteLines(routes, x.prefix);
      if (x.absent) {
        checks.push({ name, expected: 'no route', observed: all.length ? `${all.length} route(s), best from ${best!.protocol}` : 'no route', passed: all.length === 0, evidence: lines });
      } else {
        const peerIp = bgpAddress(topo, x.learnedFrom!);
        const isBgp = !!best && (best.origin !== null || Object.keys(best.attrs).some((k) => k.startsWith('BGP.')));
        const asPath = best?.attrs['BGP.as_path'];
        checks.push({
          name,
          expected: `best route learned over BGP from ${x.learnedFrom} (${peerIp})`,
          observed: best
            ? `best route from protocol ${best.protocol}${best.fromPeer ? `, neighbour ${best.fromPeer}` : ''}${best.via.length ? `, next hop ${best.via.join(', ')}` : ''}${asPath !== undefined ? `, AS path "${asPath}"` : ''}${isBgp ? '' : ' (not a BGP route)'}`
            : 'no route',
          passed: !!best && isBgp && best.fromPeer === peerIp,
          evidence: lines,
        });
      }
    }
  }
  if (wantsKernel) {
    const parts: string[] = [];
    if (x.type) parts.push(x.type);
    if (x.via) parts.push(`via ${x.via}`);
    if (x.dev) parts.push(`dev ${x.dev}`);
    if (x.proto) parts.push(`proto ${x.proto}`);
    const name = `kernel route on ${x.router}: ${x.prefix}${parts.length ? ` ${parts.join(' ')}` : ''}`;
    const text = dumpText(ev, plan, spec, 'route', x.router);
    if (text === undefined) {
      checks.push({ name, expected: x.absent ? 'no route' : 'route', observed: 'no ip route dump', passed: false, evidence: [] });
      return checks;
    }
    const main = parseIpRouteText(text).filter((r) => r.table === 'main' && r.prefix === x.prefix);
    if (x.absent) {
      checks.push({ name, expected: 'no route', observed: main.length ? main.map((r) => r.raw).join('; ') : 'no route', passed: main.length === 0, evidence: main.map((r) => r.raw) });
      return checks;
    }
    const viaIp = x.via ? resolveAddress(x.via, topo).ip : undefined;
    const devs = x.dev ? resolveIfaceRef(plan, `${x.router}:${x.dev}`).map((r) => r.ifname) : undefined;
    const ok = (r: KernelRouteLine) => (!x.type || r.type === x.type) && (!viaIp || r.via === viaIp) && (!devs || devs.includes(r.dev ?? null)) && (!x.proto || r.proto === x.proto);
    const hit = main.find(ok);
    const expected = [x.type ?? 'a route', viaIp ? `via ${viaIp}` : '', devs ? `dev ${devs.join('/')}` : '', x.proto ? `proto ${x.proto}` : ''].filter(Boolean).join(' ');
    checks.push({ name, expected, observed: hit ? hit.raw : main.length ? `only: ${main.map((r) => r.raw).join('; ')}` : 'no route', passed: !!hit, evidence: main.map((r) => r.raw) });
  }
  return checks;
}

// ---- veth pairing -------------------------------------------------------------------------------
export interface LinkLine {
  ifindex: number;
  name: string;
  peerIndex?: number;
  linkNetns?: string;
  raw: string;
}

/** Parses `ip -d link show`: "13: cali1087c975dd9@if4: <…> … link-netns NAME". */
export function parseIpLink(text: string): LinkLine[] {
  const out: LinkLine[] = [];
  let cur: LinkLine | undefined;
  for (const line of text.split('\n')) {
    const m = /^(\d+): ([^:@\s]+)(?:@if(\d+)|@(\S+))?: /.exec(line);
    if (m) {
      cur = { ifindex: Number(m[1]), name: m[2]!, peerIndex: m[3] ? Number(m[3]) : undefined, raw: line.trim() };
      out.push(cur);
      continue;
    }
    const ns = /link-netns (\S+)/.exec(line);
    if (cur && ns) cur.linkNetns = ns[1];
  }
  return out;
}

export function vethPeerCheck(plan: Plan, ev: Evidence, spec: ProbeSpec, x: VethPeerExpect): Check {
  const name = `veth pairing: ${x.at} ↔ ${x.peer}`;
  const side = (ref: string) => {
    const r = resolveIfaceRef(plan, ref)[0]!;
    const text = dumpText(ev, plan, spec, 'link', r.object) ?? '';
    return { ...r, ns: nsOf(plan, r.object), link: parseIpLink(text).find((l) => l.name === r.ifname) };
  };
  const a = side(x.at);
  const z = side(x.peer);
  const desc = (s: typeof a) => (s.link ? `${s.object}: ${s.link.name} is ifindex ${s.link.ifindex}, peer @if${s.link.peerIndex ?? '?'}${s.link.linkNetns ? ` in ${s.link.linkNetns}` : ''}` : `${s.object}: no interface ${s.ifname}`);
  const passed = !!a.link && !!z.link && a.link.peerIndex === z.link.ifindex && z.link.peerIndex === a.link.ifindex
    && (!a.link.linkNetns || a.link.linkNetns === z.ns) && (!z.link.linkNetns || z.link.linkNetns === a.ns);
  return {
    name,
    expected: `${x.at}'s peer is ${x.peer} (each one's @ifN is the other's ifindex)`,
    observed: `${desc(a)}; ${desc(z)}`,
    passed,
    evidence: [a.link?.raw, z.link?.raw].filter((s): s is string => !!s),
  };
}

/** Every state expectation of a probe, in the order the scenario file lists its kinds. */
export function stateChecks(topo: Topology, compiled: { plan: Plan; probes: ProbeSpec[] }, ev: Evidence, spec: ProbeSpec, answeredBy?: string): Check[] {
  const e = spec.probe.expect;
  const { plan, probes } = compiled;
  return [
    ...(e.iptables ?? []).flatMap((x) => iptablesChecks(topo, plan, probes, ev, spec, x, answeredBy)),
    ...(e.bgpSessions ?? []).map((x) => bgpSessionChecks(topo, plan, ev, spec, x)),
    ...(e.routes ?? []).flatMap((x) => routeChecks(topo, plan, ev, spec, x)),
    ...(e.vethPeer ?? []).map((x) => vethPeerCheck(plan, ev, spec, x)),
  ];
}
