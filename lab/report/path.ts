// The path picture of one probe, the articles' forwarding diagram drawn from the run's story:
// namespaces as lanes, each captured hop with interface, direction and src → dst, NAT rewrites
// highlighted with what did them, the reply in its own colour when it takes another way, a drop
// mark naming the dropper, the stacks crossed. Terminal (compact), Mermaid sequence diagram
// (renders on GitHub: https://mermaid.js.org/syntax/sequenceDiagram.html) and Graphviz DOT/SVG,
// where Graphviz does the layout (https://graphviz.org/doc/info/lang.html).
import { execFileSync } from 'node:child_process';
import type { Hop } from '../checks/analyze.ts';
import type { Rewrite, Step, Story } from '../explain/story.ts';
import { bold, dim, green, red } from './terminal.ts';

export const COLOURS = { request: '#d62728', reply: '#1f77b4', nat: '#ff7f0e', ebpf: '#9467bd', drop: '#d62728', ok: '#2ca02c' } as const;

const natColour = (w: Rewrite) => (w.by === 'eBPF' ? COLOURS.ebpf : COLOURS.nat);
const short = (w: Rewrite) => `${w.by}: ${w.field} ${w.before} → ${w.after}`;
/** The deciding entry, shortened for a picture (the full quote is in `explain`). */
function ruleShort(w: Rewrite): string {
  const r = w.rule.replace(/\s+/g, ' ');
  const comment = /--comment "([^"]+)"/.exec(r)?.[1];
  if (w.by === 'eBPF') {
    const prog = /tc (?:egress|ingress) \S+/.exec(r)?.[0] ?? 'tc eBPF';
    const entry = /(lb4_services_v2 \S+)[^→]*→ (lb4_backends #\d+ \S+)/.exec(r) ?? /(lb4_reverse_nat id \d+) → (\S+)/.exec(r);
    return entry ? `${prog}, ${entry[1]} → ${entry[2]}` : prog;
  }
  if (w.by === 'IPVS') return /IPVS (?:TCP|UDP)\s+\S+/.exec(r)?.[0] ?? (r.startsWith('the ') ? 'IPVS connection (reverse)' : r.slice(0, 60));
  return comment ? `rule "${comment.slice(0, 50)}"` : r.startsWith('the ') ? 'conntrack (reverse)' : (/-A (\S+)/.exec(r)?.[0] ?? r.slice(0, 60));
}

/** Lanes: every object in the order the request (then the reply) first reached it. */
export function lanes(s: Story): string[] {
  const out: string[] = [];
  for (const h of [...s.request, ...s.reply].map((x) => x.hop)) if (!out.includes(h.object)) out.push(h.object);
  return out;
}

const dropLabel = (s: Story) => (s.verdict.kind === 'dropped' ? `✗ dropped: ${s.verdict.by}` : s.verdict.kind === 'unknown' ? `? ${s.verdict.why}` : '');

// ---- terminal ------------------------------------------------------------------------------
export function pathTerminal(s: Story): string {
  const w = Math.max(...lanes(s).map((l) => l.length), 4);
  const line = (st: Step, arrow: string) => {
    const h = st.hop;
    const nat = st.rewrites.map((x) => (x.by === 'eBPF' ? '◆ ' : '★ ') + short(x)).join('; ');
    return `  ${h.object.padEnd(w)} ${arrow} ${(h.dir === 'Out' ? 'out ' : 'in  ') + h.ifname.padEnd(16)} ${h.src} → ${h.dst}${nat ? `  ${bold(nat)}` : ''}`;
  };
  const out = [`${bold(s.probe)}: ${s.from} → ${s.to} (${s.target})`];
  for (const st of s.request) out.push(line(st, '→'));
  if (s.verdict.kind === 'delivered') out.push(green(`  ${' '.repeat(w)} ✓ ${s.verdict.summary}`));
  else out.push(red(`  ${' '.repeat(w)} ${dropLabel(s)}`));
  if (s.reply.length && (s.replyDiffers || s.reply.some((x) => x.rewrites.length))) {
    out.push(dim(`  reply${s.replyDiffers ? ' (another way)' : ''}:`));
    for (const st of s.reply) out.push(line(st, '←'));
  }
  out.push(dim(`  stacks crossed: ${s.stacks.length} (${s.stacks.join(', ')})`));
  return out.join('\n');
}

// ---- Mermaid sequence diagram --------------------------------------------------------------
const mid = (o: string) => `p_${o.replace(/[^A-Za-z0-9]/g, '_')}`;
const mtext = (t: string) => t.replace(/[;#"]/g, ' ').replace(/\s+/g, ' ').trim();

function mermaidLeg(out: string[], steps: Step[], arrow: string, colour: string, title: string): void {
  out.push(`  rect ${hexToRgba(colour, 0.06)}`, `  Note over ${mid(steps[0]!.hop.object)}: ${mtext(title)}`);
  steps.forEach((st, i) => {
    const h = st.hop;
    const prev = steps[i - 1]?.hop;
    if (prev && prev.object !== h.object) out.push(`  ${mid(prev.object)}${arrow}${mid(h.object)}: ${mtext(`${prev.ifname} → ${h.ifname}  ${h.src} → ${h.dst}${h.vlan !== undefined ? ` vlan ${h.vlan}` : ''}`)}`);
    else if (!prev) out.push(`  Note right of ${mid(h.object)}: ${mtext(`${h.dir} ${h.ifname} ${h.src} → ${h.dst}`)}`);
    for (const w of st.rewrites) out.push(`  Note over ${mid(w.object)}: ${mtext(`${w.by === 'eBPF' ? '◆' : '★'} ${short(w)} by ${ruleShort(w)}`)}`);
  });
  out.push('  end');
}

function hexToRgba(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

export function pathMermaid(s: Story): string {
  const out = ['sequenceDiagram'];
  for (const l of lanes(s)) out.push(`  participant ${mid(l)} as ${l}`);
  if (!s.request.length) {
    out.push(`  Note over ${mid(s.from)}: ${mtext(dropLabel(s) || 'no capture')}`);
    return out.join('\n') + '\n';
  }
  mermaidLeg(out, s.request, '->>', COLOURS.request, `request ${s.from} → ${s.target}`);
  const last = s.request.at(-1)!.hop;
  if (s.verdict.kind === 'delivered') out.push(`  Note over ${mid(last.object)}: ${mtext(`✓ delivered at ${s.verdict.at}`)}`);
  else if (s.verdict.kind === 'dropped' && s.verdict.packet === 'request') out.push(`  ${mid(last.object)}-x${mid(s.verdict.object)}: ${mtext(`✗ ${s.verdict.by}`)}`);
  if (s.reply.length) {
    mermaidLeg(out, s.reply, s.replyDiffers ? '-->>' : '-->>', s.replyDiffers ? COLOURS.reply : '#999999', `reply${s.replyDiffers ? ' — another way than the request' : ''}`);
    if (s.verdict.kind === 'dropped' && s.verdict.packet === 'reply') out.push(`  ${mid(s.reply.at(-1)!.hop.object)}-x${mid(s.verdict.object)}: ${mtext(`✗ ${s.verdict.by}`)}`);
  }
  if (s.verdict.kind === 'unknown') out.push(`  Note over ${mid(last.object)}: ${mtext(`? ${s.verdict.why}`)}`);
  out.push(`  Note over ${mid(lanes(s)[0]!)}: ${mtext(`stacks crossed: ${s.stacks.length} (${s.stacks.join(', ')})`)}`);
  return out.join('\n') + '\n';
}

// ---- Graphviz ------------------------------------------------------------------------------
const q = (t: string) => `"${t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
const html = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One node per captured hop, in a cluster per namespace (the lanes); edges in packet order. */
export function pathDot(s: Story): string {
  const out = [`digraph path {`, '  rankdir=LR; newrank=true; nodesep=0.25; ranksep=0.35; fontname="Helvetica"; fontsize=12;',
    '  node [fontname="Helvetica",fontsize=10,shape=box,style="rounded,filled",fillcolor="#ffffff"]; edge [fontname="Helvetica",fontsize=9];',
    `  label=${q(`${s.probe}: ${s.from} → ${s.to} (${s.target}) — ${s.verdict.summary} — stacks crossed: ${s.stacks.length}`)}; labelloc=t;`];
  const nodeId = (leg: string, i: number) => `${leg}${i}`;
  const legs: [string, Step[], string][] = [['q', s.request, COLOURS.request]];
  if (s.reply.length && (s.replyDiffers || s.reply.some((x) => x.rewrites.length))) legs.push(['r', s.reply, COLOURS.reply]);
  const byLane = new Map<string, string[]>();
  for (const [leg, steps] of legs) {
    steps.forEach((st, i) => {
      const h: Hop = st.hop;
      const nat = st.rewrites.map((w) => `<BR/><FONT COLOR="${natColour(w)}"><B>${html(short(w))}</B><BR/>by ${html(ruleShort(w))}</FONT>`).join('');
      const label = `<<B>${html(h.ifname)}</B>&#160;${h.dir}${h.vlan !== undefined ? ` vlan ${h.vlan}` : ''}<BR/>${html(h.src)} → ${html(h.dst)}${nat}>`;
      const colour = st.rewrites.length ? natColour(st.rewrites[0]!) : leg === 'q' ? '#555555' : COLOURS.reply;
      const decl = `    ${nodeId(leg, i)} [label=${label},color="${colour}"${st.rewrites.length ? ',penwidth=2.5,fillcolor="#fff4e6"' : ''}];`;
      byLane.set(h.object, [...(byLane.get(h.object) ?? []), decl]);
    });
  }
  lanes(s).forEach((l, k) => {
    out.push(`  subgraph cluster_${k} { label=${q(`${l}${s.stacks.includes(l) ? '  (stack crossed)' : ''}`)}; style="rounded,filled"; fillcolor="${k % 2 ? '#f7f7f7' : '#eef4fb'}"; color="#bbbbbb";`);
    out.push(...(byLane.get(l) ?? []));
    if (s.verdict.kind === 'dropped' && s.verdict.object === l) out.push(`    drop [label=${q(`✗ dropped\n${s.verdict.by}`)},shape=octagon,style=filled,fillcolor="#fde0dd",color="${COLOURS.drop}",fontcolor="${COLOURS.drop}",penwidth=2];`);
    out.push('  }');
  });
  for (const [leg, steps, colour] of legs) {
    for (let i = 1; i < steps.length; i++) out.push(`  ${nodeId(leg, i - 1)} -> ${nodeId(leg, i)} [color="${colour}",penwidth=2${leg === 'r' ? ',style=dashed' : ''}];`);
  }
  if (s.verdict.kind === 'dropped') {
    const legSteps = s.verdict.packet === 'reply' ? ['r', s.reply] as const : ['q', s.request] as const;
    if (legSteps[1].length && (legSteps[0] === 'q' || legs.length > 1)) out.push(`  ${nodeId(legSteps[0], legSteps[1].length - 1)} -> drop [color="${COLOURS.drop}",penwidth=2,arrowhead=tee];`);
  } else if (s.verdict.kind === 'delivered' && s.request.length) {
    out.push(`  ok [label=${q(`✓ delivered at ${s.verdict.at}`)},shape=note,style=filled,fillcolor="#e5f5e0",color="${COLOURS.ok}"];`, `  ${nodeId('q', s.request.length - 1)} -> ok [color="${COLOURS.ok}",style=dotted,arrowhead=none];`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}

export function pathSvg(s: Story): string {
  try {
    return execFileSync('dot', ['-Tsvg'], { input: pathDot(s), encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (e) {
    throw new Error(`graphviz "dot" failed (apt-get install graphviz): ${(e as Error).message.split('\n')[0]}`);
  }
}
