// `lab explain ID`: the scenario's story — topology, the article's path, and for every hop the
// object that decided it, quoted from the running kernel (`ip route get`, `ip rule`, the IPVS
// table, iptables counters), then the observed path. The lab is brought up, probed, questioned
// while still up, and taken down.
import type { Compiled } from './compile.ts';
import type { Scenario, Topology } from './model.ts';
import { agentPhase, downLab, execCapture, upCompiled, type LabState } from './interactive.ts';
import { analyze, type Hop, type ProbeResult } from './checks/analyze.ts';
import type { RunnerName } from './runners/types.ts';
import { bold, dim, green, red } from './report/terminal.ts';
import { cidrContains } from './net.ts';

export function describeTopology(topo: Topology): string[] {
  const c = topo.cluster;
  const out = [`datapath ${c.datapath.kind}, service proxy ${c.serviceProxy.kind}`];
  for (const n of c.nodes) {
    const pods = c.pods.filter((p) => p.node === n.name);
    out.push(`node ${n.name} ${n.ip}: ENIs ${n.enis.map((e) => `${e.name}${e.primary ? ' (primary)' : ''}${e.trunk ? ' (trunk)' : ''} in ${e.vswitch}`).join(', ')}${pods.length ? `; pods ${pods.map((p) => `${p.name} ${p.ip}${p.eni ? ` on ${p.eni}` : ''}`).join(', ')}` : ''}`);
  }
  for (const s of c.services) out.push(`service ${s.namespace}/${s.name}: ClusterIP ${s.clusterIP}${s.externalIPs.length ? `, ExternalIP ${s.externalIPs.join(', ')} (${s.externalTrafficPolicy})` : ''}, ports ${s.ports.map((p) => `${p.port}→${p.targetPort}`).join(', ')}, endpoints ${s.endpoints.join(', ') || 'none'}`);
  for (const s of c.slbs) out.push(`SLB ${s.name}: ${s.vip}:${s.port} → ${s.backends.map((b) => `${b.pod}:${b.port}`).join(', ')}`);
  for (const x of c.clients) out.push(`external client ${x.name} ${x.ip}`);
  return out;
}

async function q(s: LabState, object: string, argv: string[]): Promise<string> {
  const r = await execCapture(s, object, argv);
  return r.out.trim();
}

/**
 * The first rule (in priority order) whose selector matches this lookup and whose table is the one
 * the kernel's answer came from: which rule decided. Selectors understood: from, to, iif.
 */
export function ruleFor(rules: string, table: string, src: string, dst: string, iif: string | undefined): string | undefined {
  const inPrefix = (sel: string, ip: string) => sel === 'all' || (sel.includes('/') ? cidrContains(sel, ip) : sel === ip);
  for (const line of rules.split('\n')) {
    const m = /^(\d+):\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const body = m[2]!;
    const from = /\bfrom (\S+)/.exec(body)?.[1] ?? 'all';
    const to = /\bto (\S+)/.exec(body)?.[1] ?? 'all';
    const ruleIif = /\biif (\S+)/.exec(body)?.[1];
    const t = /\blookup (\S+)/.exec(body)?.[1];
    if (!t || t === 'local') continue;
    if (!inPrefix(from, src) || !inPrefix(to, dst) || (ruleIif && ruleIif !== iif)) continue;
    if (t === table) return line.trim();
  }
  return undefined;
}

/** For one forwarding decision inside a namespace: what the kernel says about it. */
async function decide(s: LabState, compiled: Compiled, inHop: Hop, outHop: Hop): Promise<string[]> {
  const lines: string[] = [];
  const ns = inHop.object;
  const hasIpvs = compiled.plan.interfaces.some((i) => i.object === ns && i.name === 'kube-ipvs0');
  if (inHop.dst !== outHop.dst) {
    if (hasIpvs) {
      const vs = await q(s, ns, ['ipvsadm', '-Ln', '-t', `${inHop.dst}:${compiled.probes[0]?.dstPort ?? 80}`]);
      lines.push(`destination ${inHop.dst} → ${outHop.dst}: IPVS virtual server on kube-ipvs0:`, ...vs.split('\n').slice(3).map((l) => `    ${l.trim()}`));
    } else {
      const nat = await q(s, ns, [s.runner === 'uml' ? 'iptables-legacy-save' : 'iptables-save', '-t', 'nat']);
      const dnat = nat.split('\n').filter((l) => l.includes(`--to-destination ${outHop.dst}`));
      lines.push(`destination ${inHop.dst} → ${outHop.dst}: DNAT rule(s):`, ...dnat.slice(0, 3).map((l) => `    ${l}`));
    }
  }
  if (inHop.src !== outHop.src) {
    const nat = await q(s, ns, [s.runner === 'uml' ? 'iptables-legacy-save' : 'iptables-save', '-t', 'nat']);
    const masq = nat.split('\n').filter((l) => /MASQUERADE|SNAT/.test(l) && /^-A/.test(l));
    lines.push(`source ${inHop.src} → ${outHop.src}: source NAT in POSTROUTING:`, ...masq.slice(0, 3).map((l) => `    ${l}`));
  }
  // IPVS re-routes a translated packet with an *output* lookup (ip_route_me_harder): no input
  // interface, so a rule carrying `iif` cannot match it. A plain forward is an input lookup.
  const outputLookup = inHop.dst !== outHop.dst && hasIpvs;
  const argv = outputLookup ? ['ip', 'route', 'get', outHop.dst] : ['ip', 'route', 'get', outHop.dst, 'from', inHop.src, 'iif', inHop.ifname];
  const route = await q(s, ns, argv);
  const table = /\btable (\S+)/.exec(route)?.[1] ?? 'main';
  const rules = await q(s, ns, ['ip', 'rule', 'show']);
  const rule = ruleFor(rules, table, inHop.src, outHop.dst, outputLookup ? undefined : inHop.ifname);
  lines.push(`route (${outputLookup ? 'output lookup after IPVS' : 'input lookup'}): \`${argv.join(' ')}\` → ${route.split('\n')[0]!.trim()}`);
  if (rule) lines.push(`  decided by rule \`${rule}\``);
  if (outputLookup) {
    const skipped = rules.split('\n').filter((l) => l.includes(`from ${inHop.src}`) && /\biif /.test(l));
    for (const l of skipped) lines.push(`  not matched (output lookups have no iif): \`${l.trim()}\``);
  }
  const viaDev = / dev (\S+)/.exec(route)?.[1];
  if (viaDev && viaDev !== outHop.ifname) lines.push(red(`  note: the kernel's answer today names ${viaDev}, the packet was captured leaving by ${outHop.ifname}`));
  return lines;
}

export async function explain(topo: Topology, scenario: Scenario, runner: RunnerName | 'auto'): Promise<string> {
  const out: string[] = [bold(`${scenario.id}: ${scenario.title}`)];
  if (scenario.story) out.push('', scenario.story.trim());
  out.push('', bold('Topology'), ...describeTopology(topo).map((l) => `  ${l}`));
  const { state, compiled } = await upCompiled(topo, scenario, runner);
  try {
    const rc = await agentPhase(state, 'probe');
    if (rc !== 0) throw new Error(`the probes could not run (agent status ${rc})`);
    const results: ProbeResult[] = analyze(topo, compiled, state.jobDir);
    for (const r of results) {
      const expected = scenario.probes.find((p) => p.name === r.name)?.expect.path;
      out.push('', bold(`${r.name}: ${r.from} → ${r.to} (${r.target})`));
      if (expected) out.push(`  the article's path: ${expected.join(' → ')}`);
      out.push(`  reachable: ${r.reachable ? green('yes') : red('no')}${r.answeredBy ? `, answered by ${r.answeredBy}` : ''}; ${r.checks.filter((c) => c.passed).length}/${r.checks.length} expectations hold`);
      out.push('  hop by hop, as the kernel decides it:');
      const hops = r.path;
      for (let i = 0; i < hops.length; i++) {
        const h = hops[i]!;
        out.push(`  ${String(i + 1).padStart(2)}. ${h.label} ${h.dir} ${h.src} → ${h.dst} ${dim(`[${h.kind}]`)}`);
        const next = hops[i + 1];
        if (i === 0 && h.dir === 'Out') {
          const route = await q(state, h.object, ['ip', 'route', 'get', h.dst]);
          out.push(`      ${h.object} sends it: \`ip route get ${h.dst}\` → ${route.split('\n')[0]}`);
        }
        if (!next) {
          out.push(h.dir === 'In' ? `      delivered: ${h.dst} is ${h.object}'s own address` : '      not seen any further');
          continue;
        }
        if (h.dir === 'In' && next.object === h.object && next.dir === 'Out') {
          for (const l of await decide(state, compiled, h, next)) out.push(`      ${l}`);
        } else if (h.dir === 'Out' && next.object !== h.object) {
          const d = compiled.plan.interfaces.find((x) => x.object === h.object && x.name === h.ifname);
          const how = d?.kind === 'veth' ? 'veth pair' : d?.kind === 'ipvlan' ? 'ipvlan slave → its parent' : d?.kind === 'vlan' ? '802.1Q sub-interface → its trunk' : 'link';
          out.push(dim(`      ${how}: ${h.object}:${h.ifname} ⇄ ${next.object}:${next.ifname}`));
        }
      }
      if (r.replyPath.length) out.push(`  reply path: ${r.replyPath.filter((h, i, a) => i === 0 || h.object !== a[i - 1]!.object).map((h) => `${h.object}:${h.ifname}`).join(' → ')}`);
    }
  } finally {
    await downLab(state);
  }
  return out.join('\n') + '\n';
}
