// The capture walk: one packet followed from interface to interface through every namespace's
// capture, the hops it made, the IP stacks it crossed — and the interface references
// (OBJECT:IFNAME, NODE:cali(POD), vpc …) that expectations name hops with.
import type { Packet } from '../evidence/tcpdump.ts';
import type { ObjectKind } from '../model.ts';
import type { IfaceDecl, Plan } from '../plan.ts';
import type { Hop } from './types.ts';

function fabricKind(k: ObjectKind | undefined): boolean {
  return k === 'vswitch' || k === 'router' || k === 'slb';
}

function kindOf(plan: Plan, object: string): ObjectKind | 'unknown' {
  return plan.namespaces.find((n) => n.object === object)?.kind ?? 'unknown';
}

export function ifaceLabel(plan: Plan, object: string, ifname: string): string {
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

export function matchesRef(plan: Plan, ref: string, p: { object: string; ifname: string }): boolean {
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

export function toHops(plan: Plan, pkts: Packet[]): Hop[] {
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
