// The topology picture as Graphviz DOT: every namespace a table of its interfaces (so interface
// names never float as edge labels and cannot overlap), every link drawn port to port — veth pairs
// solid, ipvlan slaves dashed to their parent ENI, 802.1Q sub-interfaces dotted to their lower
// device — kube-ipvs0 as the dummy it is, tc programs as badges on the interface they are attached
// to, and a legend. A run's request path is drawn over it in red, a reply that takes another way in
// blue, a drop as a red mark on the namespace that dropped it. Layout: Graphviz (HTML-like labels,
// https://graphviz.org/doc/info/shapes.html#html).
import type { Hop } from '../checks/analyze.ts';
import type { Story } from '../explain/story.ts';
import { ipvlanParent } from '../explain/story.ts';
import { tcFilters } from '../explain/tc.ts';
import type { IfaceDecl, Plan } from '../plan.ts';
import { COLOURS } from './path.ts';

export interface Overlay {
  request: Hop[];
  reply?: Hop[]; // drawn only where it differs from the request
  drop?: { object: string; by: string };
}

export function overlayOf(s: Story | undefined): Overlay {
  if (!s) return { request: [] };
  return {
    request: s.request.map((x) => x.hop),
    reply: s.replyDiffers ? s.reply.map((x) => x.hop) : undefined,
    drop: s.verdict.kind === 'dropped' ? { object: s.verdict.object, by: s.verdict.by } : undefined,
  };
}

interface Edge {
  a: { object: string; name: string };
  b: { object: string; name: string };
  kind: 'veth' | 'ipvlan' | 'vlan';
}

const end = (x: string) => ({ object: x.slice(0, x.indexOf('/')), name: x.slice(x.indexOf('/') + 1) });

/** Every link of the build: veth pairs once, each ipvlan slave and VLAN sub-interface to its lower device. */
export function topologyEdges(plan: Plan): Edge[] {
  const out: Edge[] = [];
  for (const i of plan.interfaces) {
    if (i.peer && !out.some((e) => e.kind === 'veth' && e.b.object === i.object && e.b.name === i.name)) out.push({ a: { object: i.object, name: i.name }, b: i.peer, kind: 'veth' });
    if (i.kind === 'ipvlan' || i.kind === 'vlan') {
      const lower = ipvlanParent(plan, i.object, i.name);
      // A lower device in the same namespace is named in the row ("VLAN 1001 on eth1"), not drawn.
      if (lower && end(lower).object !== i.object) out.push({ a: { object: i.object, name: i.name }, b: end(lower), kind: i.kind });
    }
  }
  return out;
}

/** Edges the hops crossed: consecutive hops on an edge's two ends, or two slaves of one parent. */
function crossed(plan: Plan, edges: Edge[], hops: Hop[]): Set<number> {
  const used = new Set<number>();
  const is = (e: { object: string; name: string }, h: Hop) => e.object === h.object && e.name === h.ifname;
  for (let i = 0; i + 1 < hops.length; i++) {
    const x = hops[i]!;
    const y = hops[i + 1]!;
    if (x.object === y.object && x.ifname === y.ifname) continue;
    const k = edges.findIndex((e) => (is(e.a, x) && is(e.b, y)) || (is(e.a, y) && is(e.b, x)));
    if (k >= 0) {
      used.add(k);
      continue;
    }
    const px = ipvlanParent(plan, x.object, x.ifname);
    if (px && px === ipvlanParent(plan, y.object, y.ifname)) {
      edges.forEach((e, j) => {
        if ((is(e.a, x) || is(e.a, y)) && `${e.b.object}/${e.b.name}` === px) used.add(j);
      });
    }
  }
  return used;
}

const h = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const nid = (o: string) => `"${o.replace(/"/g, '')}"`;
const port = (name: string) => `p_${name.replace(/[^A-Za-z0-9]/g, '_')}`;
const FILL: Record<string, string> = { node: '#dbe9f6', pod: '#e8f5e0', vswitch: '#eeeeee', router: '#eeeeee', slb: '#fff2cc', client: '#f3e5f5' };

function ifaceRow(plan: Plan, d: IfaceDecl, onPath: boolean): string {
  const badges = tcFilters(plan).filter((f) => f.object === d.object && f.dev === d.name)
    .map((f) => `<FONT COLOR="${f.kind === 'ebpf' ? COLOURS.ebpf : '#8c564b'}">◆ tc ${f.dir} ${h(f.kind === 'ebpf' ? `eBPF ${f.what}` : `u32 ${f.what}`)}</FONT>`);
  const lower = d.kind === 'vlan' || d.kind === 'ipvlan' ? ipvlanParent(plan, d.object, d.name) : undefined;
  const on = lower && end(lower).object === d.object ? ` on ${end(lower).name}` : '';
  const what = d.kind === 'vlan' ? `VLAN ${d.vid}${on}` : d.kind === 'ipvlan' ? `ipvlan${on}` : d.kind === 'dummy' ? (d.name === 'kube-ipvs0' ? 'dummy: IPVS service VIPs' : 'dummy') : d.kind;
  const alias = d.aliases.length ? ` <FONT COLOR="#666666">${h(d.aliases.join(', '))}</FONT>` : '';
  const label = `<B>${h(d.name)}</B> <FONT POINT-SIZE="9" COLOR="#555555">${h(what)}</FONT>${alias}`;
  const bg = onPath ? ` BGCOLOR="#fde0dd"` : '';
  // One row per badge: lines of one cell are spaced by Graphviz's metrics, which a browser's may exceed.
  return `<TR><TD PORT="${port(d.name)}" ALIGN="LEFT"${bg}>${label}</TD></TR>${badges.map((b) => `<TR><TD ALIGN="LEFT"${bg}>${b}</TD></TR>`).join('')}`;
}

/**
 * Groups for a picture: each node with the pods hanging on it (veth pairs, ipvlan slaves, VLAN
 * sub-interfaces; a pod is placed once), the cloud fabric, the rest.
 */
export function objectGroups(plan: Plan, edges: Edge[] = topologyEdges(plan)): { title: string; objects: string[] }[] {
  const kind = (o: string) => plan.namespaces.find((n) => n.object === o)?.kind;
  const placed = new Set<string>();
  const out: { title: string; objects: string[] }[] = [];
  for (const n of plan.namespaces.filter((x) => x.kind === 'node')) {
    const pods = edges.flatMap((e) => (e.a.object === n.object && kind(e.b.object) === 'pod' ? [e.b.object] : e.b.object === n.object && kind(e.a.object) === 'pod' ? [e.a.object] : []));
    const objs = [n.object, ...new Set(pods.filter((p) => !placed.has(p)))];
    objs.forEach((o) => placed.add(o));
    out.push({ title: n.object, objects: objs });
  }
  const fabric = plan.namespaces.filter((n) => ['vswitch', 'router', 'slb'].includes(n.kind) && !placed.has(n.object)).map((n) => n.object);
  fabric.forEach((o) => placed.add(o));
  if (fabric.length) out.push({ title: 'cloud fabric', objects: fabric });
  const rest = plan.namespaces.filter((n) => !placed.has(n.object)).map((n) => n.object);
  if (rest.length) out.push({ title: '', objects: rest });
  return out;
}

const LEGEND = `<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2">
<TR><TD COLSPAN="2"><B>legend</B></TD></TR>
<TR><TD ALIGN="LEFT">━━ veth pair</TD><TD ALIGN="LEFT">╌╌ ipvlan slave → parent ENI</TD></TR>
<TR><TD ALIGN="LEFT">┈┈ 802.1Q sub-interface → lower</TD><TD ALIGN="LEFT"><FONT COLOR="${COLOURS.ebpf}">◆ tc eBPF program</FONT> <FONT COLOR="#8c564b">◆ tc u32 redirect</FONT></TD></TR>
<TR><TD ALIGN="LEFT"><FONT COLOR="${COLOURS.request}"><B>━━ request path</B></FONT></TD><TD ALIGN="LEFT"><FONT COLOR="${COLOURS.reply}"><B>╌╌ reply, where it takes another way</B></FONT></TD></TR>
<TR><TD ALIGN="LEFT"><FONT COLOR="${COLOURS.drop}"><B>✗ dropped here</B></FONT> · <FONT COLOR="#c0392b">interface on the path</FONT></TD><TD ALIGN="LEFT"><TABLE BORDER="0" CELLSPACING="2"><TR><TD BGCOLOR="${'#dbe9f6'}">node</TD><TD BGCOLOR="${'#e8f5e0'}">pod</TD><TD BGCOLOR="${'#eeeeee'}">vSwitch, router</TD><TD BGCOLOR="${'#fff2cc'}">SLB</TD><TD BGCOLOR="${'#f3e5f5'}">client</TD></TR></TABLE></TD></TR>
</TABLE>>`;

export function topologyDot(plan: Plan, ov: Overlay = { request: [] }): string {
  const edges = topologyEdges(plan);
  const req = crossed(plan, edges, ov.request);
  const rep = crossed(plan, edges, ov.reply ?? []);
  const onPath = new Set([...ov.request, ...(ov.reply ?? [])].map((x) => `${x.object}/${x.ifname}`));
  const kind = (o: string) => plan.namespaces.find((n) => n.object === o)?.kind ?? 'node';
  const out = ['graph lab {', '  rankdir=LR; nodesep=0.3; ranksep=0.9; fontname="Helvetica"; fontsize=11; splines=true;',
    '  node [shape=plain,fontname="Helvetica",fontsize=10]; edge [fontname="Helvetica",fontsize=9,color="#555555"];'];
  objectGroups(plan, edges).forEach((g, i) => {
    if (g.title) out.push(`  subgraph cluster_${i} { label="${h(g.title)}"; style="dashed,rounded"; color="#999999";`);
    for (const o of g.objects) {
      const ifs = plan.interfaces.filter((d) => d.object === o);
      const drop = ov.drop?.object === o ? `<TR><TD BGCOLOR="#fde0dd" ALIGN="LEFT"><FONT COLOR="${COLOURS.drop}"><B>✗ dropped:</B> ${h(ov.drop.by.length > 90 ? `${ov.drop.by.slice(0, 87)}…` : ov.drop.by)}</FONT></TD></TR>` : '';
      out.push(`    ${nid(o)} [label=<<TABLE BORDER="${ov.drop?.object === o ? 2 : 1}" COLOR="${ov.drop?.object === o ? COLOURS.drop : '#777777'}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" BGCOLOR="${FILL[kind(o)] ?? '#ffffff'}">`
        + `<TR><TD ALIGN="LEFT"><B>${h(o)}</B> <FONT POINT-SIZE="9">${h(kind(o))}</FONT></TD></TR>${ifs.map((d) => ifaceRow(plan, d, onPath.has(`${o}/${d.name}`))).join('')}${drop}</TABLE>>];`);
    }
    if (g.title) out.push('  }');
  });
  edges.forEach((e, i) => {
    const style = e.kind === 'ipvlan' ? 'dashed' : e.kind === 'vlan' ? 'dotted' : 'solid';
    const hot = req.has(i) ? `,color="${COLOURS.request}",penwidth=3` : rep.has(i) ? `,color="${COLOURS.reply}",penwidth=3` : '';
    out.push(`  ${nid(e.a.object)}:${port(e.a.name)} -- ${nid(e.b.object)}:${port(e.b.name)} [style=${style}${hot}];`);
  });
  out.push(`  legend [label=${LEGEND}];`, '}');
  return out.join('\n') + '\n';
}
