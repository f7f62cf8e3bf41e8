// Topology diagrams with the observed path drawn over them: Mermaid (renders on GitHub) and
// Graphviz DOT (→ SVG with `dot -Tsvg`). Built from the plan — the namespaces and the links the
// build creates — so the picture is of what was built, not of what the file meant.
import { execFileSync } from 'node:child_process';
import type { Plan } from '../plan.ts';
import type { Hop } from '../checks/analyze.ts';
import { objectGroups, topologyDot, topologyEdges, type Overlay } from './topology.ts';
import { tcFilters } from '../explain/tc.ts';

interface Link {
  a: { object: string; name: string };
  b: { object: string; name: string };
}

/** One entry per veth pair (each pair is declared twice in the plan, once per end). */
export function links(plan: Plan): Link[] {
  const out: Link[] = [];
  for (const i of plan.interfaces) {
    if (!i.peer) continue;
    if (out.some((l) => l.b.object === i.object && l.b.name === i.name)) continue;
    out.push({ a: { object: i.object, name: i.name }, b: i.peer });
  }
  return out;
}

/** Indexes of links the request crossed, in order, from consecutive hops in different namespaces. */
export function pathLinks(plan: Plan, hops: Hop[]): number[] {
  const ls = links(plan);
  const used: number[] = [];
  for (let i = 0; i + 1 < hops.length; i++) {
    const x = hops[i]!;
    const y = hops[i + 1]!;
    if (x.object === y.object) continue;
    const k = ls.findIndex((l) => (l.a.object === x.object && l.a.name === x.ifname && l.b.object === y.object && l.b.name === y.ifname)
      || (l.b.object === x.object && l.b.name === x.ifname && l.a.object === y.object && l.a.name === y.ifname));
    if (k >= 0 && !used.includes(k)) used.push(k);
  }
  return used;
}

const id = (s: string) => `n_${s.replace(/[^A-Za-z0-9]/g, '_')}`;
const shape: Record<string, [string, string]> = {
  node: ['[', ']'], pod: ['([', '])'], vswitch: ['{{', '}}'], router: ['[[', ']]'], slb: ['[/', '/]'], client: ['((', '))'],
};

export function mermaid(plan: Plan, hops: Hop[] = []): string {
  const kind = (o: string) => plan.namespaces.find((n) => n.object === o)?.kind ?? 'node';
  const tc = tcFilters(plan);
  // Badges in the box: tc programs by interface, and kube-ipvs0 (the IPVS VIPs' dummy).
  const badges = (o: string) => [
    ...[...new Set(tc.filter((f) => f.object === o).map((f) => `◆ tc ${f.kind === 'ebpf' ? 'eBPF' : 'u32'} on ${f.dev}`))],
    ...plan.interfaces.filter((i) => i.object === o && i.name === 'kube-ipvs0').map(() => 'kube-ipvs0 (IPVS VIPs)'),
  ];
  const out = ['flowchart LR'];
  for (const g of objectGroups(plan)) {
    if (g.title) out.push(`  subgraph ${id(`g_${g.title}`)}["${g.title}"]`);
    for (const o of g.objects) {
      const [l, r] = shape[kind(o)] ?? ['[', ']'];
      out.push(`    ${id(o)}${l}"${[o, ...badges(o)].join('<br/>')}"${r}`);
    }
    if (g.title) out.push('  end');
  }
  const ls = links(plan);
  ls.forEach((k) => out.push(`  ${id(k.a.object)} ---|"${k.a.name} ⇄ ${k.b.name}"| ${id(k.b.object)}`));
  // ipvlan slaves and VLAN sub-interfaces in another namespace than their lower device: dashed.
  for (const e of topologyEdges(plan).filter((x) => x.kind !== 'veth')) {
    const d = plan.interfaces.find((i) => i.object === e.a.object && i.name === e.a.name);
    out.push(`  ${id(e.a.object)} -.-|"${e.a.name} ${e.kind === 'vlan' ? `VLAN ${d?.vid}` : 'ipvlan slave'} of ${e.b.name}"| ${id(e.b.object)}`);
  }
  const used = pathLinks(plan, hops);
  if (used.length) {
    out.push(`  linkStyle ${used.join(',')} stroke:#d62728,stroke-width:4px`);
  }
  if (hops.length) {
    const seq = hops.filter((h, i) => i === 0 || h.object !== hops[i - 1]!.object).map((h) => h.object);
    out.push(`  %% observed request path: ${seq.join(' → ')}`);
  }
  return out.join('\n') + '\n';
}

/** The topology as Graphviz DOT (lab/report/topology.ts), with the hops of a path over it. */
export function dot(plan: Plan, hops: Hop[] | Overlay = []): string {
  return topologyDot(plan, Array.isArray(hops) ? { request: hops } : hops);
}

/** SVG through Graphviz (Debian package graphviz). */
export function svg(plan: Plan, hops: Hop[] | Overlay = []): string {
  try {
    return execFileSync('dot', ['-Tsvg'], { input: dot(plan, hops), encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    throw new Error(`graphviz "dot" failed (apt-get install graphviz): ${(e as Error).message.split('\n')[0]}`);
  }
}
